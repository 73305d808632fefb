package promql

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sample is one numeric point of a series: unix ns and value.
type Sample struct {
	T int64
	V float64
}

// BucketAgg is what a Bucket holds of its samples.
type BucketAgg string

// The aggregates of buckets.
const (
	BucketSum  BucketAgg = "sum" // the sum, with the count of samples
	BucketMin  BucketAgg = "min"
	BucketMax  BucketAgg = "max"
	BucketLast BucketAgg = "last" // the latest sample
)

// Bucket is an aggregate of a series' numeric samples in [Start,
// Start+step).
type Bucket struct {
	Start int64 // unix ns, a multiple of the step
	Value float64
	Count int64 // the samples the aggregate used, > 0
}

// Series is one series a selector matched: its identity in the Querier
// and its labels.
type Series struct {
	ID     string
	Labels Labels
}

// Querier is the data an Engine reads. Times are unix ns; ranges are
// [from, to).
type Querier interface {
	// Select returns the series every matcher matches, sorted by labels.
	// When more than limit match it returns a *LimitError.
	Select(ctx context.Context, ms []*Matcher, limit int) ([]Series, error)
	// Samples returns the numeric samples among the first limit points of
	// a series in [from, to), in time order, and how many points it read
	// (samples and points it skipped, such as strings).
	Samples(ctx context.Context, id string, from, to int64, limit int) (samples []Sample, read int, err error)
	// Buckets returns the non-empty buckets of width step of a series in
	// [from, to), aggregated by agg; buckets start at multiples of step.
	Buckets(ctx context.Context, id string, from, to, step int64, agg BucketAgg) ([]Bucket, error)
}

// QueryError is a query the engine refuses as malformed (a range vector
// where an instant vector belongs, a range query without a step). The HTTP
// API answers it as bad_data (400).
type QueryError string

func (e QueryError) Error() string { return string(e) }

// LimitError is a query refused because it would read or return more
// than a limit allows. The HTTP API answers it as an execution error (422),
// as Prometheus does for queries that would load too many samples.
type LimitError struct {
	Limit string // "series", "points" or "steps"
	Msg   string
}

func (e *LimitError) Error() string { return e.Msg }

// Limits bound one query.
type Limits struct {
	// MaxSeries bounds the series one selector matches.
	MaxSeries int
	// MaxPoints bounds the samples and buckets a query reads, and the
	// values each selector gives (its series × the steps).
	MaxPoints int
	// MaxSteps bounds the steps of a range query.
	MaxSteps int
}

// DefaultLimits are the limits of the hub's API.
var DefaultLimits = Limits{MaxSeries: 2_000, MaxPoints: 2_000_000, MaxSteps: 11_000}

// LookbackDelta is how far back an instant vector selector looks for a
// series' latest sample, as in Prometheus.
const LookbackDelta = 5 * time.Minute

// RollupStep is the smallest step, and the unit of the steps, at which a
// range query reads buckets (the store's minute and hour rollups) in
// place of raw points.
const RollupStep = time.Minute

// Engine evaluates parsed queries.
type Engine struct {
	Limits Limits
}

// Result is an evaluated expression: a scalar, or series with a value at
// some of the steps.
type Result struct {
	Scalar bool
	// Times are the evaluation times (unix ns).
	Times []int64
	// Series are sorted by labels; for a scalar, one without labels that
	// has a value at every step.
	Series []ResultSeries
}

// ResultSeries is a series of a Result: Values[i] is its value at Times[i]
// when Has[i].
type ResultSeries struct {
	Labels Labels
	Values []float64
	Has    []bool
}

