package operator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name:  "window",
		Doc:   "aggregate each series over tumbling, sliding or session windows of event time",
		New:   func() pipeline.Config { c := DefaultWindowConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewWindow(*c.(*WindowConfig)) },
	})
}

// WindowConfig configures window. Windows are per series and on event
// time: tumbling windows [k·size, (k+1)·size) aligned to the Unix epoch;
// sliding windows of size starting every hop; session windows that last
// while points come less than gap apart. A window closes, and emits one
// point per aggregate, once the series' time (its newest point, or the
// tick clock) has passed its end by allowed_lateness. A point for a closed
// window is late: counted and dropped. Windows exist only where points
// are, so a gap in the data gives no empty windows.
type WindowConfig struct {
	Type            string        `yaml:"type"` // tumbling (the default), sliding or session
	Size            time.Duration `yaml:"size"`
	Hop             time.Duration `yaml:"hop"` // sliding only
	Gap             time.Duration `yaml:"gap"` // session only
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// Aggregates: min, max, mean, sum, count, first, last, stddev and
	// percentiles p50, p90, p95, p99 or any pNN (p0…p100, e.g. p99.9).
	Aggregates []string `yaml:"aggregates"`
	// Series names the outputs ({series}, {asset}, {tag}, {1}…{16}, {agg},
	// {window}); {window} is the size (10s, 1m), size_hop for sliding
	// windows (1m_10s), or "session".
	Series string `yaml:"series"`
	// Timestamp of an output point: the window's start (the default) or
	// end (for a session window, its last point).
	Timestamp string `yaml:"timestamp"`
	// ClockJump: a point late by more than this behind its series' newest
	// point means the device clock was set back: the series' open windows
	// are emitted and it starts again from this point. 0 turns it off.
	ClockJump time.Duration `yaml:"clock_jump"`
}

// DefaultWindowConfig returns window's defaults (size has none).
func DefaultWindowConfig() WindowConfig {
	return WindowConfig{
		Type:       "tumbling",
		Aggregates: []string{"mean"},
		Series:     "{series}/{agg}_{window}",
		Timestamp:  "start",
		ClockJump:  10 * time.Minute,
	}
}

// Validate checks c.
func (c *WindowConfig) Validate() error {
	_, err := NewWindow(*c)
	return err
}

type aggKind uint8

const (
	aggMin aggKind = iota
	aggMax
	aggMean
	aggSum
	aggCount
	aggFirst
	aggLast
	aggStddev
	aggPercentile
)

type aggregate struct {
	kind aggKind
	q    float64 // percentile, 0…100
	name string  // as written, for {agg}
}

func parseAggregate(s string) (aggregate, error) {
	kinds := map[string]aggKind{"min": aggMin, "max": aggMax, "mean": aggMean, "sum": aggSum,
		"count": aggCount, "first": aggFirst, "last": aggLast, "stddev": aggStddev}
	if k, ok := kinds[s]; ok {
		return aggregate{kind: k, name: s}, nil
	}
	if rest, ok := strings.CutPrefix(s, "p"); ok && rest != "" && !strings.ContainsAny(rest, "eE+-") {
		if q, err := strconv.ParseFloat(rest, 64); err == nil && q >= 0 && q <= 100 {
			return aggregate{kind: aggPercentile, q: q, name: s}, nil
		}
	}
	return aggregate{}, fmt.Errorf("%q: want min, max, mean, sum, count, first, last, stddev or a percentile p0…p100 like p95", s)
}

// win is one open window of one series.
type win struct {
	start, end  int64 // [start, end); for a session, end is its last point + gap
	n           int64
	sum         float64
	mean, m2    float64 // Welford's running mean and sum of squared deviations
	min, max    float64
	first, last uns.Value
	firstTS     int64
	lastTS      int64
	q           uns.Quality // the worst quality seen
	vals        []float64   // every value, for percentiles only
}

