package sparkplug_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// broker is an in-process MQTT broker (mochi) on an ephemeral port of
// 127.0.0.1. Stop and Start restart it on the same address, without
// persistence.
type broker struct {
	mu   sync.Mutex // guards addr and srv
	addr string
	srv  *mochi.Server // nil while stopped
}

func newBroker(t testing.TB) *broker {
	t.Helper()
	b := &broker{addr: "127.0.0.1:0"}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	return b
}

func (b *broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return err
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: b.addr})
	if err := srv.AddListener(l); err != nil {
		return fmt.Errorf("listen on %s: %w", b.addr, err)
	}
	if err := srv.Serve(); err != nil {
		return err
	}
	b.addr = l.Address()
	b.srv = srv
	return nil
}

func (b *broker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

func (b *broker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return "tcp://" + b.addr
}

// publish is a sparkplugtest.Publish through the inline client, QoS 1.
func (b *broker) publish(topic string, payload []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return fmt.Errorf("broker stopped")
	}
	return b.srv.Publish(topic, payload, false, 1)
}

// subscribed reports whether some client (not the inline one) subscribes
// to a filter matching topic.
func (b *broker) subscribed(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv != nil && len(b.srv.Topics.Subscribers(topic).Subscriptions) > 0
}

// record subscribes the inline client to filter and collects what is
// published on it.
func (b *broker) record(t testing.TB, filter string) *recorder {
	t.Helper()
	r := &recorder{}
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.srv.Subscribe(filter, 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.msgs = append(r.msgs, recorded{pk.TopicName, append([]byte(nil), pk.Payload...)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type recorded struct {
	topic   string
	payload []byte
}

type recorder struct {
	mu   sync.Mutex // guards msgs
	msgs []recorded
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.msgs...)
}

func unique() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
