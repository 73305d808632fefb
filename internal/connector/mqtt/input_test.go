package mqtt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// running is one Run of an input.
type running struct {
	in     *mqtt.Input
	sink   *connectortest.Sink
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func runInput(t *testing.T, cfg *mqtt.Config, sink *connectortest.Sink) *running {
	t.Helper()
	in, err := mqtt.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{in: in, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, sink) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func has(sink *connectortest.Sink, series string, v uns.Value) bool {
	for _, p := range sink.Points() {
		if p.Series == series && p.Value == v {
			return true
		}
	}
	return false
}

func oneSub(b *broker, topic string, version int) *mqtt.Config {
	cfg := conformanceConfig(b.URL())
	cfg.Version = version
	cfg.Subscriptions = []mqtt.Subscription{{Topic: topic}}
	return cfg
}

// TestNoAckBeforeWrite: a QoS 1 message whose write the sink refused is not
// acknowledged, so the broker delivers it again to the next session of the
// same client id, even after the input was stopped.
func TestNoAckBeforeWrite(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		b := newBroker(t, nil)
		cfg := oneSub(b, "m/#", version)
		refusing := connectortest.NewSink()
		refusing.FailNext(1 << 30)
		r := runInput(t, cfg, refusing)
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		b.Publish(t, "m/a/v", []byte("7"), false, 1)
		waitFor(t, "a refused write", func() bool { return len(refusing.Refused()) > 0 })
		r.stop()

		sink := connectortest.NewSink()
		runInput(t, cfg, sink)
		waitFor(t, "the redelivered message", func() bool { return has(sink, "m/a/v", uns.Int(7)) })
	})
}

// TestPersistentSession: QoS 1 messages published while the input was
// stopped are delivered when it comes back with the same client id.
func TestPersistentSession(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		b := newBroker(t, nil)
		cfg := oneSub(b, "p/#", version)
		r := runInput(t, cfg, connectortest.NewSink())
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		r.stop()
		b.Publish(t, "p/a/v", []byte("1"), false, 1)
		b.Publish(t, "p/a/v", []byte("2"), false, 1)

		sink := connectortest.NewSink()
		runInput(t, cfg, sink)
		waitFor(t, "both queued messages", func() bool {
			return has(sink, "p/a/v", uns.Int(1)) && has(sink, "p/a/v", uns.Int(2))
		})
	})
}

// TestQoS0Held: QoS 0 messages that arrive while max_inflight messages
// wait for the sink are held back, not dropped: all arrive once the sink
// takes them.
func TestQoS0Held(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		b := newBroker(t, nil)
		cfg := oneSub(b, "d/#", version)
		zero := 0
		cfg.Subscriptions[0].QoS = &zero
		cfg.MaxInflight = 2
		sink := connectortest.NewSink()
		blocked := sink.Block()
		r := runInput(t, cfg, sink)
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		const n = 20
		for i := range n {
			b.Publish(t, "d/a/v", []byte{'0' + byte(i%10)}, false, 0)
		}
		<-blocked
		sink.Unblock()
		waitFor(t, "every message", func() bool { return sink.Len() == n })
		if st := r.in.Status(); st.Dropped != 0 {
			t.Errorf("dropped %d, want 0", st.Dropped)
		}
	})
}

// TestUnmatchedAndBadPath: a topic no subscription matches (a leftover of
// a persistent session) and a topic that is no valid path are counted.
func TestUnmatchedAndBadPath(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		b := newBroker(t, nil)
		cfg := oneSub(b, "u/#", version)
		sink := connectortest.NewSink()
		r := runInput(t, cfg, sink)
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		b.Publish(t, "u/a b/v", []byte("1"), false, 1)
		b.Publish(t, "u/a/v", []byte("2"), false, 1)
		waitFor(t, "the good value", func() bool { return has(sink, "u/a/v", uns.Int(2)) })
		if got := r.in.Status().Rejected[uns.ReasonInvalidPath]; got != 1 {
			t.Errorf("rejected[invalid_path] = %d, want 1", got)
		}
	})
}
