package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// memQuerier is series in memory: the engine's tests against a Querier
// whose answers they can compute by hand. The hub's tests run the engine
// against the real store.
type memQuerier map[string]memSeries

type memSeries struct {
	labels Labels
	pts    []Sample
}

func (m memQuerier) Select(_ context.Context, ms []*Matcher, limit int) ([]Series, error) {
	var out []Series
	for id, s := range m {
		if MatchesLabels(ms, s.labels) {
			out = append(out, Series{ID: id, Labels: s.labels})
		}
	}
	if len(out) > limit {
		return nil, &LimitError{Limit: "series", Msg: "too many series"}
	}
	sort.Slice(out, func(i, j int) bool { return compareLabels(out[i].Labels, out[j].Labels) < 0 })
	return out, nil
}

func (m memQuerier) Samples(_ context.Context, id string, from, to int64, limit int) ([]Sample, int, error) {
	var out []Sample
	for _, p := range m[id].pts {
		if p.T >= from && p.T < to && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, len(out), nil
}

func (m memQuerier) Buckets(_ context.Context, id string, from, to, step int64, agg BucketAgg) ([]Bucket, error) {
	var out []Bucket
	for _, p := range m[id].pts {
		if p.T < from || p.T >= to {
			continue
		}
		start := p.T / step * step
		if len(out) == 0 || out[len(out)-1].Start != start {
			out = append(out, Bucket{Start: start, Value: p.V})
		}
		b := &out[len(out)-1]
		switch agg {
		case BucketSum:
			if b.Count > 0 {
				b.Value += p.V
			}
		case BucketMin:
			b.Value = math.Min(b.Value, p.V)
		case BucketMax:
			b.Value = math.Max(b.Value, p.V)
		case BucketLast:
			b.Value = p.V
		}
		b.Count++
	}
	return out, nil
}

func lbls(kv ...string) Labels {
	var ls Labels
	for i := 0; i < len(kv); i += 2 {
		ls = append(ls, Label{kv[i], kv[i+1]})
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

const sec = int64(time.Second)

// testData: two counters rising by 1 and 2 a second, on two lines, and a
// gauge, sampled every 10 s from 0 to 1 h.
func testData() memQuerier {
	m := memQuerier{}
	add := func(id string, ls Labels, f func(t int64) float64) {
		s := memSeries{labels: ls}
		for t := int64(0); t <= 3600*sec; t += 10 * sec {
			s.pts = append(s.pts, Sample{T: t, V: f(t)})
		}
		m[id] = s
	}
	add("a/l1/parts", lbls("__name__", "parts", "line", "l1", "path", "a/l1/parts"), func(t int64) float64 { return float64(t / sec) })
	add("a/l2/parts", lbls("__name__", "parts", "line", "l2", "path", "a/l2/parts"), func(t int64) float64 { return float64(2 * t / sec) })
	add("a/l1/temp", lbls("__name__", "temp", "line", "l1", "path", "a/l1/temp"), func(t int64) float64 { return float64(t/sec%60) / 2 })
	return m
}

func query(t *testing.T, q Querier, lim Limits, expr string, start, end int64, step time.Duration) (*Result, error) {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return (&Engine{Limits: lim}).Query(t.Context(), q, e, start, end, step)
}

// dump renders a result: a line per series, its values at the steps ("_"
// where it has none).
func dump(r *Result) string {
	var b strings.Builder
	for _, s := range r.Series {
		b.WriteString(s.Labels.String())
		for i, v := range s.Values {
			if s.Has[i] {
				fmt.Fprintf(&b, " %s", FormatValue(v))
			} else {
				b.WriteString(" _")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestEngine(t *testing.T) {
	m := testData()
	for _, tc := range []struct {
		expr             string
		start, end, step int64
		want             string
	}{
		{`parts{line="l1"}`, 100, 100, 0, `{__name__="parts",line="l1",path="a/l1/parts"} 100` + "\n"},
		// Between samples, the latest one within the lookback.
		{`parts{line="l1"}`, 105, 105, 0, `{__name__="parts",line="l1",path="a/l1/parts"} 100` + "\n"},
		// Past the lookback after the last sample: nothing.
		{`parts{line="l1"}`, 3600 + 301, 3600 + 301, 0, ``},
		{`rate(parts[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/parts\"} 1\n{line=\"l2\",path=\"a/l2/parts\"} 2\n"},
		{`increase(parts{line="l2"}[1m])`, 600, 600, 0, "{line=\"l2\",path=\"a/l2/parts\"} 120\n"},
		// (570, 590]: 20 at 580, 25 at 590, extrapolated to the window's start.
		{`delta(temp[20s])`, 590, 590, 0, "{line=\"l1\",path=\"a/l1/temp\"} 10\n"},
		{`sum(rate(parts[1m]))`, 600, 600, 0, "{} 3\n"},
		{`sum by (line) (rate(parts[1m])) * 60`, 600, 600, 0, "{line=\"l1\"} 60\n{line=\"l2\"} 120\n"},
		{`count without (path) (parts)`, 600, 600, 0, "{line=\"l1\"} 1\n{line=\"l2\"} 1\n"},
		{`max(parts)`, 600, 600, 0, "{} 1200\n"},
		{`min(parts)`, 600, 600, 0, "{} 600\n"},
		{`avg(parts)`, 600, 600, 0, "{} 900\n"},
		// Samples at 550..600 s: temp 5,10,15,20,25,0 (half of t mod 60).
		{`avg_over_time(temp[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/temp\"} 12.5\n"},
		{`min_over_time(temp[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/temp\"} 0\n"},
		{`max_over_time(temp[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/temp\"} 25\n"},
		{`sum_over_time(temp[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/temp\"} 75\n"},
		{`count_over_time(temp[1m])`, 600, 600, 0, "{line=\"l1\",path=\"a/l1/temp\"} 6\n"},
		{`last_over_time(temp[1m])`, 590, 590, 0, "{line=\"l1\",path=\"a/l1/temp\"} 25\n"},
		{`-temp{line="l1"} + 100`, 590, 590, 0, "{line=\"l1\",path=\"a/l1/temp\"} 75\n"},
		{`2 ^ 3 % 5`, 0, 0, 0, "{} 3\n"},
		// Range queries by raw points (steps below a minute).
		{`parts{line="l2"}`, 0, 60, 30, "{__name__=\"parts\",line=\"l2\",path=\"a/l2/parts\"} 0 60 120\n"},
		// At 30 s the counter started at 0 within the window: no extrapolation
		// before it.
		{`rate(parts{line="l1"}[1m])`, 0, 120, 30, "{line=\"l1\",path=\"a/l1/parts\"} _ 0.5 1 1 1\n"},
		// Range queries by buckets of a minute: windows [t-w, t).
		{`avg_over_time(temp[1m])`, 120, 240, 60, "{line=\"l1\",path=\"a/l1/temp\"} 12.5 12.5 12.5\n"},
		{`count_over_time(temp[2m])`, 120, 240, 60, "{line=\"l1\",path=\"a/l1/temp\"} 12 12 12\n"},
		{`max_over_time(temp[1m])`, 120, 240, 60, "{line=\"l1\",path=\"a/l1/temp\"} 25 25 25\n"},
		{`sum_over_time(parts{line="l1"}[1m])`, 120, 180, 60, "{line=\"l1\",path=\"a/l1/parts\"} 510 870\n"},
		{`parts{line="l1"}`, 60, 180, 60, "{__name__=\"parts\",line=\"l1\",path=\"a/l1/parts\"} 50 110 170\n"},
		// The last sample (3600 s) stays within the lookback of 5 min until
		// 3900 s.
		{`parts{line="l1"}`, 3600 + 60, 3600 + 360, 60, "{__name__=\"parts\",line=\"l1\",path=\"a/l1/parts\"} 3600 3600 3600 3600 3600 _\n"},
	} {
		r, err := query(t, m, DefaultLimits, tc.expr, tc.start*sec, tc.end*sec, time.Duration(tc.step*sec))
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := dump(r); got != tc.want {
			t.Errorf("%s at %d..%d/%d:\n got %s\nwant %s", tc.expr, tc.start, tc.end, tc.step, got, tc.want)
		}
	}
}

// TestEngineCounterReset: rate and increase count a reset as a fresh
// counter, delta does not.
func TestEngineCounterReset(t *testing.T) {
	pts := []Sample{{0, 10}, {10 * sec, 20}, {20 * sec, 5}, {30 * sec, 15}, {40 * sec, 25}}
	m := memQuerier{"c": {labels: lbls("__name__", "c"), pts: pts}}
	// The window (0, 40 s] holds 20, 5, 15, 25: a change of 5, plus 20
	// at the reset for increase; the 30 s sampled are extrapolated to the
	// window's 40 s.
	for expr, want := range map[string]string{
		`increase(c[40s])`: "{} 33.33333333333333\n",
		`delta(c[40s])`:    "{} 6.666666666666666\n",
	} {
		r, err := query(t, m, DefaultLimits, expr, 40*sec, 40*sec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := dump(r); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

func TestEngineLimits(t *testing.T) {
	m := testData()
	for _, tc := range []struct {
		expr       string
		lim        Limits
		start, end int64
		step       time.Duration
		limit      string
	}{
		{`parts`, Limits{MaxSeries: 1, MaxPoints: 1000, MaxSteps: 100}, 600, 600, 0, "series"},
		{`rate(parts[1h])`, Limits{MaxSeries: 10, MaxPoints: 300, MaxSteps: 100}, 3600, 3600, 0, "points"},
		{`parts`, Limits{MaxSeries: 10, MaxPoints: 1000, MaxSteps: 5}, 0, 600, 60 * time.Second, "steps"},
		// The values of the result would be over the limit (2 series × 61
		// steps), though the rollups read fewer.
		{`parts`, Limits{MaxSeries: 10, MaxPoints: 100, MaxSteps: 100}, 0, 3600, 60 * time.Second, "points"},
	} {
		_, err := query(t, m, tc.lim, tc.expr, tc.start*sec, tc.end*sec, tc.step)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != tc.limit {
			t.Errorf("%s with %+v: %v, want a limit error of %s", tc.expr, tc.lim, err, tc.limit)
		}
	}
	// Within the limits, the same queries answer.
	if _, err := query(t, m, DefaultLimits, `rate(parts[1h])`, 3600*sec, 3600*sec, 0); err != nil {
		t.Error(err)
	}
}

func TestEngineRefuses(t *testing.T) {
	m := testData()
	for _, tc := range []struct {
		expr       string
		start, end int64
		step       time.Duration
	}{
		{`parts[5m]`, 0, 0, 0},
		{`parts`, 10, 0, time.Second},
		{`parts`, 0, 10, 0},
	} {
		if _, err := query(t, m, DefaultLimits, tc.expr, tc.start, tc.end, tc.step); err == nil {
			t.Errorf("%s %d..%d/%v: no error", tc.expr, tc.start, tc.end, tc.step)
		}
	}
}

// TestRollupsMatchSamples: a range query read from buckets gives what the
// windows [t-w, t) of the raw samples give.
func TestRollupsMatchSamples(t *testing.T) {
	m := testData()
	for _, fn := range []string{"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time"} {
		expr := fn + `(temp[5m])`
		r, err := query(t, m, DefaultLimits, expr, 600*sec, 1800*sec, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for i, ts := range r.Times {
			var win []Sample
			for _, p := range m["a/l1/temp"].pts {
				if p.T >= ts-300*sec && p.T < ts {
					win = append(win, p)
				}
			}
			want, _ := windowValue(fn, win, 0, 0, 0)
			if got := r.Series[0].Values[i]; got != want || !r.Series[0].Has[i] {
				t.Errorf("%s at %d: %v, want %v", expr, ts/sec, got, want)
			}
		}
	}
}

// TestRangeVector: a range vector selector alone gives each series' raw
// samples in (t-w, t], with the metric name, within the limits.
func TestRangeVector(t *testing.T) {
	m := testData()
	vs := &VectorSelector{Range: 30 * time.Second}
	vs.Matchers = append(vs.Matchers, mustMatcher(t, MatchEqual, MetricName, "parts"))
	got, err := (&Engine{}).RangeVector(t.Context(), m, vs, 600*sec)
	if err != nil {
		t.Fatal(err)
	}
	want := "{__name__=\"parts\",line=\"l1\",path=\"a/l1/parts\"} [{580000000000 580} {590000000000 590} {600000000000 600}]\n" +
		"{__name__=\"parts\",line=\"l2\",path=\"a/l2/parts\"} [{580000000000 1160} {590000000000 1180} {600000000000 1200}]\n"
	var b strings.Builder
	for _, s := range got {
		fmt.Fprintf(&b, "%s %v\n", s.Labels, s.Samples)
	}
	if b.String() != want {
		t.Errorf("parts[30s] at 600 s:\n got %s\nwant %s", b.String(), want)
	}
	var le *LimitError
	if _, err := (&Engine{Limits: Limits{MaxSeries: 10, MaxPoints: 5, MaxSteps: 1}}).RangeVector(t.Context(), m, vs, 600*sec); !errors.As(err, &le) || le.Limit != "points" {
		t.Errorf("6 points with a limit of 5: %v", err)
	}
}

func mustMatcher(t *testing.T, typ MatchType, name, value string) *Matcher {
	t.Helper()
	m, err := NewMatcher(typ, name, value)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
