package connectortest

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
)

// Running is an input a test runs outside the suite.
type Running struct {
	In   connector.Input
	Sink connector.Sink

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start runs in with sink until Stop or the end of the test.
func Start(t testing.TB, in connector.Input, sink connector.Sink) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &Running{In: in, Sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, sink) }()
	t.Cleanup(r.Stop)
	return r
}

// Stop ends the input's Run and waits for it to return; it may be called
// more than once.
func (r *Running) Stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// Cancel ends the input's context without waiting: the test then lets
// the input finish what it was doing, and calls Stop.
func (r *Running) Cancel() { r.cancel() }

// WaitFor polls cond until it holds, for at most a minute: a limit for a
// hung input on a loaded machine, not a performance requirement.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// DecodeExample decodes a connector's example config (the one its
// section of docs/connectors.md shows) the way the edge's loader does:
// into the kind's defaults, unknown fields an error; and validates it.
func DecodeExample(t testing.TB, kind, path string) connector.Config {
	t.Helper()
	spec, ok := connector.Lookup(kind)
	if !ok {
		t.Fatalf("%q is not registered", kind)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := spec.New()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
