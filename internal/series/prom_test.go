package series

import (
	"testing"

	"github.com/molen-io/molen/internal/promql"
)

func TestPromLabels(t *testing.T) {
	for path, want := range map[string]string{
		"plant/hall/line-1/press/temperature": `{__name__="temperature",area="hall",cell="press",line="line-1",path="plant/hall/line-1/press/temperature",site="plant"}`,
		"press-7/motor-1.speed":               `{__name__="motor_1_speed",path="press-7/motor-1.speed",site="press-7"}`,
		"a/b/c/d/e/f/9lives":                  `{__name__="_9lives",area="b",cell="d",level5="e",level6="f",line="c",path="a/b/c/d/e/f/9lives",site="a"}`,
	} {
		if got := PromLabels(path).String(); got != want {
			t.Errorf("PromLabels(%q) = %s, want %s", path, got, want)
		}
	}
}

func TestMatcherPrefix(t *testing.T) {
	m := func(typ promql.MatchType, name, value string) *promql.Matcher {
		mt, err := promql.NewMatcher(typ, name, value)
		if err != nil {
			t.Fatal(err)
		}
		return mt
	}
	for _, tc := range []struct {
		ms   []*promql.Matcher
		want string
	}{
		{[]*promql.Matcher{m(promql.MatchEqual, "__name__", "temp")}, ""},
		{[]*promql.Matcher{m(promql.MatchEqual, "site", "a"), m(promql.MatchEqual, "area", "b")}, "a/b"},
		// A gap in the levels ends the prefix.
		{[]*promql.Matcher{m(promql.MatchEqual, "site", "a"), m(promql.MatchEqual, "line", "c")}, "a"},
		{[]*promql.Matcher{m(promql.MatchEqual, "area", "b")}, ""},
		{[]*promql.Matcher{m(promql.MatchNotEqual, "site", "a")}, ""},
		{[]*promql.Matcher{m(promql.MatchEqual, "site", "a"), m(promql.MatchEqual, "path", "a/b/c/t")}, "a/b/c/t"},
		{[]*promql.Matcher{m(promql.MatchRegexp, "path", "a/b/.*")}, "a/b"},
		{[]*promql.Matcher{m(promql.MatchRegexp, "path", "a/b.*")}, "a"},
		{[]*promql.Matcher{m(promql.MatchRegexp, "path", "a/b/c|x/y/z")}, ""},
		{[]*promql.Matcher{m(promql.MatchRegexp, "path", "(?i)a/b/.*")}, ""},
	} {
		if got := matcherPrefix(tc.ms); got != tc.want {
			t.Errorf("matcherPrefix(%v) = %q, want %q", tc.ms, got, tc.want)
		}
	}
}
