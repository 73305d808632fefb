package promql

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Expr is a parsed expression.
type Expr interface{ expr() }

// NumberLit is a number: 1, 2.5e3, Inf, NaN.
type NumberLit struct{ Val float64 }

// VectorSelector selects series by label matchers; Range is set (> 0) for
// a range vector selector (foo[5m]).
type VectorSelector struct {
	Matchers []*Matcher
	Range    time.Duration
}

// Call is a function applied to a range vector selector.
type Call struct {
	Func string
	Arg  *VectorSelector // always with a Range
}

// Aggregate is sum, avg, min, max or count of a vector, grouped by (or
// without) labels.
type Aggregate struct {
	Op       string
	Grouping []string
	Without  bool
	Expr     Expr
}

// Binary is arithmetic where at least one side is a number.
type Binary struct {
	Op       string // + - * / % ^
	LHS, RHS Expr
}

// Paren is a parenthesised expression.
type Paren struct{ Expr Expr }

// Unary is a negated expression.
type Unary struct{ Expr Expr }

func (*NumberLit) expr()      {}
func (*VectorSelector) expr() {}
func (*Call) expr()           {}
func (*Aggregate) expr()      {}
func (*Binary) expr()         {}
func (*Paren) expr()          {}
func (*Unary) expr()          {}

// MatchType is how a Matcher compares a label's value.
type MatchType int

// The match types.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

func (t MatchType) String() string {
	return [...]string{"=", "!=", "=~", "!~"}[t]
}

// Matcher matches a label's value (the empty value for a label a series
// does not have, as in Prometheus).
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp // anchored, for the regexp types
}

// NewMatcher returns a matcher, compiling the regular expression of =~
// and !~ (anchored at both ends, as Prometheus does).
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	m := &Matcher{Name: name, Type: t, Value: value}
	if t == MatchRegexp || t == MatchNotRegexp {
		re, err := regexp.Compile("^(?s:" + value + ")$")
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %v", value, err)
		}
		m.re = re
	}
	return m, nil
}

// Matches reports whether v, the value of the matcher's label ("" when
// absent), matches.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

func (m *Matcher) String() string { return fmt.Sprintf("%s%s%q", m.Name, m.Type, m.Value) }

// MatchesLabels reports whether every matcher of ms matches ls.
func MatchesLabels(ms []*Matcher, ls Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Label is one label of a series.
type Label struct{ Name, Value string }

// Labels are a series' labels, sorted by name, without empty values.
type Labels []Label

// Get returns the value of the label name, "" when absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Map returns ls as a map, as the HTTP API shows it.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// MetricName is the label holding a series' metric name.
const MetricName = "__name__"

func (ls Labels) without(names ...string) Labels {
	out := make(Labels, 0, len(ls))
	for _, l := range ls {
		drop := false
		for _, n := range names {
			if l.Name == n {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, l)
		}
	}
	return out
}

func (ls Labels) only(names []string) Labels {
	out := make(Labels, 0, len(names))
	for _, l := range ls {
		for _, n := range names {
			if l.Name == n {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