// Query evaluates e at start, start+step, … up to end (an instant query
// has start == end and step 0).
func (en *Engine) Query(ctx context.Context, q Querier, e Expr, start, end int64, step time.Duration) (*Result, error) {
	lim := en.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	if end < start {
		return nil, QueryError("end timestamp must not be before start time")
	}
	var times []int64
	if step <= 0 {
		if end != start {
			return nil, QueryError("zero or negative query resolution step widths are not accepted: try a positive integer")
		}
		times = []int64{start}
	} else {
		n := (end-start)/int64(step) + 1
		if n > int64(lim.MaxSteps) {
			return nil, &LimitError{Limit: "steps", Msg: fmt.Sprintf(
				"exceeded maximum resolution of %d points per timeseries: try decreasing the query resolution (?step=XX)", lim.MaxSteps)}
		}
		times = make([]int64, n)
		for i := range times {
			times[i] = start + int64(i)*int64(step)
		}
	}
	ev := &evaluator{ctx: ctx, q: q, lim: lim, times: times, step: int64(step), budget: lim.MaxPoints}
	v, err := ev.eval(e)
	if err != nil {
		return nil, err
	}
	res := &Result{Times: times}
	if v.scalar {
		s := ResultSeries{Labels: Labels{}, Values: make([]float64, len(times)), Has: make([]bool, len(times))}
		for i := range times {
			s.Values[i], s.Has[i] = v.num, true
		}
		res.Scalar, res.Series = true, []ResultSeries{s}
		return res, nil
	}
	for _, s := range v.series {
		if slices.Contains(s.Has, true) {
			res.Series = append(res.Series, s)
		}
	}
	slices.SortFunc(res.Series, func(a, b ResultSeries) int { return compareLabels(a.Labels, b.Labels) })
	return res, nil
}

