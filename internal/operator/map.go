package operator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name:  "map",
		Doc:   "compute values and series with expressions; rename and re-route series",
		New:   func() pipeline.Config { c := DefaultMapConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewMap(*c.(*MapConfig)) },
	})
}

// MapConfig configures map. Without Inputs, map rewrites each point: its
// value by the Value expression and its name by the Series template. With
// Inputs, map joins sibling series of one asset (say voltage and current)
// and emits a new series computed from them (power); the input points pass
// on unchanged unless KeepInputs is false, and other points pass on
// unchanged.
type MapConfig struct {
	// Value is an expr expression for the new value over value, text,
	// series, asset, tag, q, ts and the Inputs' names. Empty keeps the value.
	Value string `yaml:"value"`
	// Series is a name template for the output series ({series}, {asset},
	// {tag}, {1}…{16}); empty keeps the name. With Inputs it is required
	// and may use {asset} and {1}…{16} of the asset.
	Series string `yaml:"series"`
	// Inputs names the series to join: variable name → path below the
	// asset (a tag like "voltage", or "meter/voltage").
	Inputs map[string]string `yaml:"inputs"`
	// Tolerance is how far apart in time the joined inputs may be.
	Tolerance time.Duration `yaml:"tolerance"`
	// KeepInputs passes the input points on (with Inputs only).
	KeepInputs bool `yaml:"keep_inputs"`
	// OnError: drop or pass a point whose expression fails, whose value
	// has the wrong type or whose result is NaN or ±Inf (without Inputs).
	OnError OnError `yaml:"on_error"`
}

// DefaultMapConfig returns map's defaults.
func DefaultMapConfig() MapConfig {
	return MapConfig{Tolerance: time.Second, KeepInputs: true, OnError: OnErrorDrop}
}

// maxInputs bounds Inputs: the join keeps a bit per input.
const maxInputs = 16

// Validate checks c and compiles its expression and template.
func (c *MapConfig) Validate() error {
	_, err := NewMap(*c)
	return err
}

// mapInput is one input of a join.
type mapInput struct {
	name   string
	suffix string // "/" + the path below the asset
}

// joinState is the latest value of each input of one asset.
type joinState struct {
	vals  []float64
	ts    []int64
	q     []uns.Quality
	fresh uint32 // bit k: input k has a value not yet used
	name  string // the output series; "" if the template gives no valid path
}

// Map computes values and series with expressions.
type Map struct {
	cfg    MapConfig
	prog   *program // nil: keep the value
	names  *nameCache
	tmpl   template
	inputs []mapInput // longest suffix first
	all    uint32     // the fresh bits of all inputs
	joins  map[string]*joinState
	f      frame
}