func (w *win) add(v float64, raw uns.Value, ts int64, q uns.Quality, keep bool) {
	if w.n == 0 {
		w.min, w.max, w.first, w.firstTS, w.last, w.lastTS = v, v, raw, ts, raw, ts
	}
	w.n++
	w.sum += v
	d := v - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (v - w.mean)
	w.min, w.max = min(w.min, v), max(w.max, v)
	if ts < w.firstTS {
		w.first, w.firstTS = raw, ts
	}
	if ts >= w.lastTS {
		w.last, w.lastTS = raw, ts
	}
	w.q = max(w.q, q)
	if keep {
		w.vals = append(w.vals, v)
	}
}

// merge adds o's contents to w (two sessions joined by a point between them).
func (w *win) merge(o *win) {
	n := w.n + o.n
	d := o.mean - w.mean
	w.m2 += o.m2 + d*d*float64(w.n)*float64(o.n)/float64(n)
	w.mean += d * float64(o.n) / float64(n)
	w.n = n
	w.sum += o.sum
	w.min, w.max = min(w.min, o.min), max(w.max, o.max)
	if o.firstTS < w.firstTS {
		w.first, w.firstTS = o.first, o.firstTS
	}
	if o.lastTS >= w.lastTS {
		w.last, w.lastTS = o.last, o.lastTS
	}
	w.start, w.end = min(w.start, o.start), max(w.end, o.end)
	w.q = max(w.q, o.q)
	w.vals = append(w.vals, o.vals...)
}

func (w *win) value(a aggregate) uns.Value {
	switch a.kind {
	case aggMin:
		return uns.Float(w.min)
	case aggMax:
		return uns.Float(w.max)
	case aggMean:
		return uns.Float(w.mean)
	case aggSum:
		return uns.Float(w.sum)
	case aggCount:
		return uns.Int(w.n)
	case aggFirst:
		return w.first
	case aggLast:
		return w.last
	case aggStddev:
		if w.n < 2 {
			return uns.Float(0)
		}
		return uns.Float(math.Sqrt(w.m2 / float64(w.n-1)))
	}
	return uns.Float(percentile(w.vals, a.q))
}

// percentile of sorted vals by linear interpolation between closest ranks
// (as numpy's default and Excel's PERCENTILE.INC).
func percentile(vals []float64, q float64) float64 {
	r := q / 100 * float64(len(vals)-1)
	lo := int(r)
	if lo >= len(vals)-1 {
		return vals[len(vals)-1]
	}
	return vals[lo] + (r-float64(lo))*(vals[lo+1]-vals[lo])
}

// windowSeries is the state of one series.
type windowSeries struct {
	names []string // output series, per aggregate; nil if invalid
	wm    int64    // the series' time: its newest point, or the tick clock past it
	hasWM bool
	skew  int64  // how far the series' clock was behind the tick clock at its last point (≥ 0)
	open  []*win // by start
}

// Window aggregates series over windows of event time.
type Window struct {
	cfg      WindowConfig
	kind     string
	size     int64
	hop      int64
	gap      int64
	late     int64
	jump     int64
	atEnd    bool
	aggs     []aggregate
	keepVals bool // some aggregate is a percentile
	tmpl     template
	label    string // {window}
	series   map[string]*windowSeries
	order    []*windowSeries // in order of first sight, so Tick is deterministic
	free     []*win
	lastNow  int64
}

