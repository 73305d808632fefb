package operator

import (
	"fmt"
	"math"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name: "oee",
		Doc:  "availability × performance × quality per machine per tumbling event-time window",
		New:  func() pipeline.Config { c := DefaultOEEConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) {
			cfg, ok := c.(*OEEConfig)
			if !ok {
				return nil, fmt.Errorf("oee: config is %T, want *operator.OEEConfig", c)
			}
			return NewOEE(*cfg)
		},
	})
}

// OEEConfig configures the oee operator.
type OEEConfig struct {
	// Window is the length of the tumbling windows, aligned to multiples of
	// Window since the Unix epoch (so 1h windows start on the hour, UTC).
	Window time.Duration `yaml:"window"`
	// Lateness is how long after a window's end points of it are still
	// accepted; the window closes when an asset's event time (or Tick) passes
	// its end plus Lateness. Must be less than Window.
	Lateness time.Duration `yaml:"lateness"`
	// StateTag carries the machine state: the names running, idle, setup,
	// down (or raw values mapped by StateMap), or the numeric codes the state
	// operator emits with code_tag (1 running, 2 idle, 3 setup, 4 down).
	StateTag string            `yaml:"state_tag"`
	StateMap map[string]string `yaml:"state_map"`
	// Unplanned states do not count as planned production time.
	Unplanned []string `yaml:"unplanned"`
	// GoodTag and ScrapTag are monotonic counters; total = Δgood + Δscrap.
	GoodTag  string `yaml:"good_tag"`
	ScrapTag string `yaml:"scrap_tag"`
	// TotalTag, if set, is a monotonic counter of all parts; ScrapTag is
	// then ignored and total = Δtotal.
	TotalTag string `yaml:"total_tag"`
	// IdealCycleTime applies to assets that no IdealCycleTimes entry matches.
	IdealCycleTime time.Duration `yaml:"ideal_cycle_time"`
	// IdealCycleTimes sets the ideal cycle time per asset pattern (MQTT
	// wildcards: + one segment, # the rest); the first match wins.
	IdealCycleTimes []OEEIdealCycle `yaml:"ideal_cycle_times"`
	// CapPerformance caps performance at 1 (a faster-than-ideal window, or
	// counts landing just after a window's running time, cannot make OEE
	// exceed availability × quality).
	CapPerformance bool `yaml:"cap_performance"`
	// Details also emits oee/running_s, oee/planned_s, oee/good, oee/total.
	Details bool `yaml:"details"`
	// MaxGap: when nothing of an asset arrives for this long or longer, its
	// state is unknown from its last point until the next state value, and
	// unknown time is neither planned nor running; the next counter values
	// are new baselines. 0: a state holds until the next.
	MaxGap time.Duration `yaml:"max_gap"`
	// ClockReset: a point this much older than an asset's newest point is a
	// clock jump: the asset's open windows close and it starts afresh.
	ClockReset time.Duration `yaml:"clock_reset"`
	// Pass forwards the input points.
	Pass bool `yaml:"pass"`
}

// OEEIdealCycle is the ideal cycle time of the assets matching Asset.
type OEEIdealCycle struct {
	Asset string        `yaml:"asset"`
	Time  time.Duration `yaml:"time"`
}

// DefaultOEEConfig returns the defaults: 1h windows, 5s lateness, the sim's
// tags, performance capped. No ideal cycle time: one must be configured.
func DefaultOEEConfig() OEEConfig {
	return OEEConfig{
		Window:         time.Hour,
		Lateness:       5 * time.Second,
		StateTag:       "state",
		GoodTag:        "good_count",
		ScrapTag:       "scrap_count",
		CapPerformance: true,
		ClockReset:     eventsDefaultClockReset,
		Pass:           true,
	}
}

