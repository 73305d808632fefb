package operator

import (
	"fmt"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name: "state",
		Doc:  "derive machine state intervals (running, idle, setup, down) and downtime events per asset",
		New:  func() pipeline.Config { c := DefaultStateConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) {
			cfg, ok := c.(*StateConfig)
			if !ok {
				return nil, fmt.Errorf("state: config is %T, want *operator.StateConfig", c)
			}
			return NewState(*cfg)
		},
	})
}

// StateConfig configures the state operator. The state comes either from a
// state tag (Tag, mapped through Map) or, when Rules is set, from rules on
// process values.
type StateConfig struct {
	// Tag is the tag carrying the machine state, e.g. "state" in
	// site/area/line/machine/state. Ignored when Rules is set.
	Tag string `yaml:"tag"`
	// Map maps raw values of Tag (strings, or integer codes written as
	// strings: "3") onto running, idle, setup or down. The four names always
	// map to themselves unless overridden here.
	Map map[string]string `yaml:"map"`
	// Rules derive the state from process values instead of a state tag:
	// evaluated in order on every point of a rule's tag, first match wins.
	Rules []StateRule `yaml:"rules"`
	// Default is the state when no rule matches (rules mode only).
	Default string `yaml:"default"`
	// DowntimeStates are the states whose intervals are also downtime events.
	DowntimeStates []string `yaml:"downtime_states"`
	// ReasonTag is the tag carrying a downtime reason code; the last value
	// seen during a downtime interval becomes its reason, else the state name.
	// Empty disables it.
	ReasonTag string `yaml:"reason_tag"`
	// EmitOpen also emits each interval when it opens (End 0); its close
	// repeats Asset, Kind and Start with End set.
	EmitOpen bool `yaml:"emit_open"`
	// CodeTag, if set, emits a point asset/<code_tag> with the numeric state
	// (0 unknown, 1 running, 2 idle, 3 setup, 4 down) on every change.
	CodeTag string `yaml:"code_tag"`
	// MaxGap closes the open interval at an asset's last point when nothing
	// of the asset arrives for MaxGap or longer; the state is unknown until
	// the next state value. 0 disables it: a state holds until the next one.
	MaxGap time.Duration `yaml:"max_gap"`
	// ClockReset is how far back in time a point may be before it counts as
	// a clock jump (history reset) rather than a late point (skipped).
	ClockReset time.Duration `yaml:"clock_reset"`
	// Pass forwards the input points.
	Pass bool `yaml:"pass"`
}

// StateRule is one rule of rules mode: State holds when the latest value of
// Tag compares to Value with Op (one of > >= < <= == !=).
type StateRule struct {
	State string  `yaml:"state"`
	Tag   string  `yaml:"tag"`
	Op    string  `yaml:"op"`
	Value float64 `yaml:"value"`
}

// DefaultStateConfig returns the defaults: the tag "state", downtime for
// down and setup, reasons from the tag "reason", input passed through.
func DefaultStateConfig() StateConfig {
	return StateConfig{
		Tag:            "state",
		Default:        "idle",
		DowntimeStates: []string{"down", "setup"},
		ReasonTag:      "reason",
		ClockReset:     eventsDefaultClockReset,
		Pass:           true,
	}
}

// Validate checks c; messages name the field.
func (c *StateConfig) Validate() error {
	if len(c.Rules) == 0 {
		if err := eventsCheckTag("tag", c.Tag); err != nil {
			return err
		}
		if c.Tag == c.ReasonTag {
			return fmt.Errorf("reason_tag: %q is also the state tag", c.ReasonTag)
		}
	}
	if _, err := stateNewMapper("map", c.Map, false); err != nil {
		return err
	}
	for i, r := range c.Rules {
		if _, ok := stateParse(r.State); !ok {
			return fmt.Errorf("rules[%d].state: %q is not a state; want one of %s", i, r.State, stateChoices)
		}
		if err := eventsCheckTag(fmt.Sprintf("rules[%d].tag", i), r.Tag); err != nil {
			return err
		}
		if r.Tag == c.ReasonTag {
			return fmt.Errorf("rules[%d].tag: %q is also the reason_tag", i, r.Tag)
		}
		if stateOpOf(r.Op) == stateOpNone {
			return fmt.Errorf("rules[%d].op: %q: must be one of > >= < <= == !=", i, r.Op)
		}
	}
	if len(c.Rules) > 0 {
		if _, ok := stateParse(c.Default); !ok {
			return fmt.Errorf("default: %q is not a state; want one of %s", c.Default, stateChoices)
		}
	}
	for i, s := range c.DowntimeStates {
		if _, ok := stateParse(s); !ok {
			return fmt.Errorf("downtime_states[%d]: %q is not a state; want one of %s", i, s, stateChoices)
		}
	}
	if c.ReasonTag != "" {
		if err := eventsCheckTag("reason_tag", c.ReasonTag); err != nil {
			return err
		}
	}
	if c.CodeTag != "" {
		if err := eventsCheckTag("code_tag", c.CodeTag); err != nil {
			return err
		}
	}
	return eventsCheckDurations(c.MaxGap, c.ClockReset)
}

