package vda5050test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is an in-process MQTT broker (mochi) on an ephemeral port of
// 127.0.0.1, never a standard port. Stop and Start restart it on the same
// address, as a broker restarted without persistence: sessions and
// retained messages are gone. Safe for concurrent use.
type Broker struct {
	mu   sync.Mutex // guards addr and srv
	addr string
	srv  *mochi.Server // nil while stopped
}

// NewBroker starts a broker on a fresh port; Stop it when done.
func NewBroker() (*Broker, error) {
	b := &Broker{addr: "127.0.0.1:0"}
	if err := b.Start(); err != nil {
		return nil, err
	}
	return b, nil
}

// Start serves on the broker's address.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return err
	}
	l := listeners.NewTCP(listeners.Config{ID: "vda5050test", Address: b.addr})
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
func (b *Broker) Stop() error {
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
func (b *Broker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return "tcp://" + b.addr
}

// Publish publishes through the broker's inline client.
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return errors.New("vda5050test: broker stopped")
	}
	return b.srv.Publish(topic, payload, retain, qos)
}
