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
		Name: "alarm",
		Doc:  "threshold alarms with hysteresis, delay-on/off and de-duplication, raising and clearing events",
		New:  func() pipeline.Config { c := DefaultAlarmConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) {
			cfg, ok := c.(*AlarmConfig)
			if !ok {
				return nil, fmt.Errorf("alarm: config is %T, want *operator.AlarmConfig", c)
			}
			return NewAlarm(*cfg)
		},
	})
}

// AlarmConfig configures the alarm operator.
type AlarmConfig struct {
	// Tags limits the alarm to series with these tags; empty: every numeric series.
	Tags []string `yaml:"tags"`
	// Limits are checked independently: each has at most one open alarm per series.
	Limits []AlarmLimit `yaml:"limits"`
	// Deadband is the hysteresis: a high alarm clears below high - deadband,
	// a low alarm above low + deadband.
	Deadband float64 `yaml:"deadband"`
	// DelayOn: the limit must be exceeded this long (event time) before the
	// alarm raises; DelayOff: the clear condition must hold this long before
	// it clears. Both fire from Tick too, without new input.
	DelayOn  time.Duration `yaml:"delay_on"`
	DelayOff time.Duration `yaml:"delay_off"`
	// ClockReset: a point this much older than the series' newest is a clock
	// jump (pending delays restart); less old points are late and skipped.
	ClockReset time.Duration `yaml:"clock_reset"`
	// Pass forwards the input points.
	Pass bool `yaml:"pass"`
}

// AlarmLimit is one limit: exactly one of High (raise above) and Low
// (raise below).
type AlarmLimit struct {
	// Name identifies the limit in events; default "high" or "low".
	Name     string   `yaml:"name"`
	High     *float64 `yaml:"high"`
	Low      *float64 `yaml:"low"`
	Severity string   `yaml:"severity"` // default "warning"
}

// name returns the limit's name with its default.
func (l AlarmLimit) name() string {
	switch {
	case l.Name != "":
		return l.Name
	case l.High != nil:
		return "high"
	}
	return "low"
}

func (l AlarmLimit) severity() string {
	if l.Severity == "" {
		return "warning"
	}
	return l.Severity
}

// DefaultAlarmConfig returns the defaults: no deadband, no delays, input
// passed through. Limits must be configured.
func DefaultAlarmConfig() AlarmConfig {
	return AlarmConfig{ClockReset: eventsDefaultClockReset, Pass: true}
}

// Validate checks c; messages name the field.
func (c *AlarmConfig) Validate() error {
	if err := eventsCheckTags("tags", c.Tags); err != nil {
		return err
	}
	if len(c.Limits) == 0 {
		return fmt.Errorf("limits: at least one limit (high or low) is required")
	}
	names := map[string]int{}
	for i, l := range c.Limits {
		if (l.High == nil) == (l.Low == nil) {
			return fmt.Errorf("limits[%d]: set exactly one of high and low", i)
		}
		v := l.High
		if v == nil {
			v = l.Low
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			return fmt.Errorf("limits[%d]: limit must be a finite number", i)
		}
		if j, dup := names[l.name()]; dup {
			return fmt.Errorf("limits[%d].name: %q is also the name of limits[%d]", i, l.name(), j)
		}
		names[l.name()] = i
		if len(l.Severity) > 32 {
			return fmt.Errorf("limits[%d].severity: at most 32 characters", i)
		}
	}
	if !(c.Deadband >= 0) || math.IsInf(c.Deadband, 0) {
		return fmt.Errorf("deadband: must be >= 0")
	}
	if c.DelayOn < 0 {
		return fmt.Errorf("delay_on: must be >= 0")
	}
	if c.DelayOff < 0 {
		return fmt.Errorf("delay_off: must be >= 0")
	}
	return eventsCheckDurations(0, c.ClockReset)
}

// alarmLimit is a compiled limit.
type alarmLimit struct {
	name, severity, kind string // kind: high or low
	high                 bool
	value                float64
	clear                float64 // the value beyond which the alarm clears
	valueText            string
}

// The phases of one limit of one series.
const (
	alarmIdle       uint8 = iota
	alarmPendingOn        // the limit is exceeded, waiting for delay_on
	alarmActive           // raised
	alarmPendingOff       // raised, clear condition holds, waiting for delay_off
)

type alarmState struct {
	phase uint8
	since int64 // start of the pending phase
	start int64 // Start of the raised event
	attrs map[string]string
}

type alarmSeries struct {
	series, asset string
	last          int64
	v             float64 // the latest value: held until the next one
	seen          bool
	lim           []alarmState // one per limit
}

// Alarm raises an "alarm" event (Asset: the series' asset; Attrs: series,
// limit, type, threshold, value, severity) when a series' value exceeds a
// limit for DelayOn, and closes it (End set, plus clear_value) when the value
// is back beyond the deadband for DelayOff. A series has at most one open
// alarm per limit, however long the value stays out.
//
// Time is event time; values are held between points, so a delay also
// elapses from Tick without new input (a sensor that stops sending after
// exceeding a limit still raises). Raise and clear times are exact: the
// start of the condition plus the delay, whichever call notices it. A point
// older than the series' newest is late (skipped) unless more than
// ClockReset older: then pending delays restart at the new time, and raised
// alarms stay raised until the value clears them.
type Alarm struct {
	cfg      AlarmConfig
	limits   []alarmLimit
	delayOn  int64
	delayOff int64
	reset    int64

	index  map[string]int
	series []*alarmSeries // first-seen order, so Tick is deterministic
	ctr    eventsCounters
}

