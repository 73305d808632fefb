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
		Name:  "counter",
		Doc:   "turn a counter into its rate or delta, across resets and rollovers",
		New:   func() pipeline.Config { c := DefaultCounterConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewCounter(*c.(*CounterConfig)) },
	})
}

// CounterConfig configures counter. For each point after the first of a
// series it emits the increase since the previous point (delta) or that
// increase per Per of time (rate). A decrease is a rollover if Rollover is
// set and wrapping gives an increase below Rollover/2; otherwise it is a
// reset (the device restarted counting from 0) and the increase is the new
// value.
type CounterConfig struct {
	Mode string `yaml:"mode"` // rate (the default) or delta
	// Per is the time unit of a rate: 1s gives per second, 1m per minute.
	Per time.Duration `yaml:"per"`
	// Rollover is the value at which the counter wraps to 0, e.g. 65536 for
	// a 16-bit register; 0 means it does not wrap.
	Rollover float64 `yaml:"rollover"`
	// Series names the output ({series}, {asset}, {tag}, {1}…{16}, {mode}).
	Series string `yaml:"series"`
	// KeepInput passes the counter's own points on as well.
	KeepInput bool `yaml:"keep_input"`
	// ClockJump: a point older than the previous one by at most this is
	// late (counted, dropped); older than that, the device clock was set
	// back, and the series starts again from this point.
	ClockJump time.Duration `yaml:"clock_jump"`
}

// DefaultCounterConfig returns counter's defaults.
func DefaultCounterConfig() CounterConfig {
	return CounterConfig{Mode: "rate", Per: time.Second, Series: "{series}/{mode}", ClockJump: time.Minute}
}

// Validate checks c.
func (c *CounterConfig) Validate() error {
	_, err := NewCounter(*c)
	return err
}

// counterSeries is the state of one series.
type counterSeries struct {
	last   float64
	lastTS int64
	name   string // "" if the template gives no valid path
}

// Counter computes rates or deltas of counters.
type Counter struct {
	cfg    CounterConfig
	rate   bool
	tmpl   template
	series map[string]*counterSeries
}

// NewCounter builds a counter from a config, checking it.
func NewCounter(c CounterConfig) (*Counter, error) {
	if c.Mode != "rate" && c.Mode != "delta" {
		return nil, fmt.Errorf("mode: %q: want rate or delta", c.Mode)
	}
	if err := positive("per", c.Per); err != nil {
		return nil, err
	}
	if c.Rollover < 0 || math.IsNaN(c.Rollover) || math.IsInf(c.Rollover, 0) {
		return nil, fmt.Errorf("rollover: must be a number ≥ 0")
	}
	if err := nonNegative("clock_jump", c.ClockJump); err != nil {
		return nil, err
	}
	t, err := parseTemplate(c.Series, "mode")
	if err != nil {
		return nil, fmt.Errorf("series: %v", err)
	}
	return &Counter{cfg: c, rate: c.Mode == "rate", tmpl: t, series: map[string]*counterSeries{}}, nil
}

// Process appends a rate or delta for each point after a series' first.
func (c *Counter) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if c.cfg.KeepInput {
			out.Points = append(out.Points, *p)
		}
		v, r, ok := number(p.Value)
		if !ok {
			out.Skip(r)
			continue
		}
		s := c.series[p.Series]
		if s == nil {
			if len(c.series) >= maxCached {
				clear(c.series)
			}
			s = &counterSeries{last: v, lastTS: p.TS}
			if name, ok := c.tmpl.expand(p.Series, "mode", c.cfg.Mode); ok {
				s.name = name
			}
			c.series[p.Series] = s
			continue
		}
		dt := p.TS - s.lastTS
		if dt <= 0 {
			if -dt > int64(c.cfg.ClockJump) {
				s.last, s.lastTS = v, p.TS // the clock was set back: start again
			} else {
				out.Skip(pipeline.Late) // out of order or a repeated time
			}
			continue
		}
		d := v - s.last
		if d < 0 {
			if w := v + c.cfg.Rollover - s.last; c.cfg.Rollover > 0 && w >= 0 && w < c.cfg.Rollover/2 {
				d = w // rolled over
			} else {
				d = v // reset: counting restarted from 0
			}
		}
		s.last, s.lastTS = v, p.TS
		if s.name == "" {
			out.Skip(pipeline.EvalError)
			continue
		}
		var val uns.Value
		switch {
		case c.rate:
			val = uns.Float(d * float64(c.cfg.Per) / float64(dt))
		case p.Value.Kind() == uns.KindInt && d == math.Trunc(d):
			val = uns.Int(int64(d))
		default:
			val = uns.Float(d)
		}
		out.Points = append(out.Points, uns.Point{Series: s.name, TS: p.TS, Value: val, Quality: p.Quality})
	}
}

// Tick does nothing: counter emits only when points arrive.
func (c *Counter) Tick(int64, *pipeline.Output) {}