// stateOp is a comparison of a rule.
type stateOp uint8

const (
	stateOpNone stateOp = iota
	stateOpGT
	stateOpGE
	stateOpLT
	stateOpLE
	stateOpEQ
	stateOpNE
)

func stateOpOf(s string) stateOp {
	switch s {
	case ">":
		return stateOpGT
	case ">=":
		return stateOpGE
	case "<":
		return stateOpLT
	case "<=":
		return stateOpLE
	case "==":
		return stateOpEQ
	case "!=":
		return stateOpNE
	}
	return stateOpNone
}

func (o stateOp) holds(a, b float64) bool {
	switch o {
	case stateOpGT:
		return a > b
	case stateOpGE:
		return a >= b
	case stateOpLT:
		return a < b
	case stateOpLE:
		return a <= b
	case stateOpEQ:
		return a == b
	case stateOpNE:
		return a != b
	}
	return false
}

// stateRule is a compiled StateRule: tag is an index into State.ruleTags.
type stateRule struct {
	state stateID
	tag   int
	op    stateOp
	value float64
}

// stateAsset is what the state operator knows about one asset.
type stateAsset struct {
	name       string
	codeSeries string  // asset/<code_tag>, "" when off or invalid
	state      stateID // stateUnknown before the first state and after a gap
	since      int64   // start of the current interval (when state is known)
	last       int64   // latest time of any point of the asset seen here
	seen       bool
	reason     uns.Value // latest reason value and its time
	reasonTS   int64
	hasReason  bool
	vals       []float64 // rules mode: latest value per rule tag
	have       []bool
}

// State derives machine state intervals per asset (the series' path minus
// its tag) and emits them as "state" events when they close, plus
// "downtime" events for the downtime states.
//
// Time: intervals run from the state change to the next change, in event
// time. A state point older than the start of the asset's current interval
// is late: counted and skipped (intervals are not rewritten). A point more
// than ClockReset older than the newest point of the asset is a clock jump:
// the open interval closes at the newest time and the asset starts afresh.
// Changes at the same instant as the interval's start replace that state
// (a zero-length interval is not emitted unless EmitOpen is set, so that
// every open event gets its close).
type State struct {
	cfg      StateConfig
	mapper   stateMapper
	rules    []stateRule
	ruleTags []string // distinct rule tags
	deflt    stateID
	downtime [stateCount]bool
	maxGap   int64
	reset    int64

	index  map[string]int // asset → position in assets
	assets []*stateAsset  // in first-seen order, so Tick is deterministic
	ctr    eventsCounters
}

// NewState returns a state operator for cfg.
func NewState(cfg StateConfig) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := stateNewMapper("map", cfg.Map, false)
	if err != nil {
		return nil, err
	}
	s := &State{cfg: cfg, mapper: m, maxGap: int64(cfg.MaxGap), reset: int64(cfg.ClockReset), index: map[string]int{}}
	for _, r := range cfg.Rules {
		st, _ := stateParse(r.State)
		i := slices.Index(s.ruleTags, r.Tag)
		if i < 0 {
			i = len(s.ruleTags)
			s.ruleTags = append(s.ruleTags, r.Tag)
		}
		s.rules = append(s.rules, stateRule{state: st, tag: i, op: stateOpOf(r.Op), value: r.Value})
	}
	s.deflt, _ = stateParse(cfg.Default)
	for _, d := range cfg.DowntimeStates {
		st, _ := stateParse(d)
		s.downtime[st] = true
	}
	return s, nil
}

// Stats returns the operator's counters by name.
func (s *State) Stats() map[string]uint64 { return s.ctr.snapshot() }

// stateRole says what a tag means to the state operator.
const (
	stateRoleNone = -3
	stateRoleTag  = -2 // the state tag
	stateRoleWhy  = -1 // the reason tag; >= 0: index of a rule tag
)

func (s *State) role(tag string) int {
	if tag == s.cfg.ReasonTag && tag != "" {
		return stateRoleWhy
	}
	if len(s.rules) == 0 {
		if tag == s.cfg.Tag {
			return stateRoleTag
		}
		return stateRoleNone
	}
	for i, t := range s.ruleTags {
		if t == tag {
			return i
		}
	}
	return stateRoleNone
}

func (s *State) asset(name string) *stateAsset {
	if i, ok := s.index[name]; ok {
		return s.assets[i]
	}
	a := &stateAsset{name: name}
	if s.cfg.CodeTag != "" {
		a.codeSeries = s.ctr.outputPath(name, "/"+s.cfg.CodeTag)
	}
	if n := len(s.ruleTags); n > 0 {
		a.vals = make([]float64, n)
		a.have = make([]bool, n)
	}
	s.index[name] = len(s.assets)
	s.assets = append(s.assets, a)
	return a
}