// Validate checks c; messages name the field.
func (c *OEEConfig) Validate() error {
	if c.Window <= 0 {
		return fmt.Errorf("window: must be > 0")
	}
	if c.Lateness < 0 || c.Lateness >= c.Window {
		return fmt.Errorf("lateness: must be >= 0 and less than window (%s)", c.Window)
	}
	for _, f := range []struct{ name, tag string }{{"state_tag", c.StateTag}, {"good_tag", c.GoodTag}} {
		if err := eventsCheckTag(f.name, f.tag); err != nil {
			return err
		}
	}
	if c.TotalTag == "" {
		if err := eventsCheckTag("scrap_tag", c.ScrapTag); err != nil {
			return err
		}
	} else if err := eventsCheckTag("total_tag", c.TotalTag); err != nil {
		return err
	}
	tags := []string{c.StateTag, c.GoodTag, c.ScrapTag}
	if c.TotalTag != "" {
		tags[2] = c.TotalTag
	}
	if tags[0] == tags[1] || tags[0] == tags[2] || tags[1] == tags[2] {
		return fmt.Errorf("state_tag, good_tag and scrap_tag (or total_tag) must differ")
	}
	if _, err := stateNewMapper("state_map", c.StateMap, true); err != nil {
		return err
	}
	planned := 0
	seen := [stateCount]bool{}
	for i, s := range c.Unplanned {
		st, ok := stateParse(s)
		if !ok {
			return fmt.Errorf("unplanned[%d]: %q is not a state; want one of %s", i, s, stateChoices)
		}
		if st == stateRunning {
			return fmt.Errorf("unplanned[%d]: running time is always planned", i)
		}
		seen[st] = true
	}
	for _, s := range seen {
		if !s {
			planned++
		}
	}
	if c.IdealCycleTime < 0 {
		return fmt.Errorf("ideal_cycle_time: must be > 0")
	}
	if c.IdealCycleTime == 0 && len(c.IdealCycleTimes) == 0 {
		return fmt.Errorf("ideal_cycle_time: must be > 0 (or give ideal_cycle_times)")
	}
	for i, ic := range c.IdealCycleTimes {
		if _, err := pipeline.ParseGlob(ic.Asset); err != nil {
			return fmt.Errorf("ideal_cycle_times[%d].asset: %w", i, err)
		}
		if ic.Time <= 0 {
			return fmt.Errorf("ideal_cycle_times[%d].time: must be > 0", i)
		}
	}
	return eventsCheckDurations(c.MaxGap, c.ClockReset)
}

// The output series of one asset, relative to asset/oee/.
const (
	oeeAvailability = iota
	oeePerformance
	oeeQuality
	oeeOEE
	oeeRunningS
	oeePlannedS
	oeeGood
	oeeTotal
	oeeOutputs
)

var oeeSuffixes = [oeeOutputs]string{"availability", "performance", "quality", "oee", "running_s", "planned_s", "good", "total"}

// oeeWindow accumulates one window of one asset.
type oeeWindow struct {
	dur   [stateCount]int64 // ns per state; unknown time is not accumulated
	good  float64
	total float64
	seen  bool // a point of the asset fell into the window; unseen windows are not emitted
}

// oeeCounter follows one monotonic counter.
type oeeCounter struct {
	v  float64
	ts int64
	ok bool
}

// oeeAsset is what the oee operator knows about one asset. win[0] covers
// [ws, ws+W), win[1] the next window: with lateness < W at most two are open.
type oeeAsset struct {
	name               string
	out                [oeeOutputs]string // "" when the path would be invalid
	ideal              float64            // seconds; 0: unknown, no performance
	ws                 int64
	win                [2]oeeWindow
	state              stateID
	since              int64 // start of the current state's unaccounted time (>= ws)
	last               int64 // newest time of any point of the asset seen here
	seen               bool
	good, scrap, total oeeCounter
}

// OEE computes availability, performance, quality and OEE per asset (the
// series' path minus its tag) per tumbling event-time window:
//
//	availability = running time / planned time
//	performance  = ideal cycle time × total count / running time
//	quality      = good count / total count
//	oee          = availability × performance × quality
//
// Planned time is the time in known states minus the Unplanned ones. Counts
// are deltas of monotonic counters between consecutive points; a counter
// that goes down was reset and its new value is the delta. Figures are
// emitted at window close as points asset/oee/<figure> stamped with the
// window's end; a window without planned time emits nothing, performance is
// omitted when there was no running time and quality when nothing was
// produced (OEE is then 0).
//
// Time: a point older than the asset's oldest open window, a state older
// than the current state's start, or a counter value older than the last
// one is late (counted, skipped); a point more than ClockReset older than
// the asset's newest is a clock jump (open windows close, counters keep
// their baseline). Windows in which no point of the asset arrived (gaps)
// are not emitted.
type OEE struct {
	cfg      OEEConfig
	ideal    []pipeline.Glob // of cfg.IdealCycleTimes
	mapper   stateMapper
	planned  [stateCount]bool
	window   int64
	lateness int64
	maxGap   int64
	reset    int64

	index  map[string]int
	assets []*oeeAsset // first-seen order, so Tick is deterministic
	ctr    eventsCounters
}

// NewOEE returns an oee operator for cfg.
func NewOEE(cfg OEEConfig) (*OEE, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := stateNewMapper("state_map", cfg.StateMap, true)
	if err != nil {
		return nil, err
	}
	o := &OEE{cfg: cfg, mapper: m, window: int64(cfg.Window), lateness: int64(cfg.Lateness),
		maxGap: int64(cfg.MaxGap), reset: int64(cfg.ClockReset), index: map[string]int{}}
	for _, ic := range cfg.IdealCycleTimes {
		g, _ := pipeline.ParseGlob(ic.Asset)
		o.ideal = append(o.ideal, g)
	}
	for i := stateRunning; i < stateCount; i++ {
		o.planned[i] = true
	}
	for _, s := range cfg.Unplanned {
		st, _ := stateParse(s)
		o.planned[st] = false
	}
	return o, nil
}

