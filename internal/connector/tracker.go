package connector

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/backoff"
)

// Tracker keeps an input's Status and logs the changes of its connection;
// its methods are safe for concurrent use, so the reading goroutines update
// it while the status API reads it.
type Tracker struct {
	log *slog.Logger

	mu sync.Mutex // guards the fields below
	st Status
	// failing is the error of the failed connection attempts since the
	// input was last connected, as compared (see sameError); failures
	// counts those attempts.
	failing  string
	failures int
}

// NewTracker returns a Tracker for an input of peer that is connecting.
// It logs the input's connections and failures to connect through log
// (nil: nowhere).
func NewTracker(peer string, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tracker{log: log, st: Status{State: Connecting, Peer: peer}}
}

// Status returns a copy of the status; it shares nothing with t.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	if st.Rejected != nil {
		st.Rejected = maps.Clone(st.Rejected)
	}
	if st.PeerCertificate != nil {
		c := *st.PeerCertificate
		st.PeerCertificate = &c
	}
	return st
}

// SetPeerCertificate records the certificate the peer presented; t keeps
// c, which the caller must not change.
func (t *Tracker) SetPeerCertificate(c *Certificate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.PeerCertificate = c
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

// Connected records a successful connection and logs it at info, with
// attrs (what the connection is: subscriptions, security, …) and, after
// failed attempts, how many there were. It clears the last error: it said
// why the input was not connected, or what went wrong on a connection that
// is gone.
func (t *Tracker) Connected(attrs ...any) {
	t.mu.Lock()
	t.st.State = Connected
	t.st.Connects++
	t.st.LastError, t.st.LastErrorAt = "", time.Time{}
	if t.failures > 0 {
		attrs = append(attrs, "failed_attempts", t.failures)
	}
	t.failing, t.failures = "", 0
	t.mu.Unlock()
	t.log.Info("connected", attrs...)
}

// Disconnected records a lost (or failed) connection and why.
func (t *Tracker) Disconnected(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State = Disconnected
	t.st.LastError = err.Error()
	t.st.LastErrorAt = time.Now()
}

// failed records a failed connection attempt and reports whether its error
// differs from the previous attempt's (or it is the first since the input
// was last connected): only those are worth a warning, so that an input
// that cannot connect says why once, and again only when the reason
// changes, not at every retry.
func (t *Tracker) failed(err error) (changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures++
	key := sameError(err)
	changed = key != t.failing
	t.failing = key
	return changed
}

// variable matches the parts of an error message that differ between two
// attempts failing for the same reason: the local address of a connection
// ("tcp 10.0.0.2:53122->10.0.0.5:502") and times ("current time
// 2026-03-01T12:00:00Z is after ...").
var variable = regexp.MustCompile(`\S+->|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)

// sameError is err's message without its variable parts: two attempts
// whose errors give the same string failed for the same reason.
func sameError(err error) string {
	return variable.ReplaceAllString(err.Error(), "")
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

// Reconnect runs session again and again until ctx ends: the retry loop
// every input shares. Between sessions it waits with back-off
// (internal/backoff), from backoffMin doubling to backoffMax and starting
// over after a session that connected, spread by ±20 %. It marks t
// disconnected with the session's error and logs it through t: "<peer>
// lost; reconnecting" at warn after a session that connected; after a
// failed attempt "cannot connect to <peer>; retrying" at warn if it is the
// first since the input was connected or its error differs from the
// previous attempt's, at debug otherwise. The session calls t.Connected
// once it is connected, which logs the recovery at info.
func Reconnect(ctx context.Context, t *Tracker, peer string, backoffMin, backoffMax time.Duration,
	session func(context.Context) (connected bool, err error)) {
	b := backoff.New(backoffMin, backoffMax)
	for {
		connected, err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case connected:
			b.Reset()
			t.log.Warn(peer+" lost; reconnecting", "err", err)
		case t.failed(err):
			t.log.Warn("cannot connect to "+peer+"; retrying", "err", err, "retry_in", b.Delay())
		default:
			t.log.Debug("cannot connect to "+peer+"; retrying", "err", err, "retry_in", b.Delay())
		}
		t.Disconnected(err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// Deliver calls write (of n points or events: what) until it succeeds
// (true) or ctx ends (false), waiting between attempts with back-off from
// backoffMin doubling to backoffMax: the loop of every input whose sink
// refused a write. The retries write the same values, so nothing the peer
// sent is skipped; the input acknowledges its peer only after Deliver
// returned true. Each refusal is the last error of t; the first is logged
// at warn.
func (t *Tracker) Deliver(ctx context.Context, what string, n int, backoffMin, backoffMax time.Duration, write func() error) bool {
	b := backoff.New(backoffMin, backoffMax)
	for attempt := 0; ; attempt++ {
		err := write()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		t.SetError(fmt.Sprintf("deliver %d %s: %v", n, what, err))
		if attempt == 0 {
			t.log.Warn("sink refused "+what+"; retrying", what, n, "err", err)
		}
		if !b.Wait(ctx) {
			return false
		}
	}
}
