package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestTracker(t *testing.T) {
	tests := []struct {
		name string
		do   func(*Tracker)
		want Status // LastErrorAt is checked for being set, not its value
	}{
		{"new", func(*Tracker) {}, Status{State: Connecting, Peer: "p:1"}},
		{"connected twice", func(tr *Tracker) { tr.Connected(); tr.Connected() },
			Status{State: Connected, Peer: "p:1", Connects: 2}},
		{"disconnected keeps connects", func(tr *Tracker) { tr.Connected(); tr.Disconnected(errors.New("gone")) },
			Status{State: Disconnected, Peer: "p:1", Connects: 1, LastError: "gone"}},
		{"connected clears the last error", func(tr *Tracker) {
			tr.Disconnected(errors.New("refused"))
			tr.Reject("bad_frame", "short frame")
			tr.Connected()
		}, Status{State: Connected, Peer: "p:1", Connects: 1, Rejected: map[string]int64{"bad_frame": 1}}},
		{"set error keeps state", func(tr *Tracker) { tr.Connected(); tr.SetError("sink full") },
			Status{State: Connected, Peer: "p:1", Connects: 1, LastError: "sink full"}},
		{"reject counts by reason", func(tr *Tracker) {
			tr.Reject("a", "first")
			tr.Reject("b", "second")
			tr.Reject("a", "third")
		}, Status{State: Connecting, Peer: "p:1", LastError: "third", Rejected: map[string]int64{"a": 2, "b": 1}}},
		{"counters", func(tr *Tracker) { tr.AddPoints(5); tr.AddPoints(3); tr.AddDropped(1); tr.AddDropped(4) },
			Status{State: Connecting, Peer: "p:1", Points: 8, Dropped: 5}},
		{"state and peer", func(tr *Tracker) { tr.SetState(Stopped); tr.SetPeer("q:2") },
			Status{State: Stopped, Peer: "q:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker("p:1", nil)
			tt.do(tr)
			got := tr.Status()
			if (tt.want.LastError != "") == got.LastErrorAt.IsZero() {
				t.Errorf("LastErrorAt = %v with LastError %q", got.LastErrorAt, got.LastError)
			}
			got.LastErrorAt = time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrackerStatusIsACopy(t *testing.T) {
	tr := NewTracker("p", nil)
	tr.Reject("a", "x")
	tr.SetPeerCertificate(&Certificate{SHA1: "AB"})
	got := tr.Status()
	got.Rejected["a"] = 100
	got.PeerCertificate.SHA1 = "CD"
	if n := tr.Status().Rejected["a"]; n != 1 {
		t.Errorf("Rejected[a] = %d after changing a copy, want 1", n)
	}
	if c := tr.Status().PeerCertificate.SHA1; c != "AB" {
		t.Errorf("PeerCertificate.SHA1 = %q after changing a copy, want AB", c)
	}
}

func TestDeliverRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &records{}
		tr := NewTracker("peer", slog.New(rec))
		attempts := 0
		start := time.Now()
		ok := tr.Deliver(t.Context(), "points", 3, time.Second, 2*time.Second, func() error {
			attempts++
			if attempts < 4 {
				return errors.New("disk full")
			}
			return nil
		})
		if !ok || attempts != 4 {
			t.Fatalf("Deliver = %v after %d attempts, want true after 4", ok, attempts)
		}
		// Waits of 1 s, 2 s, 2 s, each ±20 %.
		if got := time.Since(start); got < 4*time.Second || got > 6*time.Second {
			t.Errorf("Deliver took %v, want 4s..6s", got)
		}
		if got := tr.Status().LastError; got != "deliver 3 points: disk full" {
			t.Errorf("LastError = %q", got)
		}
		if got := rec.lines(); len(got) != 1 || !strings.HasPrefix(got[0], "WARN sink refused points; retrying") {
			t.Errorf("logged %q, want one warning", got)
		}

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if tr.Deliver(ctx, "points", 1, time.Second, time.Second, func() error { return errors.New("no") }) {
			t.Error("Deliver on an ended context reports success")
		}
	})
}

// records is a slog.Handler that keeps what it is given.
type records struct {
	mu   sync.Mutex // guards recs
	recs []string   // "LEVEL msg key=value …"
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "failed_attempts" { // the attributes this test is about
			line += " " + a.String()
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, line)
	return nil
}

func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.recs...)
}

// TestReconnectLogs: an input that cannot connect says why at warn the
// first time and whenever the reason changes, not at every retry; its
// recovery is logged at info with the failed attempts, and clears the last
// error.
func TestReconnectLogs(t *testing.T) {
	refused := errors.New("dial tcp 10.0.0.5:502: connect: connection refused")
	reset := func(port int) error {
		return fmt.Errorf("read tcp 10.0.0.2:%d->10.0.0.5:502: read: connection reset by peer", port)
	}
	expired := func(now string) error {
		return fmt.Errorf("x509: certificate has expired or is not yet valid: current time %s is after 2026-01-01T00:00:00Z", now)
	}
	rec := &records{}
	tr := NewTracker("10.0.0.5:502", slog.New(rec))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var lastErrAfterConnect string
	steps := []func() (bool, error){
		func() (bool, error) { return false, refused },
		func() (bool, error) { return false, refused },
		func() (bool, error) { return false, reset(50001) },
		func() (bool, error) { return false, reset(50002) }, // another local port: the same reason
		func() (bool, error) { return false, expired("2026-03-01T12:00:00Z") },
		func() (bool, error) { return false, expired("2026-03-01T12:00:01.5Z") },
		func() (bool, error) {
			tr.Connected("unit_id", 1)
			lastErrAfterConnect = tr.Status().LastError
			return true, errors.New("connection lost: EOF")
		},
		func() (bool, error) { return false, refused },
		func() (bool, error) { return false, refused },
	}
	n := 0
	Reconnect(ctx, tr, "device", time.Nanosecond, time.Nanosecond, func(context.Context) (bool, error) {
		if n == len(steps) {
			cancel()
			return false, ctx.Err()
		}
		n++
		return steps[n-1]()
	})
	want := []string{
		"WARN cannot connect to device; retrying",
		"DEBUG cannot connect to device; retrying",
		"WARN cannot connect to device; retrying",
		"DEBUG cannot connect to device; retrying",
		"WARN cannot connect to device; retrying",
		"DEBUG cannot connect to device; retrying",
		"INFO connected failed_attempts=6",
		"WARN device lost; reconnecting",
		"WARN cannot connect to device; retrying",
		"DEBUG cannot connect to device; retrying",
	}
	if got := rec.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("logged\n%q\nwant\n%q", got, want)
	}
	if lastErrAfterConnect != "" {
		t.Errorf("last_error %q once connected, want it cleared", lastErrAfterConnect)
	}
	if st := tr.Status(); st.State != Disconnected || st.LastError != refused.Error() || st.Connects != 1 {
		t.Errorf("status %+v: want disconnected, last_error %q, connects 1", st, refused)
	}
}
