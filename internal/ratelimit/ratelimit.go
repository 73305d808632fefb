// Package ratelimit keeps the token buckets of the hub's rate limits
// (api.Limits): in memory (Memory) for a single hub, or in PostgreSQL
// (Postgres) for the replicas of a hub cluster, which count together.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/api"
)

// Memory is an api.Limiter with its buckets in a map.
type Memory struct {
	mu      sync.Mutex // guards buckets and swept
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
	full   time.Duration // how long an empty bucket takes to fill
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{buckets: make(map[string]*bucket)} }

// sweepEvery is how often Take drops buckets that are full again (and so
// need no memory), keeping the map to the callers of the last minutes.
const sweepEvery = time.Minute

// Take implements api.Limiter.
func (m *Memory) Take(_ context.Context, key string, r api.Rate, now time.Time) (time.Duration, error) {
	if r.PerSecond <= 0 {
		return 0, nil
	}
	burst := float64(max(r.Burst, 1))
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.swept) > sweepEvery {
		for k, b := range m.buckets {
			if now.Sub(b.at) > b.full {
				delete(m.buckets, k)
			}
		}
		m.swept = now
	}
	b, ok := m.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, at: now}
		m.buckets[key] = b
	}
	b.full = time.Duration(burst / r.PerSecond * float64(time.Second))
	if dt := now.Sub(b.at); dt > 0 {
		b.tokens = min(burst, b.tokens+dt.Seconds()*r.PerSecond)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, nil
	}
	return time.Duration((1 - b.tokens) / r.PerSecond * float64(time.Second)), nil
}

// Len is the number of buckets kept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}