// NewAlarm returns an alarm operator for cfg.
func NewAlarm(cfg AlarmConfig) (*Alarm, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Alarm{cfg: cfg, delayOn: int64(cfg.DelayOn), delayOff: int64(cfg.DelayOff), reset: int64(cfg.ClockReset), index: map[string]int{}}
	for _, l := range cfg.Limits {
		c := alarmLimit{name: l.name(), severity: l.severity()}
		if l.High != nil {
			c.kind, c.high, c.value, c.clear = "high", true, *l.High, *l.High-cfg.Deadband
		} else {
			c.kind, c.value, c.clear = "low", *l.Low, *l.Low+cfg.Deadband
		}
		c.valueText = eventsFloat(c.value)
		a.limits = append(a.limits, c)
	}
	return a, nil
}

// Stats returns the operator's counters by name.
func (a *Alarm) Stats() map[string]uint64 { return a.ctr.snapshot() }

func (a *Alarm) get(series string) *alarmSeries {
	if i, ok := a.index[series]; ok {
		return a.series[i]
	}
	s := &alarmSeries{series: series, asset: uns.Asset(series), lim: make([]alarmState, len(a.limits))}
	a.index[series] = len(a.series)
	a.series = append(a.series, s)
	return s
}

// Process implements pipeline.Operator.
func (a *Alarm) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if a.cfg.Pass {
			out.Points = append(out.Points, *p)
		}
		if !eventsHasTag(a.cfg.Tags, uns.Tag(p.Series)) {
			continue
		}
		v, ok := a.ctr.number(p, out)
		if !ok {
			continue
		}
		a.point(a.get(p.Series), p.TS, v, out)
	}
}

func (a *Alarm) point(s *alarmSeries, ts int64, v float64, out *pipeline.Output) {
	if s.seen && ts < s.last {
		if s.last-ts <= a.reset {
			a.ctr.skipLate(out)
			return
		}
		a.ctr.clockResets.Add(1)
		for k := range s.lim {
			if st := &s.lim[k]; st.phase == alarmPendingOn || st.phase == alarmPendingOff {
				st.since = ts
			}
		}
	} else if s.seen {
		a.advance(s, ts, out) // delays that ran out before this point, with the held value
	}
	s.last, s.v, s.seen = ts, v, true
	for k := range a.limits {
		l, st := &a.limits[k], &s.lim[k]
		exceeded := v > l.value
		cleared := v < l.clear
		if !l.high {
			exceeded, cleared = v < l.value, v > l.clear
		}
		switch st.phase {
		case alarmIdle:
			if exceeded {
				st.phase, st.since = alarmPendingOn, ts
				if a.delayOn == 0 {
					a.raise(s, k, ts, out)
				}
			}
		case alarmPendingOn:
			if !exceeded {
				st.phase = alarmIdle
			}
		case alarmActive:
			if cleared {
				st.phase, st.since = alarmPendingOff, ts
				if a.delayOff == 0 {
					a.clear(s, k, ts, out)
				}
			}
		case alarmPendingOff:
			if !cleared {
				st.phase = alarmActive
			}
		}
	}
}

// advance raises and clears what is due at now, given the held value.
func (a *Alarm) advance(s *alarmSeries, now int64, out *pipeline.Output) {
	for k := range s.lim {
		st := &s.lim[k]
		switch {
		case st.phase == alarmPendingOn && now-st.since >= a.delayOn:
			a.raise(s, k, st.since+a.delayOn, out)
		case st.phase == alarmPendingOff && now-st.since >= a.delayOff:
			a.clear(s, k, st.since+a.delayOff, out)
		}
	}
}

func (a *Alarm) raise(s *alarmSeries, k int, at int64, out *pipeline.Output) {
	l, st := &a.limits[k], &s.lim[k]
	st.phase, st.start = alarmActive, at
	st.attrs = map[string]string{
		"series":    s.series,
		"limit":     l.name,
		"type":      l.kind,
		"threshold": l.valueText,
		"value":     eventsFloat(s.v),
		"severity":  l.severity,
	}
	out.Events = append(out.Events, pipeline.Event{Asset: s.asset, Kind: "alarm", Start: at, Attrs: st.attrs})
	a.ctr.events.Add(1)
}

// clear closes the alarm of limit k. Its attributes are a copy: the raise
// event's map may still be in the runner's hands.
func (a *Alarm) clear(s *alarmSeries, k int, at int64, out *pipeline.Output) {
	st := &s.lim[k]
	attrs := make(map[string]string, len(st.attrs)+1)
	for key, v := range st.attrs {
		attrs[key] = v
	}
	attrs["clear_value"] = eventsFloat(s.v)
	out.Events = append(out.Events, pipeline.Event{Asset: s.asset, Kind: "alarm", Start: st.start, End: max(at, st.start), Attrs: attrs})
	a.ctr.events.Add(1)
	st.phase, st.attrs = alarmIdle, nil
}

// MaxWait implements pipeline.Waiter: a pending raise or clear is due at
// most the longer delay after the last input.
func (a *Alarm) MaxWait() time.Duration { return max(a.cfg.DelayOn, a.cfg.DelayOff) }

// Tick implements pipeline.Operator: delays run out without new input.
func (a *Alarm) Tick(now int64, out *pipeline.Output) {
	if a.delayOn == 0 && a.delayOff == 0 {
		return
	}
	for _, s := range a.series {
		if s.seen && now >= s.last {
			a.advance(s, now, out)
		}
	}
}
