package connector

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"time"
)

// Tracker keeps an input's Status; its methods are safe for concurrent
// use, so the reading goroutines update it while the status API reads it.
type Tracker struct {
	mu sync.Mutex // guards st
	st Status
}

// NewTracker returns a Tracker for an input of peer that is connecting.
func NewTracker(peer string) *Tracker {
	return &Tracker{st: Status{State: Connecting, Peer: peer}}
}

// Status returns a copy of the status; it shares nothing with t.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	if st.Rejected != nil {
		st.Rejected = maps.Clone(st.Rejected)
	}
	return st
}

// SetState sets the state.
func (t *Tracker) SetState(s State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State = s
}

// SetPeer sets the address or URL of the peer.
func (t *Tracker) SetPeer(p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Peer = p
}

// Connected records a successful connection.
func (t *Tracker) Connected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State = Connected
	t.st.Connects++
}

// Disconnected records a lost (or failed) connection and why.
func (t *Tracker) Disconnected(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State = Disconnected
	t.st.LastError = err.Error()
	t.st.LastErrorAt = time.Now()
}

// SetError records msg as the last error without changing the state.
func (t *Tracker) SetError(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.LastError = msg
	t.st.LastErrorAt = time.Now()
}

// Reject counts a bad frame or value under reason and records msg as the
// last error.
func (t *Tracker) Reject(reason, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.Rejected == nil {
		t.st.Rejected = make(map[string]int64)
	}
	t.st.Rejected[reason]++
	t.st.LastError = msg
	t.st.LastErrorAt = time.Now()
}

// AddPoints counts n points written to the sink.
func (t *Tracker) AddPoints(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Points += n
}

// AddDropped counts n values the peer or protocol lost.
func (t *Tracker) AddDropped(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Dropped += n
}

// Jitter spreads d by ±20%, so that inputs that lost the same peer do not
// come back in lock-step.
func Jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Sleep waits for d or until ctx ends; it reports whether d passed (a
// d <= 0 passes at once unless ctx has ended).
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

// Reconnect runs session again and again until ctx ends: the retry loop
// every input shares. Between sessions it waits with back-off, from
// backoffMin doubling to backoffMax and starting over after a session
// that connected, spread by Jitter; it marks t disconnected with the
// session's error and logs it: "<peer> lost; reconnecting" at warn after a
// session that connected, "connect failed" at debug otherwise.
func Reconnect(ctx context.Context, t *Tracker, log *slog.Logger, peer string, backoffMin, backoffMax time.Duration,
	session func(context.Context) (connected bool, err error)) {
	backoff := backoffMin
	for {
		connected, err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = backoffMin
			log.Warn(peer+" lost; reconnecting", "err", err)
		} else {
			log.Debug("connect failed", "err", err, "retry_in", backoff)
		}
		t.Disconnected(err)
		if !Sleep(ctx, Jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, backoffMax)
	}
}
