package series

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/promql"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// PromPrefix is where the hub answers the Prometheus HTTP query API, so
// that Grafana's Prometheus data source reads molen at https://hub/prom.
const PromPrefix = "/prom"

// MaxPromScan bounds the series one selector may list before its label
// matchers filter them; PromSeriesLimit is the default limit of the
// series, labels and metadata endpoints.
const (
	MaxPromScan     = 100_000
	PromSeriesLimit = 10_000
)

// AssetLabels name the levels of a series' asset path, outermost first
// (ISA-95): a path site/area/line/cell/tag has the labels site, area, line
// and cell, the metric name tag; levels deeper than these are level5,
// level6, …
var AssetLabels = []string{"site", "area", "line", "cell"}

// PathLabel holds a series' whole UNS path: the one label that always
// tells series apart (two tags may sanitise to one metric name).
const PathLabel = "path"

// PromLabels are the labels of the series at path: __name__ is the tag
// sanitised to [a-zA-Z_:][a-zA-Z0-9_:]*, the asset's levels are
// AssetLabels, and path is the path.
func PromLabels(path string) promql.Labels {
	segs := strings.Split(path, "/")
	ls := make(promql.Labels, 0, len(segs)+2)
	ls = append(ls, promql.Label{Name: promql.MetricName, Value: MetricName(segs[len(segs)-1])})
	for i, seg := range segs[:len(segs)-1] {
		name := "level" + strconv.Itoa(i+1)
		if i < len(AssetLabels) {
			name = AssetLabels[i]
		}
		ls = append(ls, promql.Label{Name: name, Value: seg})
	}
	ls = append(ls, promql.Label{Name: PathLabel, Value: path})
	slices.SortFunc(ls, func(a, b promql.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// MetricName sanitises a UNS tag to a Prometheus metric name: characters
// outside [a-zA-Z0-9_:] become '_', and a leading digit gets a '_' before
// it.
func MetricName(tag string) string {
	b := []byte(tag)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// promMetrics count the Prometheus API's queries and refusals.
type promMetrics struct {
	queries *prometheus.CounterVec // by endpoint
	refused *prometheus.CounterVec // by reason
}

func newPromMetrics(reg prometheus.Registerer) *promMetrics {
	m := &promMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_prom_requests_total",
			Help: "Requests of the Prometheus query API (/prom/api/v1/…), by endpoint."}, []string{"endpoint"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_prom_refused_total",
			Help: "Requests of the Prometheus query API refused, by reason: bad_data (a malformed or unsupported query or parameter), series, points or steps (a limit)."}, []string{"reason"}),
	}
	for _, r := range []string{"bad_data", "series", "points", "steps"} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.refused)
	}
	return m
}

// promHandler answers one endpoint: the data of a successful answer (a
// value written as JSON, or json.RawMessage) and its warnings.
type promHandler func(r *http.Request, q *promQuerier) (data any, warnings []string, err error)

// promRoutes are the Prometheus HTTP query API under PromPrefix: the
// series routes' policy, also with the token as a Basic password
// (Grafana's basic auth), and errors in Prometheus's format. POST takes
// the parameters as a form, as Prometheus does; it changes nothing, so
// the router records no change of it.
func (s *Service) promRoutes() []api.Route {
	var routes []api.Route
	add := func(path string, h promHandler, methods ...string) {
		endpoint := strings.TrimPrefix(path, "/")
		for _, m := range methods {
			routes = append(routes, api.Route{Method: m, Path: PromPrefix + "/api/v1" + path, Auth: api.Viewer, Area: "series",
				Basic: true, SelfAudited: m == "POST", Errors: writePromError, Stream: s.prom(endpoint, h)})
		}
	}
	add("/query", s.promQuery, "GET", "POST")
	add("/query_range", s.promQueryRange, "GET", "POST")
	add("/series", s.promSeries, "GET", "POST")
	add("/labels", s.promLabels, "GET", "POST")
	add("/label/{name}/values", s.promLabelValues, "GET")
	add("/metadata", s.promMetadata, "GET")
	add("/query_exemplars", func(*http.Request, *promQuerier) (any, []string, error) { return []any{}, nil, nil }, "GET", "POST")
	add("/status/buildinfo", promBuildInfo, "GET")
	routes = append(routes, api.Route{Path: PromPrefix + "/", Auth: api.Viewer, Area: "series", Basic: true, Errors: writePromError,
		Stream: func(http.ResponseWriter, *http.Request, api.Principal) error {
			return fmt.Errorf("%w: molen answers the Prometheus query API: query, query_range, series, labels, label values, metadata and buildinfo", api.ErrNoRoute)
		}})
	return routes
}

