package ratelimit

import (
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
)

func TestTake(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := api.Rate{PerSecond: 2, Burst: 3}
	for i := range 3 {
		if wait, _ := m.Take(t.Context(), "a", r, now); wait != 0 {
			t.Fatalf("request %d of the burst waits %v", i, wait)
		}
	}
	wait, _ := m.Take(t.Context(), "a", r, now)
	if wait != 500*time.Millisecond {
		t.Errorf("after the burst: wait %v, want 500ms", wait)
	}
	if wait, _ := m.Take(t.Context(), "b", r, now); wait != 0 {
		t.Errorf("another key waits %v", wait)
	}
	if wait, _ := m.Take(t.Context(), "a", r, now.Add(500*time.Millisecond)); wait != 0 {
		t.Errorf("after the refill: wait %v", wait)
	}
	if wait, _ := m.Take(t.Context(), "a", api.Rate{}, now); wait != 0 {
		t.Errorf("no rate: wait %v", wait)
	}
	// Buckets full again are dropped.
	m.Take(t.Context(), "c", r, now.Add(time.Hour))
	if n := m.Len(); n != 1 {
		t.Errorf("%d buckets after an hour, want 1", n)
	}
}
