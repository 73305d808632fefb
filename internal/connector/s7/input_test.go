package s7_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/s7"
	"github.com/molen-io/molen/internal/uns"
)

type running struct {
	in   *s7.Input
	sink *connectortest.Sink
}

func run(t *testing.T, cfg *s7.Config) *running {
	t.Helper()
	in, err := s7.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{in: in, sink: connectortest.NewSink()}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, r.sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func (r *running) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	connectortest.WaitFor(t, what, cond)
}

// latest returns the last value of each series the sink accepted.
func (r *running) latest() map[string]uns.Value {
	got := map[string]uns.Value{}
	for _, p := range r.sink.Points() {
		got[p.Series] = p.Value
	}
	return got
}

func (r *running) waitValues(t *testing.T, want map[string]uns.Value) {
	t.Helper()
	r.waitFor(t, "the values", func() bool {
		got := r.latest()
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
}

// TestItemErrors: an item of a data block the PLC does not have, and one
// past the end of a block, are counted under their return codes; the
// joined read the second spoiled is split, so the items around it are
// read again.
func TestItemErrors(t *testing.T) {
	s := newServer(t, 240)
	want := set(s, 1)
	cfg := fastConfig(s)
	cfg.Items = append(cfg.Items,
		s7.Item{Path: prefix + "missing", DB: 99, Byte: 0, Type: "int"},
		s7.Item{Path: prefix + "past_end", DB: 7, Byte: 12, Type: "dint"}, // DB7 holds 12 bytes; joins the lreal at 4
	)
	r := run(t, cfg)
	r.waitValues(t, want)
	st := r.in.Status()
	if st.Rejected["object_does_not_exist"] == 0 || st.Rejected["address_out_of_range"] == 0 {
		t.Errorf("rejected %v, want object_does_not_exist and address_out_of_range", st.Rejected)
	}
	if st.Connects != 1 {
		t.Errorf("connects %d, want 1: refused items do not drop the connection", st.Connects)
	}
	r.waitValues(t, set(s, 2)) // the DB7 items still read, on their own
	if _, ok := r.latest()[prefix+"past_end"]; ok {
		t.Error("a point for an item past the end of its data block")
	}
}

// TestMalformedAnswers: malformed S7 answers are counted as bad_frame and
// the connection is kept; three in a row make it anew. Reading goes on.
func TestMalformedAnswers(t *testing.T) {
	s := newServer(t, 480)
	cfg := fastConfig(s)
	r := run(t, cfg)
	r.waitValues(t, set(s, 1))
	s.GarbleNext(2)
	r.waitFor(t, "two bad frames", func() bool { return r.in.Status().Rejected[s7.ReasonBadFrame] >= 2 })
	r.waitValues(t, set(s, 2))
	if st := r.in.Status(); st.Connects != 1 {
		t.Errorf("connects %d after 2 bad answers, want 1", st.Connects)
	}
	s.GarbleNext(3)
	r.waitFor(t, "a new connection", func() bool { return r.in.Status().Connects == 2 })
	r.waitValues(t, set(s, 3))
	if st := r.in.Status(); st.Rejected[s7.ReasonBadFrame] != 5 {
		t.Errorf("rejected %v, want 5 bad_frame", st.Rejected)
	}
}

// TestNotFinite: a real holding NaN is counted and skipped.
func TestNotFinite(t *testing.T) {
	s := newServer(t, 480)
	want := set(s, 1)
	s.Set(7, 0, 0x7f, 0xc0, 0, 0) // NaN
	delete(want, prefix+"pressure_bar")
	r := run(t, fastConfig(s))
	r.waitValues(t, want)
	r.waitFor(t, "not_finite counted", func() bool { return r.in.Status().Rejected[s7.ReasonNotFinite] > 0 })
	if _, ok := r.latest()[prefix+"pressure_bar"]; ok {
		t.Error("a point for a NaN")
	}
}

// TestUnreachable: a PLC that is not there (nothing listens) leaves the
// input disconnected with the reason, retrying.
func TestUnreachable(t *testing.T) {
	s := newServer(t, 480)
	cfg := fastConfig(s)
	s.Stop()
	r := run(t, cfg)
	r.waitFor(t, "disconnected", func() bool {
		st := r.in.Status()
		return st.State == connector.Disconnected && st.LastError != ""
	})
}