// NewWindow builds a window from a config, checking it.
func NewWindow(c WindowConfig) (*Window, error) {
	w := &Window{cfg: c, kind: c.Type, series: map[string]*windowSeries{}}
	switch c.Type {
	case "tumbling", "sliding":
		if err := positive("size", c.Size); err != nil {
			return nil, err
		}
		w.size, w.hop, w.label = int64(c.Size), int64(c.Size), shortDuration(c.Size)
		if c.Gap != 0 {
			return nil, fmt.Errorf("gap: only for session windows")
		}
		if c.Type == "sliding" {
			if err := positive("hop", c.Hop); err != nil {
				return nil, err
			}
			if c.Hop > c.Size || c.Size%c.Hop != 0 {
				return nil, fmt.Errorf("hop: must divide size (%s) evenly", c.Size)
			}
			if c.Size/c.Hop > 1000 {
				return nil, fmt.Errorf("hop: at most 1000 windows per point; %s/%s is %d", c.Size, c.Hop, c.Size/c.Hop)
			}
			w.hop = int64(c.Hop)
			w.label += "_" + shortDuration(c.Hop)
		} else if c.Hop != 0 {
			return nil, fmt.Errorf("hop: only for sliding windows")
		}
	case "session":
		if err := positive("gap", c.Gap); err != nil {
			return nil, err
		}
		if c.Size != 0 || c.Hop != 0 {
			return nil, fmt.Errorf("size: not for session windows (they last while points come less than gap apart)")
		}
		w.gap, w.label = int64(c.Gap), "session"
	default:
		return nil, fmt.Errorf("type: %q: want tumbling, sliding or session", c.Type)
	}
	if err := nonNegative("allowed_lateness", c.AllowedLateness); err != nil {
		return nil, err
	}
	if err := nonNegative("clock_jump", c.ClockJump); err != nil {
		return nil, err
	}
	w.late, w.jump = int64(c.AllowedLateness), int64(c.ClockJump)
	if len(c.Aggregates) == 0 {
		return nil, fmt.Errorf("aggregates: list at least one")
	}
	for i, s := range c.Aggregates {
		a, err := parseAggregate(s)
		if err != nil {
			return nil, fmt.Errorf("aggregates[%d]: %v", i, err)
		}
		if slices.ContainsFunc(w.aggs, func(b aggregate) bool { return b.name == a.name }) {
			return nil, fmt.Errorf("aggregates[%d]: %q given twice", i, s)
		}
		w.aggs = append(w.aggs, a)
		w.keepVals = w.keepVals || a.kind == aggPercentile
	}
	switch c.Timestamp {
	case "start", "end":
		w.atEnd = c.Timestamp == "end"
	default:
		return nil, fmt.Errorf("timestamp: %q: want start or end", c.Timestamp)
	}
	t, err := parseTemplate(c.Series, "agg", "window")
	if err != nil {
		return nil, fmt.Errorf("series: %v", err)
	}
	if len(w.aggs) > 1 && !strings.Contains(c.Series, "{agg}") {
		return nil, fmt.Errorf("series: %q: with several aggregates the name must contain {agg}", c.Series)
	}
	w.tmpl = t
	return w, nil
}

// MaxWait is how long after its last point a window may still be open.
func (w *Window) MaxWait() time.Duration {
	if w.kind == "session" {
		return time.Duration(w.gap + w.late)
	}
	return time.Duration(w.size + w.late)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q * b
}

// Process adds each point to its windows and emits the windows its time
// closes.
func (w *Window) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		v, r, ok := number(p.Value)
		if !ok {
			out.Skip(r)
			continue
		}
		s := w.series[p.Series]
		if s == nil {
			s = w.newSeries(p.Series)
		}
		s.skew = max(0, w.lastNow-p.TS)
		if s.hasWM && w.closedAt(w.lastEnd(p.TS), s.wm) && !w.inSession(s, p.TS) {
			if w.jump == 0 || s.wm-p.TS <= w.jump {
				out.Skip(pipeline.Late)
				continue
			}
			// The device clock was set back: emit what is open and
			// start again from this point.
			w.closeUpTo(s, math.MaxInt64, out)
			s.hasWM = false
		}
		if !s.hasWM || p.TS > s.wm {
			s.wm, s.hasWM = p.TS, true
		}
		if s.names == nil {
			out.Skip(pipeline.EvalError)
			continue
		}
		switch w.kind {
		case "session":
			w.addSession(s, v, p)
		default:
			for start := floorDiv(p.TS, w.hop); start > p.TS-w.size; start -= w.hop {
				if !w.closedAt(start+w.size, s.wm) {
					w.window(s, start).add(v, p.Value, p.TS, p.Quality, w.keepVals)
				}
			}
		}
		w.closeUpTo(s, s.wm, out)
	}
}

// lastEnd is the end of the latest window a point at ts belongs to.
func (w *Window) lastEnd(ts int64) int64 {
	if w.kind == "session" {
		return ts + w.gap
	}
	return floorDiv(ts, w.hop) + w.size
}