// prom adapts a promHandler to a Stream route: it reads the form (the
// URL's and, for POST, the body's parameters), answers in Prometheus's
// format and counts refusals.
func (s *Service) prom(endpoint string, h promHandler) func(http.ResponseWriter, *http.Request, api.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p api.Principal) error {
		s.promM.queries.WithLabelValues(endpoint).Inc()
		if err := r.ParseForm(); err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				return err
			}
			s.promM.refused.WithLabelValues("bad_data").Inc()
			return api.BadRequest("form: %v", err)
		}
		// The data-sharing parameter (?org=) may come in a POST body too.
		r.URL.RawQuery = r.Form.Encode()
		data, warnings, err := h(r, &promQuerier{s: s, r: r, p: p})
		var le *promql.LimitError
		switch {
		case errors.As(err, &le):
			s.promM.refused.WithLabelValues(le.Limit).Inc()
			code, typ := http.StatusUnprocessableEntity, "execution"
			if le.Limit == "steps" {
				code, typ = http.StatusBadRequest, "bad_data" // as Prometheus answers it
			}
			writeProm(w, code, promAnswer{Status: "error", ErrorType: typ, Error: le.Msg})
			return nil
		case errors.Is(err, api.ErrBadRequest):
			s.promM.refused.WithLabelValues("bad_data").Inc()
			return err
		case err != nil:
			return err
		}
		// The query results are JSON already (appendMatrix): written as
		// they are, not validated again by encoding/json.
		raw, ok := data.(json.RawMessage)
		if !ok {
			if raw, err = json.Marshal(data); err != nil {
				return fmt.Errorf("encode answer: %w", err)
			}
		}
		b := make([]byte, 0, len(raw)+64)
		b = append(b, `{"status":"success","data":`...)
		b = append(b, raw...)
		if len(warnings) > 0 {
			ws, _ := json.Marshal(warnings) // strings: cannot fail
			b = append(append(b, `,"warnings":`...), ws...)
		}
		b = append(b, '}')
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(b)
		return err
	}
}

// promAnswer is the envelope of an error of the Prometheus API.
type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