// Process implements pipeline.Operator.
func (s *State) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if s.cfg.Pass {
			out.Points = append(out.Points, *p)
		}
		role := s.role(uns.Tag(p.Series))
		if role == stateRoleNone && s.maxGap == 0 {
			continue // only a sign of life, and nobody asked for those
		}
		s.point(p, role, out)
	}
}

func (s *State) point(p *uns.Point, role int, out *pipeline.Output) {
	a := s.asset(uns.Asset(p.Series))
	ts := p.TS
	if a.seen && ts < a.last && a.last-ts > s.reset {
		s.ctr.clockResets.Add(1)
		s.end(a, a.last, out)
		a.last = ts
		clear(a.have)
	}
	if a.seen && ts > a.last && s.maxGap > 0 && ts-a.last >= s.maxGap {
		if a.state != stateUnknown {
			s.ctr.gaps.Add(1)
			s.end(a, a.last, out)
		}
		clear(a.have) // values from before the gap are stale
	}
	if !a.seen || ts > a.last {
		a.last = ts
		a.seen = true
	}
	switch {
	case role == stateRoleNone:
		return
	case role == stateRoleWhy:
		if p.Quality == uns.Bad {
			s.ctr.badQuality.Add(1)
			return
		}
		a.reason, a.reasonTS, a.hasReason = p.Value, ts, true
		return
	}
	if a.state != stateUnknown && ts < a.since {
		s.ctr.skipLate(out)
		return
	}
	var st stateID
	if role == stateRoleTag {
		var ok bool
		if st, ok = s.ctr.state(&s.mapper, p, out); !ok {
			return
		}
	} else {
		v, ok := s.ctr.number(p, out)
		if !ok {
			return
		}
		a.vals[role], a.have[role] = v, true
		st = s.deflt
		for _, r := range s.rules {
			if a.have[r.tag] && r.op.holds(a.vals[r.tag], r.value) {
				st = r.state
				break
			}
		}
	}
	s.set(a, st, ts, out)
}

// set moves a to state st at ts, closing the current interval.
func (s *State) set(a *stateAsset, st stateID, ts int64, out *pipeline.Output) {
	if st == a.state {
		return
	}
	if a.state != stateUnknown {
		s.close(a, ts, out)
	}
	a.state, a.since = st, ts
	if s.cfg.EmitOpen {
		s.emit(a, "state", ts, 0, out)
		if s.downtime[st] {
			s.emit(a, "downtime", ts, 0, out)
		}
	}
	s.code(a, ts, out)
}

// end closes a's interval at ts and makes its state unknown (gap, clock jump).
func (s *State) end(a *stateAsset, ts int64, out *pipeline.Output) {
	if a.state == stateUnknown {
		return
	}
	s.close(a, max(ts, a.since), out)
	a.state = stateUnknown
	s.code(a, ts, out)
}

func (s *State) code(a *stateAsset, ts int64, out *pipeline.Output) {
	if a.codeSeries == "" {
		return
	}
	out.Points = append(out.Points, uns.Point{Series: a.codeSeries, TS: ts, Value: uns.Int(int64(a.state))})
	s.ctr.points.Add(1)
}

// close emits the closed interval [a.since, end) of a's current state.
func (s *State) close(a *stateAsset, end int64, out *pipeline.Output) {
	if end == a.since && !s.cfg.EmitOpen {
		return
	}
	s.emit(a, "state", a.since, end, out)
	if s.downtime[a.state] {
		s.emit(a, "downtime", a.since, end, out)
	}
}

func (s *State) emit(a *stateAsset, kind string, start, end int64, out *pipeline.Output) {
	attrs := map[string]string{"state": a.state.String()}
	if end != 0 {
		attrs["duration_s"] = eventsSeconds(end - start)
	}
	if kind == "downtime" {
		reason := a.state.String()
		if a.hasReason && a.reasonTS >= start && (end == 0 || a.reasonTS <= end) {
			if r := eventsValue(a.reason); r != "" {
				reason = r
			}
		}
		attrs["reason"] = reason
	}
	out.Events = append(out.Events, pipeline.Event{Asset: a.name, Kind: kind, Start: start, End: end, Attrs: attrs})
	s.ctr.events.Add(1)
}

// MaxWait implements pipeline.Waiter: at the end of input, open intervals
// close after max_gap (and stay open without it).
func (s *State) MaxWait() time.Duration { return s.cfg.MaxGap }

// Tick implements pipeline.Operator: with MaxGap set, it closes the intervals
// of assets silent for MaxGap or longer (at their last point).
func (s *State) Tick(now int64, out *pipeline.Output) {
	if s.maxGap == 0 {
		return
	}
	for _, a := range s.assets {
		if a.state != stateUnknown && now-a.last >= s.maxGap {
			s.ctr.gaps.Add(1)
			s.end(a, a.last, out)
			clear(a.have)
		}
	}
}