// inSession reports whether ts falls in an open session of s.
func (w *Window) inSession(s *windowSeries, ts int64) bool {
	if w.kind != "session" {
		return false
	}
	return slices.ContainsFunc(s.open, func(o *win) bool { return ts > o.start-w.gap && ts < o.end })
}

// closedAt reports whether a window ending at end is closed at time now.
func (w *Window) closedAt(end, now int64) bool { return end+w.late <= now }

func (w *Window) newSeries(name string) *windowSeries {
	s := &windowSeries{names: make([]string, len(w.aggs))}
	for k, a := range w.aggs {
		n, ok := w.tmpl.expand(name, "agg", a.name, "window", w.label)
		if !ok {
			s.names = nil
			break
		}
		s.names[k] = n
	}
	w.series[name] = s
	w.order = append(w.order, s)
	return s
}

// window returns the open window of s starting at start, making it.
func (w *Window) window(s *windowSeries, start int64) *win {
	i, found := slices.BinarySearchFunc(s.open, start, func(x *win, t int64) int {
		switch {
		case x.start < t:
			return -1
		case x.start > t:
			return 1
		}
		return 0
	})
	if found {
		return s.open[i]
	}
	nw := w.alloc()
	nw.start, nw.end = start, start+w.size
	s.open = slices.Insert(s.open, i, nw)
	return nw
}

func (w *Window) addSession(s *windowSeries, v float64, p *uns.Point) {
	var into *win
	for i := 0; i < len(s.open); i++ {
		o := s.open[i]
		if p.TS <= o.start-w.gap || p.TS >= o.end {
			continue
		}
		if into == nil {
			into = o
			continue
		}
		// p bridges two sessions: they become one.
		into.merge(o)
		w.release(o)
		s.open = slices.Delete(s.open, i, i+1)
		i--
	}
	if into == nil {
		into = w.alloc()
		into.start, into.end = p.TS, p.TS+w.gap
		i, _ := slices.BinarySearchFunc(s.open, p.TS, func(x *win, t int64) int {
			if x.start < t {
				return -1
			}
			return 1
		})
		s.open = slices.Insert(s.open, i, into)
	}
	into.add(v, p.Value, p.TS, p.Quality, w.keepVals)
	into.start = min(into.start, p.TS)
	into.end = max(into.end, p.TS+w.gap)
}

// closeUpTo emits and frees the windows of s closed at now, in order.
func (w *Window) closeUpTo(s *windowSeries, now int64, out *pipeline.Output) {
	n := 0
	for _, o := range s.open {
		if !w.closedAt(o.end, now) && now != math.MaxInt64 {
			s.open[n] = o
			n++
			continue
		}
		w.emit(s, o, out)
		w.release(o)
	}
	clear(s.open[n:])
	s.open = s.open[:n]
}

func (w *Window) emit(s *windowSeries, o *win, out *pipeline.Output) {
	if w.keepVals {
		slices.Sort(o.vals)
	}
	ts := o.start
	if w.atEnd {
		ts = o.end
		if w.kind == "session" {
			ts = o.lastTS
		}
	}
	for k, a := range w.aggs {
		out.Points = append(out.Points, uns.Point{Series: s.names[k], TS: ts, Value: o.value(a), Quality: o.q})
	}
}

func (w *Window) alloc() *win {
	if n := len(w.free); n > 0 {
		o := w.free[n-1]
		w.free = w.free[:n-1]
		return o
	}
	return &win{}
}

func (w *Window) release(o *win) {
	*o = win{vals: o.vals[:0]}
	w.free = append(w.free, o)
}

// Tick closes the windows whose time is up at now, as seen from each
// series' clock (now less the series' skew), and moves each series' time
// on to it, so a point for a window closed here counts as late.
func (w *Window) Tick(now int64, out *pipeline.Output) {
	w.lastNow = now
	for _, s := range w.order {
		t := now - s.skew
		if s.hasWM && t > s.wm {
			s.wm = t
		}
		if len(s.open) > 0 {
			w.closeUpTo(s, t, out)
		}
	}
}
