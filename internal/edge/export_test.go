package edge

import "time"

// SetLogClock replaces the clock of e's rate-limited log lines.
func SetLogClock(e *Edge, now func() time.Time) { e.logLimit.setClock(now) }

// OwnSessions is the number of device sessions on the own ingest path.
func OwnSessions(e *Edge) int {
	e.own.mu.Lock()
	defer e.own.mu.Unlock()
	return len(e.own.m)
}
