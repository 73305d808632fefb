package operator

import (
	"fmt"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name:  "filter",
		Doc:   "keep the points for which an expression is true",
		New:   func() pipeline.Config { c := DefaultFilterConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewFilter(*c.(*FilterConfig)) },
	})
}

// FilterConfig configures filter.
type FilterConfig struct {
	// If is a boolean expr expression over value, text, series, asset,
	// tag, q and ts; a point passes when it is true.
	If string `yaml:"if"`
	// OnError is what happens to a point whose expression fails: drop or
	// pass. It is counted either way.
	OnError OnError `yaml:"on_error"`
}

// DefaultFilterConfig returns filter's defaults.
func DefaultFilterConfig() FilterConfig { return FilterConfig{OnError: OnErrorDrop} }

// Validate checks c and compiles its expression.
func (c *FilterConfig) Validate() error {
	if _, err := compileExpr(c.If, nil, true); err != nil {
		return fmt.Errorf("if: %v", err)
	}
	return c.OnError.validate()
}

// Filter keeps the points for which an expression holds.
type Filter struct {
	prog    *program
	onError OnError
	f       frame
}

// NewFilter builds a filter from a valid config.
func NewFilter(c FilterConfig) (*Filter, error) {
	p, err := compileExpr(c.If, nil, true)
	if err != nil {
		return nil, fmt.Errorf("if: %w", err)
	}
	return &Filter{prog: p, onError: c.OnError}, nil
}

// Process appends the points that pass.
func (f *Filter) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		r, ok := f.f.set(p, f.prog.needValue)
		var keep bool
		if ok {
			var err error
			if keep, err = f.prog.evalBool(&f.f); err != nil {
				ok, r = false, pipeline.EvalError
			}
		}
		if !ok {
			out.Skip(r)
			keep = f.onError == OnErrorPass
		}
		if keep {
			out.Points = append(out.Points, *p)
		}
	}
}

// Tick does nothing: filter holds no state.
func (f *Filter) Tick(int64, *pipeline.Output) {}
