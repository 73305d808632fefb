package backoff_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/molen-io/molen/internal/backoff"
)

func TestDelays(t *testing.T) {
	// The edge forwarder's documented delays: 200 ms doubling to 5 s.
	b := backoff.New(200*time.Millisecond, 5*time.Second)
	want := []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		w *= time.Millisecond
		if got := b.Delay(); got != w {
			t.Fatalf("attempt %d: Delay() = %v, want %v", i, got, w)
		}
		got := b.Next()
		if lo, hi := time.Duration(0.8*float64(w)), time.Duration(1.2*float64(w)); got < lo || got > hi {
			t.Fatalf("attempt %d: Next() = %v, want %v..%v", i, got, lo, hi)
		}
	}
	if !b.Reset() {
		t.Fatal("Reset after failures reports no failure")
	}
	if got := b.Delay(); got != 200*time.Millisecond {
		t.Fatalf("Delay() after Reset = %v, want 200ms", got)
	}
	if b.Reset() {
		t.Fatal("Reset without failure since the last reports a failure")
	}
}

func TestJitterSpreads(t *testing.T) {
	b := &backoff.Backoff{Min: time.Second, Max: time.Second}
	seen := make(map[time.Duration]bool)
	for range 200 {
		d := b.Next()
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("Next() = %v, want 0.8s..1.2s", d)
		}
		seen[d] = true
	}
	// 200 draws from a continuous spread: a constant would be one value.
	if len(seen) < 100 {
		t.Fatalf("%d distinct delays in 200, want a spread", len(seen))
	}
	none := &backoff.Backoff{Min: time.Second, Max: 4 * time.Second, Jitter: -1}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if got := none.Next(); got != want {
			t.Fatalf("without jitter Next() = %v, want %v", got, want)
		}
	}
}

func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backoff.Backoff{Min: 100 * time.Millisecond, Max: 300 * time.Millisecond, Jitter: -1}
		start := time.Now()
		for _, want := range []time.Duration{100, 200, 300, 300} {
			at := time.Now()
			if !b.Wait(t.Context()) {
				t.Fatal("Wait returned false with a live context")
			}
			if got := time.Since(at); got != want*time.Millisecond {
				t.Fatalf("waited %v, want %v", got, want*time.Millisecond)
			}
		}
		if got := time.Since(start); got != 900*time.Millisecond {
			t.Fatalf("waited %v in all, want 900ms", got)
		}
	})
}

func TestWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		b := &backoff.Backoff{Min: time.Hour, Max: time.Hour}
		done := make(chan bool)
		go func() { done <- b.Wait(ctx) }()
		synctest.Wait() // Wait is blocked on its timer
		at := time.Now()
		cancel()
		if <-done {
			t.Fatal("Wait reported the delay passed after cancel")
		}
		if got := time.Since(at); got != 0 {
			t.Fatalf("Wait returned %v after cancel, want at once", got)
		}
		if backoff.Sleep(ctx, 0) {
			t.Fatal("Sleep(0) on an ended context reports the delay passed")
		}
		if !backoff.Sleep(t.Context(), 0) {
			t.Fatal("Sleep(0) on a live context reports it ended")
		}
	})
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
			if got := backoff.Sleep(tt.ctx, tt.d); got != tt.want {
				t.Errorf("Sleep(%v) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}
