package edge

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter()
	t0 := time.Unix(1_800_000_000, 0)
	var now time.Time
	l.setClock(func() time.Time { return now })
	steps := []struct {
		at       time.Duration
		key      string
		wantOK   bool
		wantHeld int
	}{
		{0, "a", true, 0},
		{0, "a", false, 0},
		{time.Second, "b", true, 0}, // keys are limited each on its own
		{logEvery - 1, "a", false, 0},
		{logEvery, "a", true, 2},
		{logEvery, "b", false, 0},
		{3 * logEvery, "a", true, 0},
		{3 * logEvery, "b", true, 1},
	}
	for i, s := range steps {
		now = t0.Add(s.at)
		if ok, held := l.allow(s.key); ok != s.wantOK || held != s.wantHeld {
			t.Errorf("step %d: allow(%q) at %v = %v, %d; want %v, %d", i, s.key, s.at, ok, held, s.wantOK, s.wantHeld)
		}
	}
}