func writeProm(w http.ResponseWriter, code int, a promAnswer) {
	b, _ := json.Marshal(a) // of strings and raw JSON: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// writePromError answers an error in Prometheus's format, with the
// errorType Prometheus gives its status codes.
func writePromError(w http.ResponseWriter, code int, msg string) {
	typ := map[int]string{
		http.StatusBadRequest: "bad_data", http.StatusUnprocessableEntity: "execution", http.StatusNotFound: "not_found",
		http.StatusServiceUnavailable: "unavailable", http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden",
		http.StatusTooManyRequests: "too_many_requests", http.StatusRequestEntityTooLarge: "bad_data",
	}[code]
	if typ == "" {
		typ = "internal"
	}
	writeProm(w, code, promAnswer{Status: "error", ErrorType: typ, Error: strings.TrimPrefix(msg, api.ErrBadRequest.Error()+": ")})
}

func (s *Service) promQuery(r *http.Request, q *promQuerier) (any, []string, error) {
	t := s.now().UnixNano()
	if v := r.Form.Get("time"); v != "" {
		var err error
		if t, err = promTime("time", v); err != nil {
			return nil, nil, err
		}
	}
	e, err := promParse(r)
	if err != nil {
		return nil, nil, err
	}
	if vs, ok := e.(*promql.VectorSelector); ok && vs.Range > 0 {
		// A range vector alone: each series' raw points in the range.
		raw, err := (&promql.Engine{Limits: s.promLimits}).RangeVector(r.Context(), q, vs, t)
		if err != nil {
			return nil, nil, err
		}
		return json.RawMessage(appendRaw(nil, raw)), nil, nil
	}
	res, err := s.promEval(r, q, e, t, t, 0)
	if err != nil {
		return nil, nil, err
	}
	return json.RawMessage(appendInstant(nil, res)), nil, nil
}

func (s *Service) promQueryRange(r *http.Request, q *promQuerier) (any, []string, error) {
	start, err := promTime("start", r.Form.Get("start"))
	if err != nil {
		return nil, nil, err
	}
	end, err := promTime("end", r.Form.Get("end"))
	if err != nil {
		return nil, nil, err
	}
	step, err := promStep(r.Form.Get("step"))
	if err != nil {
		return nil, nil, err
	}
	if end < start {
		return nil, nil, api.BadRequest("end timestamp must not be before start time")
	}
	e, err := promParse(r)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.promEval(r, q, e, start, end, step)
	if err != nil {
		return nil, nil, err
	}
	return json.RawMessage(appendMatrix(nil, res)), nil, nil
}

// promParse parses the query parameter.
func promParse(r *http.Request) (promql.Expr, error) {
	text := r.Form.Get("query")
	if strings.TrimSpace(text) == "" {
		return nil, api.BadRequest("query: missing: give a PromQL expression")
	}
	e, err := promql.Parse(text)
	if err != nil {
		return nil, api.BadRequest("invalid parameter \"query\": %v", err)
	}
	return e, nil
}

func (s *Service) promEval(r *http.Request, q *promQuerier, e promql.Expr, start, end int64, step time.Duration) (*promql.Result, error) {
	res, err := (&promql.Engine{Limits: s.promLimits}).Query(r.Context(), q, e, start, end, step)
	if qe := promql.QueryError(""); errors.As(err, &qe) {
		return nil, api.BadRequest("%v", err)
	}
	return res, err
}

// appendInstant writes an instant query's result: a scalar or a vector.
func appendInstant(b []byte, res *promql.Result) []byte {
	t := res.Times[0]
	if res.Scalar {
		b = append(b, `{"resultType":"scalar","result":`...)
		b = appendSample(b, t, res.Series[0].Values[0])
		return append(b, '}')
	}
	b = append(b, `{"resultType":"vector","result":[`...)
	for i, s := range res.Series {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.Labels)
		b = append(b, `,"value":`...)
		b = appendSample(b, t, s.Values[0])
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendMatrix writes a range query's result (a scalar as one series
// without labels, as Prometheus does).
func appendMatrix(b []byte, res *promql.Result) []byte {
	b = append(b, `{"resultType":"matrix","result":[`...)
	for i, s := range res.Series {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.Labels)
		b = append(b, `,"values":[`...)
		first := true
		for j, t := range res.Times {
			if !s.Has[j] {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendSample(b, t, s.Values[j])
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

// appendRaw writes a range vector as a matrix of its series' points.
func appendRaw(b []byte, raw []promql.RawSeries) []byte {
	b = append(b, `{"resultType":"matrix","result":[`...)
	for i, s := range raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.Labels)
		b = append(b, `,"values":[`...)
		for j, p := range s.Samples {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendSample(b, p.T, p.V)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

// appendSample writes [unix seconds, "value"], the time in whole
// milliseconds as Prometheus writes it (ms/1000 prints exactly; ns/1e9
// may not).
func appendSample(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(t/1e6)/1000, 'f', -1, 64)
	b = append(b, `,"`...)
	b = append(b, promql.FormatValue(v)...)
	return append(b, `"]`...)
}

func appendLabels(b []byte, ls promql.Labels) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}

// maxPromSeconds is the latest time unix ns hold, in seconds (in 2262).
const maxPromSeconds = math.MaxInt64/int64(time.Second) - 1

// promTime reads a time parameter: unix seconds (with a fraction) or
// RFC 3339, within what unix ns can hold.
func promTime(name, v string) (int64, error) {
	if v == "" {
		return 0, api.BadRequest("invalid parameter %q: missing", name)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || f < 0 || f > float64(maxPromSeconds) {
			return 0, api.BadRequest("invalid parameter %q: %s is out of range", name, v)
		}
		sec, frac := math.Modf(f)
		return int64(sec)*1e9 + int64(math.Round(frac*1e3))*1e6, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, api.BadRequest("invalid parameter %q: cannot parse %q to a valid timestamp", name, v)
	}
	if t.Unix() < 0 || t.Unix() > maxPromSeconds {
		return 0, api.BadRequest("invalid parameter %q: %s is out of range", name, v)
	}
	return t.UnixNano(), nil
}

// promStep reads a step: seconds (with a fraction) or a duration (15s).
func promStep(v string) (time.Duration, error) {
	if v == "" {
		return 0, api.BadRequest("invalid parameter \"step\": missing")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || f > float64(365*24*3600) {
			return 0, api.BadRequest("invalid parameter \"step\": %s is out of range", v)
		}
		d = time.Duration(math.Round(f*1e3)) * time.Millisecond
	} else if d, err = promql.ParseDuration(v); err != nil {
		return 0, api.BadRequest("invalid parameter \"step\": cannot parse %q to a valid duration", v)
	}
	if d <= 0 {
		return 0, api.BadRequest("invalid parameter \"step\": zero or negative query resolution step widths are not accepted: try a positive integer")
	}
	return d, nil
}

// promRange reads the optional start and end of the listing endpoints.
func promRange(r *http.Request) (start, end int64, err error) {
	start, end = 0, math.MaxInt64
	if v := r.Form.Get("start"); v != "" {
		if start, err = promTime("start", v); err != nil {
			return 0, 0, err
		}
	}
	if v := r.Form.Get("end"); v != "" {
		if end, err = promTime("end", v); err != nil {
			return 0, 0, err
		}
	}
	return start, end, nil
}

// matched lists the series the match[] selectors of the listing
// endpoints select (all of the caller's series without one) that have
// points in [start, end], at most limit of them.
func (s *Service) matched(r *http.Request, q *promQuerier, required bool) (out []promql.Series, warnings []string, err error) {
	start, end, err := promRange(r)
	if err != nil {
		return nil, nil, err
	}
	// As in Prometheus, limit=0 means none: here, at most MaxPromScan.
	limit := PromSeriesLimit
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, nil, api.BadRequest("invalid parameter \"limit\": %q: want a number of series, 0 for no limit", v)
		}
		limit = min(n, MaxPromScan)
		if n == 0 {
			limit = MaxPromScan
		}
	}
	sels := r.Form["match[]"]
	if len(sels) == 0 {
		if required {
			return nil, nil, api.BadRequest("no match[] parameter provided")
		}
		sels = []string{""}
	}
	seen := map[string]bool{}
	for _, sel := range sels {
		var ms []*promql.Matcher
		if sel != "" {
			e, err := promql.Parse(sel)
			if err != nil {
				return nil, nil, api.BadRequest("invalid parameter \"match[]\": %v", err)
			}
			vs, ok := e.(*promql.VectorSelector)
			if !ok || vs.Range != 0 {
				return nil, nil, api.BadRequest("invalid parameter \"match[]\": %q is not an instant vector selector", sel)
			}
			ms = vs.Matchers
		}
		infos, err := q.list(r.Context(), ms, api.DataAggregates)
		if err != nil {
			return nil, nil, err
		}
		for _, in := range infos {
			if seen[in.ID] || in.last < start || in.first > end {
				continue
			}
			seen[in.ID] = true
			if len(out) == limit {
				return out, []string{fmt.Sprintf("results truncated due to limit of %d series", limit)}, nil
			}
			out = append(out, in.Series)
		}
	}
	slices.SortFunc(out, func(a, b promql.Series) int { return strings.Compare(a.ID, b.ID) })
	return out, nil, nil
}

func (s *Service) promSeries(r *http.Request, q *promQuerier) (any, []string, error) {
	series, warnings, err := s.matched(r, q, true)
	if err != nil {
		return nil, nil, err
	}
	out := make([]map[string]string, len(series))
	for i, sr := range series {
		out[i] = sr.Labels.Map()
	}
	return out, warnings, nil
}

func (s *Service) promLabels(r *http.Request, q *promQuerier) (any, []string, error) {
	series, warnings, err := s.matched(r, q, false)
	if err != nil {
		return nil, nil, err
	}
	names := []string{}
	for _, sr := range series {
		for _, l := range sr.Labels {
			if !slices.Contains(names, l.Name) {
				names = append(names, l.Name)
			}
		}
	}
	slices.Sort(names)
	return names, warnings, nil
}

func (s *Service) promLabelValues(r *http.Request, q *promQuerier) (any, []string, error) {
	name := r.PathValue("name")
	series, warnings, err := s.matched(r, q, false)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	values := []string{}
	for _, sr := range series {
		if v := sr.Labels.Get(name); v != "" && !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	slices.Sort(values)
	return values, warnings, nil
}

// promMetadata tells each metric name's type: unknown, as UNS tags carry
// none, with the paths' tag as help.
func (s *Service) promMetadata(r *http.Request, q *promQuerier) (any, []string, error) {
	if m := r.Form.Get("metric"); m != "" {
		r.Form["match[]"] = []string{fmt.Sprintf("{__name__=%q}", m)}
	}
	series, warnings, err := s.matched(r, q, false)
	if err != nil {
		return nil, nil, err
	}
	type meta struct {
		Type string `json:"type"`
		Help string `json:"help"`
		Unit string `json:"unit"`
	}
	out := map[string][]meta{}
	for _, sr := range series {
		name := sr.Labels.Get(promql.MetricName)
		if _, ok := out[name]; !ok {
			out[name] = []meta{{Type: "unknown", Help: "UNS tag " + uns.Tag(sr.ID), Unit: ""}}
		}
	}
	return out, warnings, nil
}

// promBuildInfo tells the Prometheus API version the endpoints follow.
func promBuildInfo(*http.Request, *promQuerier) (any, []string, error) {
	return map[string]string{"version": "2.42.0", "revision": "molen", "branch": "molen", "buildUser": "molen",
		"buildDate": "", "goVersion": runtime.Version()}, nil, nil
}

// promQuerier answers the engine from the store, for one request: the
// caller's organisation, or another one that shares its data by a grant
// (?org=), exactly as the other series routes.
type promQuerier struct {
	s   *Service
	r   *http.Request
	p   api.Principal
	org string // of the last selector listed
}

// listed is a series with the time span of its points.
type listed struct {
	promql.Series
	first, last int64
}

// list returns the numeric series whose labels match ms, read under the
// narrowest UNS prefix the matchers imply.
func (q *promQuerier) list(ctx context.Context, ms []*promql.Matcher, kind api.DataKind) ([]listed, error) {
	prefix := matcherPrefix(ms)
	if uns.ValidatePrefix(prefix) != nil {
		return nil, nil // no series has this path
	}
	org, prefix, err := api.DataPrefix(q.r, q.p, kind, prefix)
	if err != nil {
		return nil, err
	}
	q.org = org
	infos, err := q.s.st.Series(ctx, org, prefix, MaxPromScan+1)
	if err != nil {
		return nil, err
	}
	if len(infos) > MaxPromScan {
		return nil, &promql.LimitError{Limit: "series", Msg: fmt.Sprintf(
			"more than %d series under %q: narrow the selector with site, area, line or path", MaxPromScan, prefix)}
	}
	var out []listed
	for _, in := range infos {
		if in.Kind == uns.KindString || in.Kind == uns.KindInvalid {
			continue
		}
		ls := PromLabels(in.Path)
		if promql.MatchesLabels(ms, ls) {
			out = append(out, listed{Series: promql.Series{ID: in.Path, Labels: ls}, first: in.First, last: in.Last})
		}
	}
	return out, nil
}

// matcherPrefix is the longest UNS prefix the matchers imply: the path
// itself, the literal start of a path regular expression up to its last
// '/', or the asset levels given by equality from the site down.
func matcherPrefix(ms []*promql.Matcher) string {
	levels := map[string]string{}
	best := ""
	for _, m := range ms {
		switch {
		case m.Name == PathLabel && m.Type == promql.MatchEqual:
			return m.Value
		case m.Name == PathLabel && m.Type == promql.MatchRegexp:
			if re, err := regexp.Compile(m.Value); err == nil {
				lit, _ := re.LiteralPrefix()
				if i := strings.LastIndexByte(lit, '/'); i > len(best) && !strings.ContainsAny(lit[:i], "|") {
					best = lit[:i]
				}
			}
		case m.Type == promql.MatchEqual:
			levels[m.Name] = m.Value
		}
	}
	var segs []string
	for _, name := range AssetLabels {
		v, ok := levels[name]
		if !ok {
			break
		}
		segs = append(segs, v)
	}
	if p := strings.Join(segs, "/"); len(p) > len(best) {
		best = p
	}
	return best
}

// Select implements promql.Querier: series a query may read raw.
func (q *promQuerier) Select(ctx context.Context, ms []*promql.Matcher, limit int) ([]promql.Series, error) {
	infos, err := q.list(ctx, ms, api.DataSeries)
	if err != nil {
		return nil, err
	}
	if len(infos) > limit {
		return nil, &promql.LimitError{Limit: "series", Msg: fmt.Sprintf(
			"the selector matches %d series; the limit is %d: narrow it with more label matchers", len(infos), limit)}
	}
	out := make([]promql.Series, len(infos))
	for i, in := range infos {
		out[i] = in.Series
	}
	return out, nil
}

// Samples implements promql.Querier: the numeric points, bools as 0 and 1.
func (q *promQuerier) Samples(ctx context.Context, id string, from, to int64, limit int) ([]promql.Sample, int, error) {
	pts, err := q.s.st.Raw(ctx, q.org, id, from, to, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]promql.Sample, 0, len(pts))
	for _, p := range pts {
		if v, ok := p.Value.AsFloat(); ok {
			out = append(out, promql.Sample{T: p.TS, V: v})
		}
	}
	return out, len(pts), nil
}

// Buckets implements promql.Querier from the store's aggregates (its
// rollups for whole minutes and hours).
func (q *promQuerier) Buckets(ctx context.Context, id string, from, to, step int64, agg promql.BucketAgg) ([]promql.Bucket, error) {
	sa := map[promql.BucketAgg]store.Agg{promql.BucketSum: store.Sum, promql.BucketMin: store.Min, promql.BucketMax: store.Max, promql.BucketLast: store.Last}[agg]
	bs, err := q.s.st.Aggregate(ctx, q.org, id, from, to, step, sa)
	if err != nil {
		return nil, err
	}
	out := make([]promql.Bucket, 0, len(bs))
	for _, b := range bs {
		if v, ok := b.Value.AsFloat(); ok {
			out = append(out, promql.Bucket{Start: b.Start, Value: v, Count: b.Count})
		}
	}
	return out, nil
}