// NewMap builds a map from a config, checking it.
func NewMap(c MapConfig) (*Map, error) {
	if err := c.OnError.validate(); err != nil {
		return nil, err
	}
	m := &Map{cfg: c}
	var slots []string
	if len(c.Inputs) > 0 {
		if len(c.Inputs) > maxInputs {
			return nil, fmt.Errorf("inputs: %d inputs, limit %d", len(c.Inputs), maxInputs)
		}
		for name, path := range c.Inputs {
			if !isIdent(name) {
				return nil, fmt.Errorf("inputs.%s: the name must be a letter or '_' followed by letters, digits or '_'", name)
			}
			if _, taken := exprVars[name]; taken {
				return nil, fmt.Errorf("inputs.%s: the name is taken by a built-in variable", name)
			}
			if err := uns.ValidatePrefix(path); err != nil || path == "" || strings.HasSuffix(path, "/") {
				return nil, fmt.Errorf("inputs.%s: %q is not a path below the asset, like \"voltage\"", name, path)
			}
			m.inputs = append(m.inputs, mapInput{name: name, suffix: "/" + path})
		}
		// Longest suffix first, so "meter/voltage" wins over "voltage";
		// then by name, so slots are deterministic.
		slices.SortFunc(m.inputs, func(a, b mapInput) int {
			if d := len(b.suffix) - len(a.suffix); d != 0 {
				return d
			}
			return strings.Compare(a.name, b.name)
		})
		for _, in := range m.inputs {
			slots = append(slots, in.name)
		}
		m.all = 1<<len(m.inputs) - 1
		if c.Value == "" {
			return nil, errors.New("value: required with inputs: the expression computing the new series")
		}
		if c.Series == "" {
			return nil, errors.New("series: required with inputs, like \"{asset}/power\"")
		}
		if c.Tolerance < 0 {
			return nil, errors.New("tolerance: must be ≥ 0")
		}
		m.joins = map[string]*joinState{}
	} else if c.Value == "" && c.Series == "" {
		return nil, errors.New("value: set value, series or both (or inputs)")
	}
	if c.Value != "" {
		p, err := compileExpr(c.Value, slots, false)
		if err != nil {
			return nil, fmt.Errorf("value: %v", err)
		}
		m.prog = p
	}
	if c.Series != "" {
		t, err := parseTemplate(c.Series)
		if err != nil {
			return nil, fmt.Errorf("series: %v", err)
		}
		if len(c.Inputs) > 0 {
			for _, p := range t.parts {
				if p.field == "series" || p.field == "tag" {
					return nil, fmt.Errorf("series: %q: with inputs use {asset} or {1}…{16}, not {%s}", c.Series, p.field)
				}
			}
		}
		m.tmpl = t
		m.names = newNameCache(t)
	}
	m.f.vars = make([]float64, len(slots))
	return m, nil
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Process appends the rewritten points, or with Inputs the passing points
// and the joined results.
func (m *Map) Process(in []uns.Point, out *pipeline.Output) {
	if m.joins != nil {
		m.join(in, out)
		return
	}
	for i := range in {
		p := in[i]
		if m.rewrite(&p, out) {
			out.Points = append(out.Points, p)
		} else if m.cfg.OnError == OnErrorPass {
			out.Points = append(out.Points, in[i])
		}
	}
}

// rewrite applies Value and Series to p; false (counted) if it failed.
func (m *Map) rewrite(p *uns.Point, out *pipeline.Output) bool {
	if m.prog != nil {
		r, ok := m.f.set(p, m.prog.needValue)
		if !ok {
			out.Skip(r)
			return false
		}
		v, err := m.prog.eval(&m.f)
		if err != nil {
			out.Skip(pipeline.EvalError)
			return false
		}
		if f, ok := v.AsFloat(); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			out.Skip(pipeline.NonFinite)
			return false
		}
		p.Value = v
	}
	if m.names != nil {
		name, ok := m.names.name(p.Series)
		if !ok {
			out.Skip(pipeline.EvalError)
			return false
		}
		p.Series = name
	}
	return true
}

func (m *Map) join(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		k, asset := m.input(p.Series)
		if k < 0 || m.cfg.KeepInputs {
			out.Points = append(out.Points, *p)
		}
		if k < 0 {
			continue
		}
		v, r, ok := number(p.Value)
		if !ok {
			out.Skip(r)
			continue
		}
		js := m.joins[asset]
		if js == nil {
			js = m.newJoin(asset)
		}
		bit := uint32(1) << k
		if p.TS < js.ts[k] {
			out.Skip(pipeline.Late) // older than what the join already has
			continue
		}
		js.vals[k], js.ts[k], js.q[k] = v, p.TS, p.Quality
		js.fresh |= bit
		if js.fresh != m.all {
			continue
		}
		lo, hi := slices.Min(js.ts), slices.Max(js.ts)
		if hi-lo > int64(m.cfg.Tolerance) {
			// Forget the inputs too old to pair with the newest one.
			for j, t := range js.ts {
				if hi-t > int64(m.cfg.Tolerance) {
					js.fresh &^= 1 << j
				}
			}
			continue
		}
		js.fresh = 0
		if js.name == "" {
			out.Skip(pipeline.EvalError)
			continue
		}
		m.f.set(p, false)
		m.f.asset = asset
		copy(m.f.vars, js.vals)
		val, err := m.prog.eval(&m.f)
		if err != nil {
			out.Skip(pipeline.EvalError)
			continue
		}
		if f, ok := val.AsFloat(); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			out.Skip(pipeline.NonFinite)
			continue
		}
		out.Points = append(out.Points, uns.Point{Series: js.name, TS: hi, Value: val, Quality: slices.Max(js.q)})
	}
}

// input returns which input series s is, and its asset; -1 if none.
func (m *Map) input(s string) (int, string) {
	for k, in := range m.inputs {
		if len(s) > len(in.suffix) && strings.HasSuffix(s, in.suffix) {
			return k, s[:len(s)-len(in.suffix)]
		}
	}
	return -1, ""
}

func (m *Map) newJoin(asset string) *joinState {
	n := len(m.inputs)
	js := &joinState{vals: make([]float64, n), ts: make([]int64, n), q: make([]uns.Quality, n)}
	for k := range js.ts {
		js.ts[k] = math.MinInt64
	}
	if name, ok := m.tmpl.expand(asset + "/_"); ok {
		js.name = name
	}
	if len(m.joins) >= maxCached {
		clear(m.joins)
	}
	m.joins[asset] = js
	return js
}

// Tick does nothing: a join waits for its inputs however long they take.
func (m *Map) Tick(int64, *pipeline.Output) {}
