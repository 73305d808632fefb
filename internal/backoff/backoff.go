// Package backoff is molen's one retry delay: exponential from a minimum to
// a maximum, spread by jitter, starting over after a success, and a wait
// that ends with its context. Every retry loop (the inputs' reconnections
// and refused writes, the edge's forwarding and enrollment) uses it, so
// their delays follow one rule.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// DefaultJitter is the spread of a delay when Backoff.Jitter is 0: ±20 %,
// so that edges or inputs that lost the same peer do not come back in
// lock-step.
const DefaultJitter = 0.2

// Backoff is the delay between the attempts of one retry loop. The zero
// value is not usable: set Min and Max (Max >= Min > 0). A Backoff is used
// by one goroutine.
type Backoff struct {
	Min, Max time.Duration
	// Jitter spreads each delay uniformly over d × (1 ± Jitter); 0 means
	// DefaultJitter, a negative value none.
	Jitter float64

	cur time.Duration // the next delay before jitter; 0: Min
}

// New returns a Backoff from min doubling to max, with DefaultJitter.
func New(min, max time.Duration) *Backoff {
	return &Backoff{Min: min, Max: max}
}

// Delay is the next delay before jitter: Min after New or Reset, then
// doubling with each Next up to Max. Logs show it as "retry_in".
func (b *Backoff) Delay() time.Duration {
	if b.cur == 0 {
		return b.Min
	}
	return b.cur
}

// Next returns the delay to wait before the next attempt (Delay spread by
// Jitter) and doubles Delay, up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.Delay()
	b.cur = min(2*d, b.Max)
	return b.spread(d)
}

// Reset makes the next delay Min again, after a success. It reports whether
// the loop was backing off (a failure came since the last Reset).
func (b *Backoff) Reset() (wasFailing bool) {
	wasFailing = b.cur != 0
	b.cur = 0
	return wasFailing
}

// Wait waits Next() or until ctx ends; it reports whether the delay
// passed.
func (b *Backoff) Wait(ctx context.Context) bool {
	return Sleep(ctx, b.Next())
}

func (b *Backoff) spread(d time.Duration) time.Duration {
	j := b.Jitter
	if j == 0 {
		j = DefaultJitter
	}
	if j < 0 {
		return d
	}
	return Jitter(d, j)
}

// Jitter spreads d uniformly over d × (1 ± frac).
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}

// Sleep waits d or until ctx ends; it reports whether d passed (a d <= 0
// passes at once unless ctx has ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
