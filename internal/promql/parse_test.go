package promql

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // a rendering of the tree
	}{
		{`temp`, `{__name__="temp"}`},
		{`temp{line="l1", site=~"a.*",}`, `{__name__="temp",line="l1",site=~"a.*"}`},
		{`{path!="a/b", cell=~'x'}`, `{path!="a/b",cell=~"x"}`},
		{`rate(parts_total{line="l1"}[5m])`, `rate({__name__="parts_total",line="l1"}[5m0s])`},
		{`avg_over_time(temp[1h30m])`, `avg_over_time({__name__="temp"}[1h30m0s])`},
		{`sum by (line) (rate(x[1m]))`, `sum by(line) (rate({__name__="x"}[1m0s]))`},
		{`sum(rate(x[1m])) without (cell, path)`, `sum without(cell,path) (rate({__name__="x"}[1m0s]))`},
		{`count(x)`, `count by() ({__name__="x"})`},
		{`1+1`, `(1 + 1)`},
		{`2 * 3 + 4`, `((2 * 3) + 4)`},
		{`2 + 3 * 4`, `(2 + (3 * 4))`},
		{`2 ^ 3 ^ 2`, `(2 ^ (3 ^ 2))`},
		{`-2 ^ 2`, `-(2 ^ 2)`},
		{`temp * 1.8 + 32`, `(({__name__="temp"} * 1.8) + 32)`},
		{`100 - (temp)`, `(100 - ({__name__="temp"}))`},
		{`x / 1e3 # a comment`, `({__name__="x"} / 1000)`},
		{`max_over_time(x[250ms])`, `max_over_time({__name__="x"}[250ms])`},
	} {
		e, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := render(e); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "unexpected end of input"},
		{`temp{`, "want a label name"},
		{`temp{a="b"`, `want "," or "}"`},
		{`temp{a=b}`, "want a quoted label value"},
		{`temp{a=~"("}`, "invalid regular expression"},
		{`{a=""}`, "at least one non-empty matcher"},
		{`temp[5]`, "needs a unit"},
		{`temp[5m:1m]`, "subqueries are not supported"},
		{`rate(temp)`, "range vector selector"},
		{`rate(temp[5m], 2)`, "one argument"},
		{`histogram_quantile(0.9, x)`, `function "histogram_quantile" is not supported`},
		{`topk(3, x)`, `aggregation "topk" is not supported`},
		{`a + b`, "between two vectors is not supported"},
		{`a > 1`, `operator ">" is not supported`},
		{`a and b`, `operator "and" is not supported`},
		{`temp offset 5m`, `"offset" modifiers are not supported`},
		{`temp @ 100`, `"@" modifiers are not supported`},
		{`sum(temp[5m])`, "takes an instant vector"},
		{`sum(1)`, "takes a vector, not a number"},
		{`"str"`, "string literals are not supported"},
		{`temp{a="b\q"}`, "invalid string"},
		{`temp $`, "unexpected character"},
		{`x{__name__="y"}`, "metric name given twice"},
		{`(1`, `want ")"`},
		{`sum by (a) (x) by (b)`, "grouping already"},
		{`5m`, "outside a range"},
		{`12abc`, "bad number or duration"},
		{`x[5m]`, ""}, // a range selector alone parses: an instant query answers it raw
		{strings.Repeat("(", MaxQueryLength+1), "the limit is"},
	} {
		_, err := Parse(tc.in)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Parse(%q): %v, want no error", tc.in, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want a parse error with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "1s500ms": 1500 * time.Millisecond, "2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour, "1y": 365 * 24 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "m", "5x", "1m1h", "1m1m", "99999999999999y"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

// render writes a tree in a form the tests compare.
func render(e Expr) string {
	switch e := e.(type) {
	case *NumberLit:
		return FormatValue(e.Val)
	case *VectorSelector:
		return e.String()
	case *Call:
		return e.Func + "(" + e.Arg.String() + ")"
	case *Aggregate:
		g := "by"
		if e.Without {
			g = "without"
		}
		return e.Op + " " + g + "(" + strings.Join(e.Grouping, ",") + ") (" + render(e.Expr) + ")"
	case *Binary:
		return "(" + render(e.LHS) + " " + e.Op + " " + render(e.RHS) + ")"
	case *Paren:
		return "(" + render(e.Expr) + ")"
	case *Unary:
		return "-" + render(e.Expr)
	}
	return "?"
}
