package connector

import (
	"context"
	"errors"
	"reflect"
	"testing"
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
			tr := NewTracker("p:1")
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
	tr := NewTracker("p")
	tr.Reject("a", "x")
	got := tr.Status()
	got.Rejected["a"] = 100
	if n := tr.Status().Rejected["a"]; n != 1 {
		t.Errorf("Rejected[a] = %d after changing a copy, want 1", n)
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, time.Second, time.Hour} {
		lo, hi := time.Duration(float64(d)*0.8), time.Duration(float64(d)*1.2)
		for range 1000 {
			if got := Jitter(d); got < lo || got > hi {
				t.Fatalf("Jitter(%v) = %v, want %v..%v", d, got, lo, hi)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want bool
	}{
		{"zero", t.Context(), 0, true},
		{"negative", t.Context(), -time.Second, true},
		{"passes", t.Context(), time.Millisecond, true},
		{"ended, zero", ended, 0, false},
		{"ended, long", ended, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sleep(tt.ctx, tt.d); got != tt.want {
				t.Errorf("Sleep(%v) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}
