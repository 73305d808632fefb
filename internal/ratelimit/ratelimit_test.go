package ratelimit

import (
	"log/slog"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// limiters are the implementations under test: Memory, and Postgres when
// MOLEN_TEST_POSTGRES is set.
func limiters(t *testing.T, test func(t *testing.T, l api.Limiter)) {
	t.Run("memory", func(t *testing.T) { test(t, NewMemory()) })
	t.Run("postgres", func(t *testing.T) {
		dsn := metatest.DSN(t)
		test(t, newPostgres(t, dsn, metatest.Schema(t, dsn)))
	})
}

func newPostgres(t testing.TB, dsn, schema string) *Postgres {
	t.Helper()
	db, err := meta.OpenPostgres(t.Context(), dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := NewPostgres(t.Context(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTake(t *testing.T) {
	limiters(t, func(t *testing.T, l api.Limiter) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		r := api.Rate{PerSecond: 2, Burst: 3}
		for i := range 3 {
			if wait, err := l.Take(t.Context(), "a", r, now); wait != 0 || err != nil {
				t.Fatalf("request %d of the burst waits %v (%v)", i, wait, err)
			}
		}
		wait, _ := l.Take(t.Context(), "a", r, now)
		if wait != 500*time.Millisecond {
			t.Errorf("after the burst: wait %v, want 500ms", wait)
		}
		if wait, _ := l.Take(t.Context(), "b", r, now); wait != 0 {
			t.Errorf("another key waits %v", wait)
		}
		if wait, _ := l.Take(t.Context(), "a", r, now.Add(250*time.Millisecond)); wait != 250*time.Millisecond {
			t.Errorf("half refilled: wait %v, want 250ms", wait)
		}
		if wait, _ := l.Take(t.Context(), "a", r, now.Add(500*time.Millisecond)); wait != 0 {
			t.Errorf("after the refill: wait %v", wait)
		}
		if wait, _ := l.Take(t.Context(), "a", r, now.Add(400*time.Millisecond)); wait != 500*time.Millisecond {
			t.Errorf("a clock behind: wait %v, want 500ms (nothing refilled)", wait)
		}
		if wait, _ := l.Take(t.Context(), "a", api.Rate{}, now); wait != 0 {
			t.Errorf("no rate: wait %v", wait)
		}
	})
}

func TestSweep(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := api.Rate{PerSecond: 2, Burst: 3}
	m.Take(t.Context(), "a", r, now)
	m.Take(t.Context(), "c", r, now.Add(time.Hour))
	if n := m.Len(); n != 1 {
		t.Errorf("%d buckets after an hour, want 1", n)
	}

	dsn := metatest.DSN(t)
	p := newPostgres(t, dsn, metatest.Schema(t, dsn))
	p.Take(t.Context(), "a", r, now)
	p.Take(t.Context(), "c", r, now.Add(time.Hour))
	var keys int
	if err := p.db.QueryRowContext(t.Context(), `SELECT count(*) FROM rate_buckets`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Errorf("%d buckets in PostgreSQL after an hour, want 1", keys)
	}
}

// TestShared has two replicas' limiters on one schema take from one
// bucket in turn: together they let the burst through, not twice it.
func TestShared(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	replicas := []*Postgres{newPostgres(t, dsn, schema), newPostgres(t, dsn, schema)}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := api.Rate{PerSecond: 1, Burst: 10}
	var let int
	for i := range 40 {
		if wait, err := replicas[i%2].Take(t.Context(), "address:192.0.2.1", r, now); err != nil {
			t.Fatal(err)
		} else if wait == 0 {
			let++
		}
	}
	if let != 10 {
		t.Errorf("two replicas let %d of 40 requests through, want the burst 10", let)
	}
}

// BenchmarkTake is the cost of one take: in memory and in PostgreSQL
// (docs/benchmarks.md).
func BenchmarkTake(b *testing.B) {
	r := api.Rate{PerSecond: 1e9, Burst: 1 << 30}
	run := func(b *testing.B, l api.Limiter) {
		now := time.Now()
		for i := 0; b.Loop(); i++ {
			if _, err := l.Take(b.Context(), "caller:"+string(rune('a'+i%16)), r, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, NewMemory()) })
	b.Run("postgres", func(b *testing.B) {
		dsn := metatest.DSN(b)
		run(b, newPostgres(b, dsn, metatest.Schema(b, dsn)))
	})
}
