package mqtt_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// broker is an in-process MQTT broker (mochi) on an ephemeral port of
// 127.0.0.1. Stop and Start restart it on the same address, as a broker
// restarted without persistence: sessions and retained messages are gone.
type broker struct {
	tls *tls.Config // nil for plain TCP

	mu   sync.Mutex // guards addr and srv
	addr string
	srv  *mochi.Server // nil while stopped
}

func newBroker(t testing.TB, tc *tls.Config) *broker {
	t.Helper()
	b := &broker{tls: tc, addr: "127.0.0.1:0"}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	return b
}

// Start serves on the broker's address (a fresh one the first time).
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
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: b.addr, TLSConfig: b.tls})
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

// Stop closes the listener and every connection.
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

// URL is the broker's address as an input config wants it.
func (b *broker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	scheme := "tcp"
	if b.tls != nil {
		scheme = "ssl"
	}
	return scheme + "://" + b.addr
}

// Publish publishes through the broker's inline client.
func (b *broker) Publish(t testing.TB, topic string, payload []byte, retain bool, qos byte) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		t.Fatalf("publish %s: broker stopped", topic)
	}
	if err := b.srv.Publish(topic, payload, retain, qos); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// unique returns a random suffix for client ids and topics.
func unique() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
