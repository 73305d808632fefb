package edge

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is the least time between two log lines of one kind that can
// repeat at a high rate (bad device data, misbehaving connections).
const logEvery = 10 * time.Second

// logLimiter lets through at most one log line per key every logEvery and
// counts the lines it holds back; the next line of the key says how many
// (attribute "suppressed"). A device that sends bad data a thousand times a
// second then costs its counters and a line every ten seconds, not a line
// per message. Keys are kinds of conditions (a rejection reason, a message
// of mochi's), never per device, so there are few of them.
type logLimiter struct {
	mu   sync.Mutex // guards now and keys
	now  func() time.Time
	keys map[string]*logKey
}

type logKey struct {
	last time.Time // when a line of the key was last let through
	held int       // lines held back since
}

func newLogLimiter() *logLimiter {
	return &logLimiter{now: time.Now, keys: map[string]*logKey{}}
}

// allow reports whether a line of key may be logged now and, if so, how
// many lines of key it held back since the last one.
func (l *logLimiter) allow(key string) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := l.keys[key]
	switch {
	case k == nil:
		k = &logKey{}
		l.keys[key] = k
	case now.Sub(k.last) < logEvery:
		k.held++
		return false, 0
	}
	held = k.held
	k.last, k.held = now, 0
	return true, held
}

// setClock replaces the limiter's clock (tests).
func (l *logLimiter) setClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}

// log logs a line of key through l: dropped if a line of key went out less
// than logEvery ago, else with the number of lines dropped since.
func (l *logLimiter) log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	if !log.Enabled(context.Background(), level) {
		return
	}
	ok, held := l.allow(key)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), level, msg, args...)
}
