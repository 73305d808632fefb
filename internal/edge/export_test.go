package edge

import "time"

// SetLogClock replaces the clock of e's rate-limited log lines.
func SetLogClock(e *Edge, now func() time.Time) { e.logLimit.setClock(now) }
