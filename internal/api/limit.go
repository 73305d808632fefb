package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is a token bucket: Burst requests at once, refilled at PerSecond.
// The zero Rate sets no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limiter keeps token buckets by key (internal/ratelimit): in memory for
// a single hub, in PostgreSQL for the replicas of a hub cluster.
type Limiter interface {
	// Take takes one request from the bucket of key at now, and answers
	// 0, or how long to wait before one is there.
	Take(ctx context.Context, key string, r Rate, now time.Time) (time.Duration, error)
}

// Limits are the router's rate limits: per client address and per caller
// (by its credential: a token, a session) before a request is
// authenticated, then per organisation and per edge.
type Limits struct {
	Limiter                      Limiter
	Address, Org, Caller, EdgeID Rate
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Limited is told of each refused request with the bucket that refused
	// it ("address", "org", "caller", "edge"), for metrics.
	Limited func(by string)
	// Hold, if positive, holds the answer to a refused request until its
	// bucket has a token again (the n-th held refusal of one bucket until
	// it has n), for at most Hold: a client that retries at once (a
	// script in a loop, a flood) is paced by the hub instead of making it
	// answer thousands of refusals a second, which would take the CPU
	// other organisations' requests need, and what it is let do comes
	// evenly spread rather than in bursts. Holding costs a goroutine and
	// a timer, no work.
	Hold time.Duration
	// MaxHeld bounds the refusals held at once; beyond it a refusal is
	// answered at once and its connection closed. 0: DefaultMaxHeld.
	MaxHeld int
	// Pause waits d or until ctx ends; default a timer. Tests replace it.
	Pause func(ctx context.Context, d time.Duration)

	held    atomic.Int64
	mu      sync.Mutex     // guards waiting
	waiting map[string]int // refusals held by bucket
}

// DefaultMaxHeld is the number of refused requests held at once unless
// Limits.MaxHeld says otherwise.
const DefaultMaxHeld = 1024

// LimitError is a request refused by a rate limit; it wraps
// ErrRateLimited and is answered 429 with Retry-After.
type LimitError struct {
	By   string
	Wait time.Duration

	bucket string // the bucket's key, for Limits.hold
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("too many requests (per %s): retry in %s", e.By, e.Wait.Round(time.Second))
}

func (e *LimitError) Unwrap() error { return ErrRateLimited }

func (l *Limits) take(ctx context.Context, by, key string, r Rate) error {
	if l == nil || l.Limiter == nil || r.PerSecond <= 0 {
		return nil
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	wait, err := l.Limiter.Take(ctx, by+":"+key, r, now())
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if wait <= 0 {
		return nil
	}
	if l.Limited != nil {
		l.Limited(by)
	}
	return &LimitError{By: by, Wait: wait, bucket: by + ":" + key}
}

// hold holds the answer to err, a refusal of beforeAuth or afterAuth
// (see Limits.Hold), and answers whether the connection is to be closed
// instead because too many are held already.
func (l *Limits) hold(ctx context.Context, err error) (closeConn bool) {
	le, ok := errors.AsType[*LimitError](err)
	if l == nil || l.Hold <= 0 || !ok {
		return false
	}
	maxHeld := int64(l.MaxHeld)
	if maxHeld <= 0 {
		maxHeld = DefaultMaxHeld
	}
	defer l.held.Add(-1)
	if l.held.Add(1) > maxHeld {
		return true
	}
	pause := l.Pause
	if pause == nil {
		pause = sleep
	}
	// Refusals of one bucket held together each wait their turn: the
	// n-th for n tokens, so that they come back one after another rather
	// than all at once, to be refused together again.
	l.mu.Lock()
	if l.waiting == nil {
		l.waiting = map[string]int{}
	}
	l.waiting[le.bucket]++
	turn := l.waiting[le.bucket]
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.waiting[le.bucket]--; l.waiting[le.bucket] <= 0 {
			delete(l.waiting, le.bucket)
		}
		l.mu.Unlock()
	}()
	pause(ctx, min(le.Wait*time.Duration(turn), l.Hold))
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// beforeAuth applies the per-address limit and the per-caller limit, by
// a hash of the credential the request carries: a flood with one token is
// refused before it costs a look-up (an unknown credential counts against
// its address all the same).
func (l *Limits) beforeAuth(r *http.Request, edge bool) error {
	if l == nil {
		return nil
	}
	if !edge {
		// Edges may share an address (a factory's NAT); each has its own
		// limit once authenticated.
		if err := l.take(r.Context(), "address", ClientAddr(r), l.Address); err != nil {
			return err
		}
	}
	secret, ok := Bearer(r)
	if !ok {
		secret, ok = SessionSecret(r)
	}
	if !ok || edge {
		return nil
	}
	sum := sha256.Sum256([]byte(secret))
	return l.take(r.Context(), "caller", hex.EncodeToString(sum[:12]), l.Caller)
}

// afterAuth applies the limits of the caller's organisation and of the
// edge.
func (l *Limits) afterAuth(r *http.Request, p Principal) error {
	if l == nil {
		return nil
	}
	ctx := r.Context()
	if p.Edge != "" {
		return l.take(ctx, "edge", p.Edge, l.EdgeID)
	}
	if p.Org == "" {
		return nil
	}
	return l.take(ctx, "org", p.Org, l.Org)
}

// ClientAddr is the address of the request's client (without port): the
// connection's peer. Headers a client sets (X-Forwarded-For) are not
// trusted.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
