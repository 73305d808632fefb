package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Operators for the runner's tests, registered under names the real ones
// do not use.

// scaleConfig multiplies numeric values.
type scaleConfig struct {
	By    float64       `yaml:"by"`
	Inner innerConfig   `yaml:"inner"`
	Wait  time.Duration `yaml:"wait"`
}

type innerConfig struct {
	Size int `yaml:"size"`
}

func (c *scaleConfig) Validate() error {
	if c.By == 0 {
		return errors.New("by: must not be 0")
	}
	if c.Inner.Size < 0 {
		return errors.New("inner.size: must be > 0")
	}
	return nil
}

type scale struct{ by float64 }

func (s *scale) Process(in []uns.Point, out *Output) {
	for _, p := range in {
		f, ok := p.Value.AsFloat()
		if !ok {
			out.Skip(WrongType)
			continue
		}
		p.Value = uns.Float(f * s.by)
		out.Points = append(out.Points, p)
	}
}

func (s *scale) Tick(int64, *Output) {}

// holdConfig holds every point until a tick at or after its time + wait,
// and emits an event per release: it stands for windows and timeouts.
type holdConfig struct {
	Wait time.Duration `yaml:"wait"`
}

func (c *holdConfig) Validate() error {
	if c.Wait <= 0 {
		return fmt.Errorf("wait: must be > 0")
	}
	return nil
}

type hold struct {
	wait int64
	held []uns.Point
}

func (h *hold) Process(in []uns.Point, out *Output) { h.held = append(h.held, in...) }

func (h *hold) Tick(now int64, out *Output) {
	n := 0
	for _, p := range h.held {
		if p.TS+h.wait <= now {
			out.Points = append(out.Points, p)
			out.Events = append(out.Events, Event{Asset: uns.Asset(p.Series), Kind: "released", Start: p.TS, End: now})
			continue
		}
		h.held[n] = p
		n++
	}
	h.held = h.held[:n]
}

func (h *hold) MaxWait() time.Duration { return time.Duration(h.wait) }

func init() {
	Register(Spec{
		Name:  "test_scale",
		New:   func() Config { return &scaleConfig{By: 1} },
		Build: func(c Config) (Operator, error) { return &scale{by: c.(*scaleConfig).By}, nil },
	})
	Register(Spec{
		Name:  "test_hold",
		New:   func() Config { return &holdConfig{Wait: time.Second} },
		Build: func(c Config) (Operator, error) { return &hold{wait: int64(c.(*holdConfig).Wait)}, nil },
	})
}