func compareLabels(a, b Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// RawSeries is a series of a range vector: its samples in a window.
type RawSeries struct {
	Labels  Labels
	Samples []Sample
}

// RangeVector evaluates a range vector selector (metric[5m]) alone at t,
// as an instant query of it does in Prometheus: the raw samples of each
// series in (t-Range, t], within the limits.
func (en *Engine) RangeVector(ctx context.Context, q Querier, vs *VectorSelector, t int64) ([]RawSeries, error) {
	lim := en.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	ev := &evaluator{ctx: ctx, q: q, lim: lim, times: []int64{t}, budget: lim.MaxPoints}
	series, err := ev.selectSeries(vs)
	if err != nil {
		return nil, err
	}
	var out []RawSeries
	for _, s := range series {
		pts, read, err := q.Samples(ctx, s.ID, max(t-int64(vs.Range)+1, 0), t+1, ev.budget+1)
		if err != nil {
			return nil, err
		}
		if err := ev.take(read); err != nil {
			return nil, err
		}
		if len(pts) > 0 {
			out = append(out, RawSeries{Labels: s.Labels, Samples: pts})
		}
	}
	return out, nil
}

// value is an intermediate result: a number, or series over the steps.
type value struct {
	scalar bool
	num    float64
	series []ResultSeries
}

type evaluator struct {
	ctx    context.Context
	q      Querier
	lim    Limits
	times  []int64
	step   int64
	budget int // points the query may still read
}

func (ev *evaluator) eval(e Expr) (value, error) {
	switch e := e.(type) {
	case *NumberLit:
		return value{scalar: true, num: e.Val}, nil
	case *Paren:
		return ev.eval(e.Expr)
	case *Unary:
		v, err := ev.eval(e.Expr)
		if err != nil {
			return v, err
		}
		return arith("*", v, value{scalar: true, num: -1}), nil
	case *Binary:
		l, err := ev.eval(e.LHS)
		if err != nil {
			return l, err
		}
		r, err := ev.eval(e.RHS)
		if err != nil {
			return r, err
		}
		return arith(e.Op, l, r), nil
	case *VectorSelector:
		if e.Range != 0 {
			return value{}, QueryError("a range vector selector must be the argument of a function such as rate or avg_over_time, or alone in an instant query")
		}
		return ev.selectorValues(e, "last", LookbackDelta)
	case *Call:
		return ev.selectorValues(e.Arg, e.Func, e.Arg.Range)
	case *Aggregate:
		v, err := ev.eval(e.Expr)
		if err != nil {
			return v, err
		}
		return aggregate(e, v, len(ev.times)), nil
	}
	return value{}, QueryError(fmt.Sprintf("unexpected expression %T", e))
}

// selectorValues evaluates fn over the windows of width w that end at each
// step, for every series the selector matches. fn "last" of a plain
// selector keeps the metric name; functions drop it, as in Prometheus.
func (ev *evaluator) selectorValues(vs *VectorSelector, fn string, w time.Duration) (value, error) {
	series, err := ev.selectSeries(vs)
	if err != nil {
		return value{}, err
	}
	// Each series holds a value slot at every step: bound them before
	// they are made.
	if n := len(series) * len(ev.times); n > ev.lim.MaxPoints {
		return value{}, &LimitError{Limit: "points", Msg: fmt.Sprintf(
			"the selector %s gives %d series × %d steps, more than %d points: use a larger step, a shorter range or fewer series",
			vs, len(series), len(ev.times), ev.lim.MaxPoints)}
	}
	plain := vs.Range == 0
	out := value{series: make([]ResultSeries, 0, len(series))}
	for _, s := range series {
		if err := ev.ctx.Err(); err != nil {
			return value{}, err
		}
		ls := s.Labels
		if !plain {
			ls = ls.without(MetricName)
		}
		rs := ResultSeries{Labels: ls, Values: make([]float64, len(ev.times)), Has: make([]bool, len(ev.times))}
		if ev.rollups(fn, w, plain) {
			err = ev.fromBuckets(s.ID, fn, w, plain, &rs)
		} else {
			err = ev.fromSamples(s.ID, fn, w, &rs)
		}
		if err != nil {
			return value{}, err
		}
		out.series = append(out.series, rs)
	}
	return out, nil
}

// selectSeries returns the series vs selects, within the series limit.
func (ev *evaluator) selectSeries(vs *VectorSelector) ([]Series, error) {
	series, err := ev.q.Select(ev.ctx, vs.Matchers, ev.lim.MaxSeries)
	if err != nil {
		return nil, err
	}
	if len(series) > ev.lim.MaxSeries {
		return nil, &LimitError{Limit: "series", Msg: fmt.Sprintf("the selector %s matches more than %d series: narrow it with more label matchers", vs, ev.lim.MaxSeries)}
	}
	return series, nil
}

// rollups reports whether fn over windows of w is read from buckets: in
// range queries whose step is a whole number of minutes (RollupStep), at
// times that are multiples of the step, for functions buckets can answer,
// over windows that are whole steps (a plain selector's lookback is
// rounded up to whole steps).
func (ev *evaluator) rollups(fn string, w time.Duration, plain bool) bool {
	if ev.step <= 0 || ev.step%int64(RollupStep) != 0 || ev.times[0]%ev.step != 0 {
		return false
	}
	switch fn {
	case "last", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time":
	default:
		return false
	}
	return plain || int64(w)%ev.step == 0
}

// take counts n points against the query's budget.
func (ev *evaluator) take(n int) error {
	ev.budget -= n
	if ev.budget < 0 {
		return &LimitError{Limit: "points", Msg: fmt.Sprintf(
			"the query would read more than %d points: use a shorter range, a step of whole minutes with *_over_time, or fewer series", ev.lim.MaxPoints)}
	}
	return nil
}

// fromSamples evaluates fn over raw samples, in windows (t-w, t] as
// Prometheus does.
func (ev *evaluator) fromSamples(id, fn string, w time.Duration, rs *ResultSeries) error {
	from, to := max(ev.times[0]-int64(w)+1, 0), ev.times[len(ev.times)-1]+1
	pts, read, err := ev.q.Samples(ev.ctx, id, from, to, ev.budget+1)
	if err != nil {
		return err
	}
	if err := ev.take(read); err != nil {
		return err
	}
	for i, t := range ev.times {
		lo := sort.Search(len(pts), func(j int) bool { return pts[j].T > t-int64(w) })
		hi := sort.Search(len(pts), func(j int) bool { return pts[j].T > t })
		rs.Values[i], rs.Has[i] = windowValue(fn, pts[lo:hi], t-int64(w), t, w)
	}
	return nil
}

// windowValue is fn of the samples of one window (rangeStart, rangeEnd].
func windowValue(fn string, win []Sample, rangeStart, rangeEnd int64, w time.Duration) (float64, bool) {
	if len(win) == 0 {
		return 0, false
	}
	switch fn {
	case "last", "last_over_time":
		return win[len(win)-1].V, true
	case "count_over_time":
		return float64(len(win)), true
	case "sum_over_time", "avg_over_time":
		var sum float64
		for _, s := range win {
			sum += s.V
		}
		if fn == "avg_over_time" {
			return sum / float64(len(win)), true
		}
		return sum, true
	case "min_over_time", "max_over_time":
		v := win[0].V
		for _, s := range win[1:] {
			if fn == "min_over_time" && (s.V < v || math.IsNaN(v)) || fn == "max_over_time" && (s.V > v || math.IsNaN(v)) {
				v = s.V
			}
		}
		return v, true
	case "rate", "increase", "delta":
		return extrapolatedRate(win, rangeStart, rangeEnd, w, fn != "delta", fn == "rate")
	}
	return 0, false
}

// extrapolatedRate is Prometheus's rate, increase and delta: the change
// over the window's samples (with counter resets for rate and increase),
// extrapolated to the window's edges unless the samples stop well short
// of them.
func extrapolatedRate(win []Sample, rangeStart, rangeEnd int64, w time.Duration, counter, perSecond bool) (float64, bool) {
	if len(win) < 2 {
		return 0, false
	}
	first, last := win[0], win[len(win)-1]
	result := last.V - first.V
	if counter {
		prev := first.V
		for _, s := range win[1:] {
			if s.V < prev {
				result += prev
			}
			prev = s.V
		}
	}
	durToStart := float64(first.T-rangeStart) / 1e9
	durToEnd := float64(rangeEnd-last.T) / 1e9
	sampled := float64(last.T-first.T) / 1e9
	avgBetween := sampled / float64(len(win)-1)
	if counter && result > 0 && first.V >= 0 {
		if toZero := sampled * (first.V / result); toZero < durToStart {
			durToStart = toZero
		}
	}
	threshold := avgBetween * 1.1
	interval := sampled
	if durToStart < threshold {
		interval += durToStart
	} else {
		interval += avgBetween / 2
	}
	if durToEnd < threshold {
		interval += durToEnd
	} else {
		interval += avgBetween / 2
	}
	result *= interval / sampled
	if perSecond {
		result /= w.Seconds()
	}
	return result, true
}

// fromBuckets evaluates fn from buckets of one step: the value at t
// combines the buckets starting in [t-w, t). A plain selector takes the
// latest bucket within the lookback rounded up to whole steps.
func (ev *evaluator) fromBuckets(id, fn string, w time.Duration, plain bool, rs *ResultSeries) error {
	span := int64(w)
	if plain {
		span = (int64(LookbackDelta) + ev.step - 1) / ev.step * ev.step
	}
	agg := BucketSum
	switch fn {
	case "last", "last_over_time":
		agg = BucketLast
	case "min_over_time":
		agg = BucketMin
	case "max_over_time":
		agg = BucketMax
	}
	from, to := max(ev.times[0]-span, 0), ev.times[len(ev.times)-1]
	if to <= from {
		return nil
	}
	bs, err := ev.q.Buckets(ev.ctx, id, from, to, ev.step, agg)
	if err != nil {
		return err
	}
	if err := ev.take(len(bs)); err != nil {
		return err
	}
	for i, t := range ev.times {
		lo := sort.Search(len(bs), func(j int) bool { return bs[j].Start >= t-span })
		hi := sort.Search(len(bs), func(j int) bool { return bs[j].Start >= t })
		win := bs[lo:hi]
		if len(win) == 0 {
			continue
		}
		rs.Has[i] = true
		switch fn {
		case "last", "last_over_time":
			rs.Values[i] = win[len(win)-1].Value
		case "min_over_time", "max_over_time":
			v := win[0].Value
			for _, b := range win[1:] {
				if fn == "min_over_time" {
					v = math.Min(v, b.Value)
				} else {
					v = math.Max(v, b.Value)
				}
			}
			rs.Values[i] = v
		default: // sum, count, avg
			var sum float64
			var n int64
			for _, b := range win {
				sum += b.Value
				n += b.Count
			}
			switch fn {
			case "sum_over_time":
				rs.Values[i] = sum
			case "count_over_time":
				rs.Values[i] = float64(n)
			default:
				rs.Values[i] = sum / float64(n)
			}
		}
	}
	return nil
}

// arith applies op to two values, at least one of them a number. Series
// lose their metric name, as in Prometheus.
func arith(op string, l, r value) value {
	if l.scalar && r.scalar {
		return value{scalar: true, num: apply(op, l.num, r.num)}
	}
	vec, num, numLeft := l, r.num, true
	if l.scalar {
		vec, num, numLeft = r, l.num, false
	}
	out := value{series: make([]ResultSeries, len(vec.series))}
	for i, s := range vec.series {
		ns := ResultSeries{Labels: s.Labels.without(MetricName), Values: make([]float64, len(s.Values)), Has: s.Has}
		for j, v := range s.Values {
			if numLeft {
				ns.Values[j] = apply(op, v, num)
			} else {
				ns.Values[j] = apply(op, num, v)
			}
		}
		out.series[i] = ns
	}
	return out
}

func apply(op string, a, b float64) float64 {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	case "%":
		return math.Mod(a, b)
	case "^":
		return math.Pow(a, b)
	}
	return math.NaN()
}