// Stats returns the operator's counters by name.
func (o *OEE) Stats() map[string]uint64 { return o.ctr.snapshot() }

// What a tag means to the oee operator.
const (
	oeeRoleNone = iota
	oeeRoleState
	oeeRoleGood
	oeeRoleScrap
	oeeRoleTotal
)

func (o *OEE) role(tag string) int {
	switch tag {
	case o.cfg.StateTag:
		return oeeRoleState
	case o.cfg.GoodTag:
		return oeeRoleGood
	}
	if o.cfg.TotalTag != "" {
		if tag == o.cfg.TotalTag {
			return oeeRoleTotal
		}
	} else if tag == o.cfg.ScrapTag {
		return oeeRoleScrap
	}
	return oeeRoleNone
}

func (o *OEE) asset(name string) *oeeAsset {
	if i, ok := o.index[name]; ok {
		return o.assets[i]
	}
	a := &oeeAsset{name: name, ideal: o.cfg.IdealCycleTime.Seconds()}
	for i, g := range o.ideal {
		if g.Match(name) {
			a.ideal = o.cfg.IdealCycleTimes[i].Time.Seconds()
			break
		}
	}
	for i, s := range oeeSuffixes {
		a.out[i] = o.ctr.outputPath(name, "/oee/"+s)
	}
	o.index[name] = len(o.assets)
	o.assets = append(o.assets, a)
	return a
}

// Process implements pipeline.Operator.
func (o *OEE) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if o.cfg.Pass {
			out.Points = append(out.Points, *p)
		}
		if role := o.role(uns.Tag(p.Series)); role != oeeRoleNone {
			o.point(p, role, out)
		}
	}
}

func (o *OEE) point(p *uns.Point, role int, out *pipeline.Output) {
	a := o.asset(uns.Asset(p.Series))
	ts := p.TS
	if !a.seen {
		a.seen, a.last = true, ts
		a.ws = o.floor(ts)
		a.since = a.ws
	}
	if ts < a.last && a.last-ts > o.reset {
		o.ctr.clockResets.Add(1)
		o.flush(a, out)
		a.last, a.ws = ts, o.floor(ts)
		a.state, a.since = stateUnknown, a.ws
		// The counters keep counting through a clock jump: keep their
		// values as baselines, forget their times.
		for _, c := range []*oeeCounter{&a.good, &a.scrap, &a.total} {
			c.ts = math.MinInt64
		}
	}
	if ts < a.ws {
		o.ctr.skipLate(out)
		return
	}
	if ts > a.last {
		if o.maxGap > 0 && ts-a.last >= o.maxGap {
			o.gap(a)
		}
		o.advance(a, ts, out)
		a.last = ts
	}
	w := &a.win[0]
	if ts >= a.ws+o.window {
		w = &a.win[1]
	}
	switch role {
	case oeeRoleState:
		st, ok := o.ctr.state(&o.mapper, p, out)
		if !ok {
			return
		}
		if ts < a.since {
			o.ctr.skipLate(out)
			return
		}
		w.seen = true
		o.setState(a, st, ts)
	case oeeRoleGood:
		if d, ok := o.delta(&a.good, p, out); ok {
			w.seen = true
			w.good += d
			if o.cfg.TotalTag == "" {
				w.total += d
			}
		}
	case oeeRoleScrap:
		if d, ok := o.delta(&a.scrap, p, out); ok {
			w.seen = true
			w.total += d
		}
	case oeeRoleTotal:
		if d, ok := o.delta(&a.total, p, out); ok {
			w.seen = true
			w.total += d
		}
	}
}

// gap ends a's state at its last point and makes the next counter values
// new baselines, so that neither the gap's time nor its parts go to a
// window. Tick and the next point may both see the same gap: it counts once.
func (o *OEE) gap(a *oeeAsset) {
	if a.state == stateUnknown && !a.good.ok && !a.scrap.ok && !a.total.ok {
		return
	}
	o.ctr.gaps.Add(1)
	o.setState(a, stateUnknown, a.last)
	a.good.ok, a.scrap.ok, a.total.ok = false, false, false
}

// delta returns the increase of counter c at point p. The first value is a
// baseline (delta 0); a decrease is a counter reset, and the new value is
// the delta (the counter restarted from 0).
func (o *OEE) delta(c *oeeCounter, p *uns.Point, out *pipeline.Output) (float64, bool) {
	v, ok := o.ctr.number(p, out)
	if !ok {
		return 0, false
	}
	if c.ok && p.TS < c.ts {
		o.ctr.skipLate(out)
		return 0, false
	}
	d := 0.0
	if c.ok {
		d = v - c.v
		if d < 0 {
			o.ctr.counterResets.Add(1)
			d = max(v, 0)
		}
	}
	c.v, c.ts, c.ok = v, p.TS, true
	return d, true
}

