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
		Name:  "deadband",
		Doc:   "report a series only when it changes by more than a band, with a heartbeat",
		New:   func() pipeline.Config { c := DefaultDeadbandConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewDeadband(*c.(*DeadbandConfig)), nil },
	})
}

// DeadbandConfig configures deadband. A numeric point is reported when it
// differs from the last reported value of its series by more than the band,
// max(absolute, percent/100 × |last reported|); so with both 0 (the
// defaults) every change is reported and repeats are dropped
// (report-by-exception). A bool or string point is reported when it
// changes; a change of type or quality is always reported.
type DeadbandConfig struct {
	Absolute float64 `yaml:"absolute"`
	Percent  float64 `yaml:"percent"`
	// MaxSilence, if > 0, reports a held-back point once that long has
	// passed since the last report of its series: a heartbeat that shows
	// the series is alive. Only points that really arrived are reported, at
	// their own time; a silent device stays silent.
	MaxSilence time.Duration `yaml:"max_silence"`
}

// DefaultDeadbandConfig returns deadband's defaults: report every change.
func DefaultDeadbandConfig() DeadbandConfig { return DeadbandConfig{} }

// Validate checks c.
func (c *DeadbandConfig) Validate() error {
	if c.Absolute < 0 || math.IsNaN(c.Absolute) || math.IsInf(c.Absolute, 0) {
		return fmt.Errorf("absolute: must be a number ≥ 0")
	}
	if c.Percent < 0 || math.IsNaN(c.Percent) || math.IsInf(c.Percent, 0) {
		return fmt.Errorf("percent: must be a number ≥ 0")
	}
	return nonNegative("max_silence", c.MaxSilence)
}

// deadbandSeries is the state of one series.
type deadbandSeries struct {
	last    uns.Value   // the last reported value
	lastQ   uns.Quality // its quality
	lastTS  int64       // its time
	held    uns.Point   // the latest point not reported
	hasHeld bool
	skew    int64 // how far the series' clock was behind the tick clock at its last point (≥ 0)
}

// Deadband drops points that do not change a series enough.
type Deadband struct {
	cfg     DeadbandConfig
	series  map[string]*deadbandSeries
	order   []*deadbandSeries // series in order of first sight, so Tick is deterministic
	lastNow int64             // the time of the last Tick
}

// NewDeadband builds a deadband from a valid config.
func NewDeadband(c DeadbandConfig) *Deadband {
	return &Deadband{cfg: c, series: map[string]*deadbandSeries{}}
}

// Process appends the points that are to be reported.
func (d *Deadband) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if p.Value.Kind() == uns.KindFloat {
			if f := p.Value.Float64(); math.IsNaN(f) || math.IsInf(f, 0) {
				out.Skip(pipeline.NonFinite)
				continue
			}
		}
		s := d.series[p.Series]
		if s == nil {
			if len(d.series) >= maxCached {
				clear(d.series) // the next point of each series is reported
				d.order = d.order[:0]
			}
			s = &deadbandSeries{}
			d.series[p.Series] = s
			d.order = append(d.order, s)
			d.report(s, p, out)
			continue
		}
		s.skew = max(0, d.lastNow-p.TS)
		if d.changed(s, p) || d.cfg.MaxSilence > 0 && p.TS-s.lastTS >= int64(d.cfg.MaxSilence) {
			d.report(s, p, out)
			continue
		}
		s.held, s.hasHeld = *p, true
	}
}

func (d *Deadband) changed(s *deadbandSeries, p *uns.Point) bool {
	if p.Quality != s.lastQ {
		return true
	}
	k := p.Value.Kind()
	if k != s.last.Kind() {
		return true
	}
	switch k {
	case uns.KindFloat, uns.KindInt:
		v, _ := p.Value.AsFloat()
		last, _ := s.last.AsFloat()
		band := max(d.cfg.Absolute, d.cfg.Percent/100*math.Abs(last))
		return math.Abs(v-last) > band
	}
	return p.Value != s.last
}

func (d *Deadband) report(s *deadbandSeries, p *uns.Point, out *pipeline.Output) {
	out.Points = append(out.Points, *p)
	s.last, s.lastQ, s.lastTS = p.Value, p.Quality, p.TS
	s.held, s.hasHeld = uns.Point{}, false
}

// Tick reports the held point of each series silent for MaxSilence. now is
// corrected by each series' clock skew, so a device whose clock is behind
// does not get a heartbeat every tick.
func (d *Deadband) Tick(now int64, out *pipeline.Output) {
	d.lastNow = now
	if d.cfg.MaxSilence <= 0 {
		return
	}
	for _, s := range d.order {
		if s.hasHeld && now-s.skew-s.lastTS >= int64(d.cfg.MaxSilence) {
			p := s.held
			d.report(s, &p, out)
		}
	}
}