// aggregate groups v's series by a's grouping and aggregates each step.
func aggregate(a *Aggregate, v value, steps int) value {
	type group struct {
		labels Labels
		sum    []float64
		min    []float64
		max    []float64
		n      []int
	}
	groups := map[string]*group{}
	var order []string
	for _, s := range v.series {
		var ls Labels
		if a.Without {
			ls = s.Labels.without(append([]string{MetricName}, a.Grouping...)...)
		} else {
			ls = s.Labels.only(a.Grouping)
		}
		key := ls.String()
		g, ok := groups[key]
		if !ok {
			g = &group{labels: ls, sum: make([]float64, steps), min: make([]float64, steps), max: make([]float64, steps), n: make([]int, steps)}
			groups[key] = g
			order = append(order, key)
		}
		for i, has := range s.Has {
			if !has {
				continue
			}
			x := s.Values[i]
			if g.n[i] == 0 {
				g.min[i], g.max[i] = x, x
			} else {
				if x < g.min[i] || math.IsNaN(g.min[i]) {
					g.min[i] = x
				}
				if x > g.max[i] || math.IsNaN(g.max[i]) {
					g.max[i] = x
				}
			}
			g.sum[i] += x
			g.n[i]++
		}
	}
	out := value{series: make([]ResultSeries, 0, len(order))}
	for _, key := range order {
		g := groups[key]
		rs := ResultSeries{Labels: g.labels, Values: make([]float64, steps), Has: make([]bool, steps)}
		for i := range steps {
			if g.n[i] == 0 {
				continue
			}
			rs.Has[i] = true
			switch a.Op {
			case "sum":
				rs.Values[i] = g.sum[i]
			case "avg":
				rs.Values[i] = g.sum[i] / float64(g.n[i])
			case "min":
				rs.Values[i] = g.min[i]
			case "max":
				rs.Values[i] = g.max[i]
			case "count":
				rs.Values[i] = float64(g.n[i])
			}
		}
		out.series = append(out.series, rs)
	}
	return out
}

// String renders a selector for messages.
func (vs *VectorSelector) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range vs.Matchers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	if vs.Range > 0 {
		fmt.Fprintf(&b, "[%s]", vs.Range)
	}
	return b.String()
}

// FormatValue writes a sample value as the Prometheus HTTP API does.
func FormatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
