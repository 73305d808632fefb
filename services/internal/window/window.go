// Package window is what molen's first-party services share: per-asset
// accounting of time in each state and of sums (parts, energy) in tumbling
// windows aligned to the clock, closed by points or by the host's ticks.
// It is compiled into each service's module, so it stays small and uses
// no reflection beyond encoding/json for parameters.
package window

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Split returns a series' asset (the path without its last segment) and
// tag (the last segment).
func Split(series string) (asset, tag string) {
	i := strings.LastIndexByte(series, '/')
	if i < 0 {
		return "", series
	}
	return series[:i], series[i+1:]
}

// Params decodes an install's parameters (a JSON object the edge checked
// against the manifest's schema and filled with defaults) into p, which
// holds the defaults for a test that gives none.
func Params(raw []byte, p any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return fmt.Errorf("parameters: %w", err)
	}
	return nil
}

// Totals is one asset's window: nanoseconds in each state and sums.
type Totals struct {
	Start, End int64            // unix ns
	Time       map[string]int64 // ns per state
	Sum        map[string]float64
}

// Observed is the time of the window in any known state.
func (t *Totals) Observed() int64 {
	var n int64
	for _, d := range t.Time {
		n += d
	}
	return n
}

// Share is the part of the observed time spent in state (0 when nothing
// was observed).
func (t *Totals) Share(state string) float64 {
	if o := t.Observed(); o > 0 {
		return float64(t.Time[state]) / float64(o)
	}
	return 0
}

// Asset is one asset's state and its open window.
type Asset struct {
	Path  string
	State string // "" until the first state point
	Since int64  // when State began (unix ns)
	at    int64  // time accounted up to (unix ns)
	last  map[string]float64
	win   Totals
}

// Tracker keeps the assets of one service install. Close is called with
// each window that ends, once its time is accounted.
type Tracker struct {
	Len    int64 // window length, ns
	Close  func(a *Asset, w *Totals)
	assets map[string]*Asset
	order  []*Asset
	last   *Asset // the asset Asset returned last: a batch holds runs of one machine's tags
}

// Asset returns the asset at path, creating it; path may point into the
// input buffer (it is cloned when kept).
func (t *Tracker) Asset(path string) *Asset {
	// Comparing strings is much cheaper than hashing them in
	// WebAssembly, and a device publishes its tags together.
	if t.last != nil && t.last.Path == path {
		return t.last
	}
	if a := t.assets[path]; a != nil {
		t.last = a
		return a
	}
	if t.assets == nil {
		t.assets = map[string]*Asset{}
	}
	a := &Asset{Path: strings.Clone(path), last: map[string]float64{}}
	a.win = Totals{Time: map[string]int64{}, Sum: map[string]float64{}}
	t.assets[a.Path] = a
	t.order = append(t.order, a)
	t.last = a
	return a
}

// Assets returns the assets in the order they were first seen.
func (t *Tracker) Assets() []*Asset { return t.order }

// Advance accounts the time up to ts to the asset's current state,
// closing the windows that end on the way. Time going backwards (a late
// point) accounts nothing.
func (t *Tracker) Advance(a *Asset, ts int64) {
	if a.at == 0 {
		a.at = ts
		a.win.Start = ts - ts%t.Len
		a.win.End = a.win.Start + t.Len
	}
	for ts > a.at {
		upto := min(ts, a.win.End)
		if a.State != "" && upto > a.at {
			a.win.Time[a.State] += upto - a.at
		}
		a.at = max(a.at, upto)
		if a.at < a.win.End {
			break
		}
		if t.Close != nil && (len(a.win.Time) > 0 || len(a.win.Sum) > 0) {
			t.Close(a, &a.win)
		}
		clear(a.win.Time)
		clear(a.win.Sum)
		a.win.Start = a.win.End
		a.win.End += t.Len
	}
}

// SetState accounts the time up to ts, then makes state the asset's
// state from ts on. It returns the previous state and when it began.
func (t *Tracker) SetState(a *Asset, ts int64, state string) (prev string, since int64) {
	t.Advance(a, ts)
	prev, since = a.State, a.Since
	if state != a.State {
		a.State = strings.Clone(state)
		a.Since = ts
	}
	return prev, since
}

// Add adds v to the sum name of the asset's open window, at ts. name is a
// map key: it must not point into the input buffer (a Go map assignment
// replaces an existing string key too), so pass a constant.
func (t *Tracker) Add(a *Asset, ts int64, name string, v float64) {
	t.Advance(a, ts)
	a.win.Sum[name] += v
}

// Counter adds the increase of a monotonic counter (parts, kWh) to the sum
// name: the difference to its previous value, or the value itself after
// a reset (the counter went down). The first value only sets the start.
// name is a constant, as for Add. It returns the increase.
func (t *Tracker) Counter(a *Asset, ts int64, name string, v float64) float64 {
	prev, seen := a.last[name]
	a.last[name] = v
	d := v
	switch {
	case !seen:
		t.Advance(a, ts)
		return 0
	case v >= prev:
		d = v - prev
	}
	t.Add(a, ts, name, d)
	return d
}

// Tick lets time pass for every asset, closing the windows that ended
// before now.
func (t *Tracker) Tick(now int64) {
	for _, a := range t.order {
		if a.at != 0 {
			t.Advance(a, now)
		}
	}
}
