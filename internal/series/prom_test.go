package series

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/molen-io/molen/internal/promql"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
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

// TestPromLimits: queries beyond the limits are refused with
// Prometheus's execution error (422) naming the limit, and counted; the
// same data within them answers.
func TestPromLimits(t *testing.T) {
	f := newFixture(t)
	f.svc.promLimits = promql.Limits{MaxSeries: 1, MaxPoints: 30, MaxSteps: 100}
	pts := []uns.Point{{Series: "s/a/l/m2/temp", TS: now.Add(-time.Minute).UnixNano(), Value: uns.Float(1)}}
	if _, err := f.st.Ingest(t.Context(), "a", store.Source{Edge: "e-a", Stream: "m2"}, []store.Record{{Seq: 1, Points: pts}}); err != nil {
		t.Fatal(err)
	}
	at := fmt.Sprint(now.Unix())
	for _, tc := range []struct {
		query, limit, msg string
	}{
		{`temp`, "series", "the limit is 1"},
		{`sum_over_time(temp{cell="m"}[2h])`, "points", "more than 30 points"},
	} {
		before := testutil.ToFloat64(f.svc.promM.refused.WithLabelValues(tc.limit))
		code, body := f.do("GET", "/prom/api/v1/query?time="+at+"&query="+url.QueryEscape(tc.query), f.tokenA, nil)
		if code != 422 || body["errorType"] != "execution" || !strings.Contains(fmt.Sprint(body["error"]), tc.msg) {
			t.Errorf("%s: %d %v, want 422 execution with %q", tc.query, code, body, tc.msg)
		}
		if got := testutil.ToFloat64(f.svc.promM.refused.WithLabelValues(tc.limit)); got != before+1 {
			t.Errorf("%s: refused{reason=%q} = %v, want %v", tc.query, tc.limit, got, before+1)
		}
	}
	for _, q := range []string{`temp{cell="m"}`, `sum_over_time(temp{cell="m"}[20m])`} {
		if code, body := f.do("GET", "/prom/api/v1/query?time="+at+"&query="+url.QueryEscape(q), f.tokenA, nil); code != 200 {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	// Another organisation's token sees its own series only: b has one
	// temp, so the series limit does not refuse it, and its value is b's.
	code, body := f.do("GET", "/prom/api/v1/query?time="+at+"&query=temp", f.tokenB, nil)
	if code != 200 || !strings.Contains(fmt.Sprint(body["data"]), "1000") {
		t.Errorf("b's temp: %d %v", code, body)
	}
}

func TestAppendSample(t *testing.T) {
	for _, tc := range []struct {
		t    int64
		v    float64
		want string
	}{
		{1767571200123000000, 1.5, `[1767571200.123,"1.5"]`},
		{1767571200000000000, 2, `[1767571200,"2"]`},
		{1767571200999000000, math.Inf(-1), `[1767571200.999,"-Inf"]`},
		{1767571200001000000, math.NaN(), `[1767571200.001,"NaN"]`},
	} {
		if got := string(appendSample(nil, tc.t, tc.v)); got != tc.want {
			t.Errorf("appendSample(%d, %v) = %s, want %s", tc.t, tc.v, got, tc.want)
		}
	}
}
