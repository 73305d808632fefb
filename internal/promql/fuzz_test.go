package promql

import (
	"errors"
	"testing"
)

// FuzzParse: any input parses or gives a *ParseError, never a panic, and
// what parses evaluates (over no data) without a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`temp`, `rate(x{a="b"}[5m])`, `sum by (line) (avg_over_time(t[1m])) * 2`, `1+1`, `-x^2`, `{path=~"a/.*"}`, `x{a='\''}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			if pe := (*ParseError)(nil); !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): %T %v, want a *ParseError", in, err, err)
			}
			return
		}
		en := &Engine{Limits: Limits{MaxSeries: 10, MaxPoints: 100, MaxSteps: 10}}
		m := testData()
		_, _ = en.Query(t.Context(), m, e, 0, 60e9, 30e9)
		if vs, ok := e.(*VectorSelector); ok && vs.Range > 0 {
			_, _ = en.RangeVector(t.Context(), m, vs, 60e9)
		}
	})
}
