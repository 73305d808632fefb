package operator

import (
	"math"
	"testing"

	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"

	"github.com/molen-io/molen/internal/uns"
)

// TestFastPathMatchesVM checks that the closure compiler gives expr's own
// results, and that the expressions meant to take the fast path do.
func TestFastPathMatchesVM(t *testing.T) {
	exprs := []struct {
		src  string
		fast bool
	}{
		{"value * 2 + 1", true},
		{"-value / 4", true},
		{"(value - 32) * 5 / 9", true},
		{"value ** 2", true},
		{"value ^ 0.5", true},
		{"ts % 1000", true},
		{"abs(value - 10)", true},
		{"round(value * 10) / 10", true},
		{"floor(value) + ceil(value)", true},
		{"min(value, 3) + max(value, u)", true},
		{"u * i", true},
		{"value > 3 ? value : -value", true},
		{"value >= 2 && value <= 8 || not (value != 1)", true},
		{"!(value < 0) and tag == 'temp'", true},
		{"series startsWith 'a/' && series endsWith 'temp' && asset contains 'b'", true},
		{"q != 'good' || text == ''", true},
		{"(value > 1) == (u > 1)", true},
		{"7 / 2", true},
		{"value in [1, 2, 3]", false},
		{"len(series) > 3", false},
		{"int(value) % 3", false},
		{"upper(tag) == 'TEMP'", false},
	}
	frames := []frame{
		{value: 0, series: "a/b/temp", asset: "a/b", tag: "temp", q: "good", ts: 1_700_000_000_123, vars: []float64{1, 2}},
		{value: 2.5, series: "a/b/temp", asset: "a/b", tag: "temp", q: "bad", ts: 1_700_000_000_999, vars: []float64{-3, 0.5}},
		{value: 10, series: "x/y", asset: "x", tag: "y", text: "RUN", q: "good", ts: 5, vars: []float64{10, 10}},
		{value: -7.25, series: "x/b/z", asset: "x/b", tag: "z", q: "uncertain", ts: 0, vars: []float64{0, 0}},
	}
	for _, e := range exprs {
		p, err := compileExpr(e.src, []string{"u", "i"}, false)
		if err != nil {
			t.Fatalf("%s: %v", e.src, err)
		}
		if fast := p.num != nil || p.bool != nil; fast != e.fast {
			t.Errorf("%s: fast path %v, want %v", e.src, fast, e.fast)
		}
		if p.vm == nil {
			if p.vm, err = vmOnly(e.src, p); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range frames {
			got, gerr := p.eval(&f)
			want, werr := p.runVM(&f)
			if (gerr != nil) != (werr != nil) {
				t.Errorf("%s with %+v: error %v, VM error %v", e.src, f, gerr, werr)
				continue
			}
			if werr == nil && !sameValue(got, want) {
				t.Errorf("%s with value %v: got %v, VM %v", e.src, f.value, got, want)
			}
		}
	}
}

// vmOnly compiles p's expression for the VM as compileExpr would.
func vmOnly(src string, p *program) (*vm.Program, error) {
	cfg := conf.CreateNew()
	cfg.WithEnv(p.env)
	cfg.Optimize = false
	tree, err := checker.ParseCheck(src, cfg)
	if err != nil {
		return nil, err
	}
	return compiler.Compile(tree, cfg)
}

func sameValue(got uns.Value, want any) bool {
	switch w := want.(type) {
	case float64:
		return got.Kind() == uns.KindFloat && (got.Float64() == w || math.IsNaN(w) && math.IsNaN(got.Float64()))
	case int:
		return got.Kind() == uns.KindInt && got.Int() == int64(w)
	case bool:
		return got.Kind() == uns.KindBool && got.Bool() == w
	case string:
		return got.Kind() == uns.KindString && got.Str() == w
	}
	return false
}

func TestExprModuloByZeroIsAnError(t *testing.T) {
	p, err := compileExpr("ts % (ts - ts)", nil, false)
	if err != nil || p.num == nil {
		t.Fatalf("compile: %v, fast %v", err, p != nil && p.num != nil)
	}
	if _, err := p.eval(&frame{ts: 5}); err == nil {
		t.Error("ts % 0 evaluated without error; expr fails on it")
	}
}