func (o *OEE) floor(ts int64) int64 {
	r := ts % o.window
	if r < 0 {
		r += o.window
	}
	return ts - r
}

// account adds [a.since, to) of the current state to the open windows and
// moves since to to.
func (o *OEE) account(a *oeeAsset, to int64) {
	if to <= a.since {
		return
	}
	if a.state != stateUnknown {
		mid := a.ws + o.window
		if from := a.since; from < mid {
			a.win[0].dur[a.state] += min(to, mid) - from
		}
		if to > mid {
			a.win[1].dur[a.state] += to - max(a.since, mid)
		}
	}
	a.since = to
}

func (o *OEE) setState(a *oeeAsset, st stateID, ts int64) {
	o.account(a, ts)
	a.state = st
}

// advance closes the windows of a that end (plus lateness) at or before now.
func (o *OEE) advance(a *oeeAsset, now int64, out *pipeline.Output) {
	for now >= a.ws+o.window+o.lateness {
		end := a.ws + o.window
		o.account(a, end)
		o.emit(a, &a.win[0], end, out)
		a.win[0], a.win[1] = a.win[1], oeeWindow{}
		a.ws = end
		if !a.win[0].seen {
			// Nothing arrived in the next window either: jump over the gap
			// instead of closing empty windows one by one.
			if ws := o.floor(now) - o.window; ws > a.ws {
				a.ws = ws
				a.since = max(a.since, ws)
			}
		}
	}
}

// flush closes both open windows, accounting the state up to a.last only.
func (o *OEE) flush(a *oeeAsset, out *pipeline.Output) {
	for range 2 {
		end := a.ws + o.window
		o.account(a, min(end, max(a.last, a.since)))
		o.emit(a, &a.win[0], end, out)
		a.win[0], a.win[1] = a.win[1], oeeWindow{}
		a.ws = end
		a.since = max(a.since, a.ws)
	}
}

// emit appends the figures of window w of a, which ends at end.
func (o *OEE) emit(a *oeeAsset, w *oeeWindow, end int64, out *pipeline.Output) {
	if !w.seen {
		return
	}
	var planned int64
	for st, d := range w.dur {
		if o.planned[st] {
			planned += d
		}
	}
	if planned == 0 {
		return
	}
	running := w.dur[stateRunning]
	avail := float64(running) / float64(planned)
	perf, hasPerf := 0.0, false
	if running > 0 && a.ideal > 0 {
		perf, hasPerf = a.ideal*w.total/(float64(running)/1e9), true
		if o.cfg.CapPerformance && perf > 1 {
			perf = 1
		}
	}
	qual, hasQual := 0.0, false
	if w.total > 0 {
		qual, hasQual = min(w.good/w.total, 1), true
	}
	o.put(a, oeeAvailability, end, avail, out)
	if hasPerf {
		o.put(a, oeePerformance, end, perf, out)
	}
	if hasQual {
		o.put(a, oeeQuality, end, qual, out)
	}
	// Without running time availability is 0; without parts performance is
	// 0: either way OEE is 0, and defined. Without an ideal cycle time it is
	// not known.
	if a.ideal > 0 {
		o.put(a, oeeOEE, end, avail*perf*qual, out)
	}
	if o.cfg.Details {
		o.put(a, oeeRunningS, end, float64(running)/1e9, out)
		o.put(a, oeePlannedS, end, float64(planned)/1e9, out)
		o.put(a, oeeGood, end, w.good, out)
		o.put(a, oeeTotal, end, w.total, out)
	}
}

func (o *OEE) put(a *oeeAsset, which int, ts int64, v float64, out *pipeline.Output) {
	if a.out[which] == "" {
		return
	}
	out.Points = append(out.Points, uns.Point{Series: a.out[which], TS: ts, Value: uns.Float(v)})
	o.ctr.points.Add(1)
}

// MaxWait implements pipeline.Waiter: the window holding the last input
// closes a window plus lateness after it, and ends a state after max_gap.
func (o *OEE) MaxWait() time.Duration { return max(o.cfg.Window+o.cfg.Lateness, o.cfg.MaxGap) }

// Tick implements pipeline.Operator: it ends states of assets silent for
// MaxGap or longer and closes windows whose end plus Lateness has passed.
func (o *OEE) Tick(now int64, out *pipeline.Output) {
	for _, a := range o.assets {
		if o.maxGap > 0 && now-a.last >= o.maxGap {
			o.gap(a)
		}
		o.advance(a, now, out)
	}
}
