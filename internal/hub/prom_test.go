package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// promBase is the start of the test data: a fixed time, so that nothing
// depends on today's date (the hub's clock is fixed after it).
var promBase = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// promSeries are the test data: a point every 10 s for an hour of each
// series, by path. The string series and the strings are not exposed.
func promSeries() map[string][]uns.Point {
	out := map[string][]uns.Point{}
	for i := range 360 {
		ts := promBase.Add(time.Duration(i) * 10 * time.Second).UnixNano()
		add := func(path string, v uns.Value) {
			out[path] = append(out[path], uns.Point{Series: path, TS: ts, Value: v})
		}
		add("plant/hall/line-1/press/temperature", uns.Float(20+float64(i%7)+0.25))
		add("plant/hall/line-2/press/temperature", uns.Float(30+float64(i%5)))
		add("plant/hall/line-1/press/parts_total", uns.Int(int64(2*i)))
		add("plant/hall/line-2/press/parts_total", uns.Int(int64(3*i)))
		add("plant/hall/line-1/press/running", uns.Bool(i%2 == 0))
		add("plant/hall/line-1/press/state", uns.String("run"))
		add("plant/hall/line-1/press/motor-1.speed", uns.Float(float64(1000+i)))
	}
	return out
}

// promHub is a hub on the backend ("embedded" or "postgres", which skips
// without MOLEN_TEST_POSTGRES) with its clock two hours after promBase,
// holding the test data sent by an edge.
func promHub(t *testing.T, backend string) (h *hub.Hub, token string, data map[string][]uns.Point) {
	t.Helper()
	ctx := t.Context()
	off := api.Rate{PerSecond: -1}
	cfg := hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Now:   func() time.Time { return promBase.Add(2 * time.Hour) },
		Rates: hub.Rates{Address: off, Org: off, Caller: off, Edge: off, SignIn: off}}
	if backend == "postgres" {
		cfg.Store = metatest.DSN(t)
		cfg.StoreSchema = metatest.Schema(t, cfg.Store)
	}
	h, err := hub.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	token, err = h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	_, enroll, err := h.CreateEdge(ctx, "press")
	if err != nil {
		t.Fatal(err)
	}
	en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, enroll, "")
	if err != nil {
		t.Fatal(err)
	}
	data = promSeries()
	var recs []uplink.RawRecord
	for _, path := range slices.Sorted(mapKeys(data)) {
		recs = append(recs, uplink.RawRecord{Seq: uint64(len(recs) + 1), Data: uplink.EncodePoints(nil, data[path])})
	}
	if _, err := (&uplink.Client{URL: h.URL(), Credential: en.Credential}).Send(ctx, uplink.Batch{Stream: "points/press", Records: recs}); err != nil {
		t.Fatal(err)
	}
	return h, token, data
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// basicAuth sends the token as the password of Basic authentication, as
// Grafana's data source does; extra query parameters (org) go along.
type basicAuth struct {
	user, password string
	query          url.Values
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	if len(b.query) > 0 {
		q := r.URL.Query()
		for k, v := range b.query {
			q[k] = v
		}
		r.URL.RawQuery = q.Encode()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func promClient(t testing.TB, base string, rt http.RoundTripper) promv1.API {
	t.Helper()
	c, err := promapi.NewClient(promapi.Config{Address: base + "/prom", RoundTripper: rt})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

// window returns the numeric values of pts in [from, to) (or (from, to]
// when rightClosed), bools as 0 and 1.
func window(pts []uns.Point, from, to time.Time, rightClosed bool) []float64 {
	var out []float64
	for _, p := range pts {
		in := p.TS >= from.UnixNano() && p.TS < to.UnixNano()
		if rightClosed {
			in = p.TS > from.UnixNano() && p.TS <= to.UnixNano()
		}
		if v, ok := p.Value.AsFloat(); ok && in {
			out = append(out, v)
		}
	}
	return out
}

func mean(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestPromAPI: the Prometheus Go client reads a real hub's ingested data
// through /prom, with the token as a Basic password (as Grafana sends
// it); the answers match values computed here from the raw points, on
// both storage backends.
func TestPromAPI(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) { testPromAPI(t, backend) })
	}
}

func testPromAPI(t *testing.T, backend string) {
	h, token, data := promHub(t, backend)
	ctx := t.Context()
	p := promClient(t, h.URL(), basicAuth{user: "grafana", password: token})
	temp1 := data["plant/hall/line-1/press/temperature"]

	// Grafana's test of a data source: 1+1.
	v, _, _, err := p.Query(ctx, "1+1", promBase)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(*model.Scalar); !ok || s.Value != 2 || !s.Timestamp.Time().Equal(promBase) {
		t.Errorf("1+1 = %#v, want the scalar 2", v)
	}

	// An instant selector: each series' latest point at or before the time.
	at := promBase.Add(30*time.Minute + 5*time.Second)
	v, _, _, err = p.Query(ctx, `temperature{line="line-1"}`, at)
	if err != nil {
		t.Fatal(err)
	}
	vec := v.(model.Vector)
	last := window(temp1, at.Add(-5*time.Minute), at, true)
	if len(vec) != 1 || !near(float64(vec[0].Value), last[len(last)-1]) {
		t.Fatalf("temperature at %v = %v, want %v", at, vec, last[len(last)-1])
	}
	wantLabels := model.Metric{"__name__": "temperature", "site": "plant", "area": "hall", "line": "line-1", "cell": "press",
		"path": "plant/hall/line-1/press/temperature"}
	if !vec[0].Metric.Equal(wantLabels) {
		t.Errorf("labels %v, want %v", vec[0].Metric, wantLabels)
	}

	// A range vector alone: the raw points in (t-w, t], with their times.
	v, _, _, err = p.Query(ctx, `temperature{line="line-1"}[1m]`, at)
	if err != nil {
		t.Fatal(err)
	}
	if mat := v.(model.Matrix); len(mat) != 1 || !mat[0].Metric.Equal(wantLabels) || len(mat[0].Values) != 6 {
		t.Errorf("temperature[1m] = %v, want the 6 raw points of line-1", v)
	} else {
		w := window(temp1, at.Add(-time.Minute), at, true)
		for i, sp := range mat[0].Values {
			if !near(float64(sp.Value), w[i]) || sp.Timestamp.Time().Sub(promBase)%(10*time.Second) != 0 {
				t.Errorf("temperature[1m] point %d = %v, want %v at a multiple of 10 s", i, sp, w[i])
			}
		}
	}

	// Instant functions over (t-w, t], by raw points.
	for _, tc := range []struct {
		expr string
		want func() float64
	}{
		{`count_over_time(temperature{line="line-2"}[10m])`, func() float64 {
			return float64(len(window(data["plant/hall/line-2/press/temperature"], at.Add(-10*time.Minute), at, true)))
		}},
		{`avg_over_time(temperature{line="line-1"}[10m])`, func() float64 { return mean(window(temp1, at.Add(-10*time.Minute), at, true)) }},
		{`max_over_time(running[10m])`, func() float64 { return 1 }},
		{`min_over_time(motor_1_speed[10m]) / 2`, func() float64 {
			return window(data["plant/hall/line-1/press/motor-1.speed"], at.Add(-10*time.Minute), at, true)[0] / 2
		}},
		// A counter rising evenly: rate is its slope.
		{`sum by (line) (rate(parts_total{line="line-2"}[1m]))`, func() float64 {
			w := window(data["plant/hall/line-2/press/parts_total"], at.Add(-time.Minute), at, true)
			return (w[len(w)-1] - w[0]) / 10 / float64(len(w)-1)
		}},
	} {
		v, _, _, err := p.Query(ctx, tc.expr, at)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		vec := v.(model.Vector)
		if len(vec) != 1 || !near(float64(vec[0].Value), tc.want()) {
			t.Errorf("%s = %v, want %v", tc.expr, vec, tc.want())
		}
	}

	// A range query with a step of whole minutes reads the store's
	// buckets: the window at t is [t-w, t).
	r := promv1.Range{Start: promBase.Add(10 * time.Minute), End: promBase.Add(50 * time.Minute), Step: 5 * time.Minute}
	v, _, _, err = p.QueryRange(ctx, `avg_over_time(temperature[5m])`, r)
	if err != nil {
		t.Fatal(err)
	}
	mat := v.(model.Matrix)
	if len(mat) != 2 {
		t.Fatalf("avg_over_time(temperature[5m]): %d series, want 2", len(mat))
	}
	for _, s := range mat {
		pts := data[string(s.Metric["path"])]
		if _, ok := s.Metric["__name__"]; ok || len(s.Values) != 9 {
			t.Errorf("%v: %d values, want 9 and no metric name", s.Metric, len(s.Values))
		}
		for _, sp := range s.Values {
			tt := sp.Timestamp.Time()
			if want := mean(window(pts, tt.Add(-5*time.Minute), tt, false)); !near(float64(sp.Value), want) {
				t.Errorf("%v at %v = %v, want %v", s.Metric["path"], tt, sp.Value, want)
			}
		}
	}
	// Below a minute, raw points: rate per line, summed and scaled.
	r = promv1.Range{Start: promBase.Add(5 * time.Minute), End: promBase.Add(10 * time.Minute), Step: 30 * time.Second}
	v, _, _, err = p.QueryRange(ctx, `sum by (line) (rate(parts_total[1m])) * 60`, r)
	if err != nil {
		t.Fatal(err)
	}
	mat = v.(model.Matrix)
	if len(mat) != 2 || len(mat[0].Values) != 11 {
		t.Fatalf("rate by line: %v", mat)
	}
	for i, s := range mat {
		slope := float64(2+i) / 10 // per second: line-1 rises by 2, line-2 by 3 every 10 s
		for _, sp := range s.Values {
			if !near(float64(sp.Value), slope*60) {
				t.Errorf("%v at %v = %v, want %v", s.Metric, sp.Timestamp.Time(), sp.Value, slope*60)
			}
		}
	}

	// The metadata endpoints Grafana's query editor calls.
	series, _, _, err := p.Series(ctx, []string{`{__name__="temperature"}`}, promBase, promBase.Add(time.Hour))
	if err != nil || len(series) != 2 || !series[0].Equal(model.LabelSet(wantLabels)) {
		t.Errorf("series: %v, %v", series, err)
	}
	series, warnings, _, err := p.Series(ctx, []string{`{path=~"plant/hall/.*"}`}, time.Time{}, time.Time{}, promv1.WithLimit(2))
	if err != nil || len(series) != 2 || len(warnings) != 1 || !strings.Contains(warnings[0], "truncated") {
		t.Errorf("series with limit=2: %v, %v, %v: want 2 and a warning", series, warnings, err)
	}
	names, _, _, err := p.LabelNames(ctx, nil, time.Time{}, time.Time{})
	if want := []string{"__name__", "area", "cell", "line", "path", "site"}; err != nil || names.String() != strings.Join(want, ", ") {
		t.Errorf("label names: %v, %v, want %v", names, err, want)
	}
	metrics, _, _, err := p.LabelValues(ctx, "__name__", nil, time.Time{}, time.Time{})
	if want := []string{"motor_1_speed", "parts_total", "running", "temperature"}; err != nil || fmt.Sprint(metrics) != fmt.Sprint(want) {
		t.Errorf("metric names: %v, %v, want %v (strings are not series)", metrics, err, want)
	}
	lines, _, _, err := p.LabelValues(ctx, "line", []string{`parts_total`}, time.Time{}, time.Time{})
	if err != nil || fmt.Sprint(lines) != "[line-1 line-2]" {
		t.Errorf("lines: %v, %v", lines, err)
	}
	meta, err := p.Metadata(ctx, "", "")
	if err != nil || len(meta) != 4 || meta["temperature"][0].Type != "unknown" {
		t.Errorf("metadata: %v, %v", meta, err)
	}
	bi, err := p.Buildinfo(ctx)
	if err != nil || bi.Version == "" {
		t.Errorf("buildinfo: %v, %v", bi, err)
	}

	// Refusals: Prometheus's error types and codes.
	for expr, want := range map[string]string{
		`rate(temperature)`:                    "range vector selector",
		`histogram_quantile(0.9, rate(x[5m]))`: `function "histogram_quantile" is not supported`,
		`temperature + parts_total`:            "between two vectors",
		`sum(temperature) by (line) offset 5m`: "offset",
		`temperature{line=~"("}`:               "invalid regular expression",
	} {
		_, _, _, err := p.Query(ctx, expr, at)
		var pe *promv1.Error
		if !errors.As(err, &pe) || pe.Type != promv1.ErrBadData || !strings.Contains(pe.Msg, want) {
			t.Errorf("%s: %v, want bad_data with %q", expr, err, want)
		}
	}
	_, _, _, err = p.QueryRange(ctx, "temperature", promv1.Range{Start: promBase, End: promBase.Add(24 * time.Hour), Step: time.Second})
	if pe := (*promv1.Error)(nil); !errors.As(err, &pe) || pe.Type != promv1.ErrBadData || !strings.Contains(pe.Msg, "11000") {
		t.Errorf("86400 steps: %v, want bad_data naming the limit of 11000", err)
	}
	if n := promRefused(t, h.URL(), "steps"); n != 1 {
		t.Errorf("refused for steps: %v, want 1", n)
	}
	if n := promRefused(t, h.URL(), "bad_data"); n != 5 {
		t.Errorf("refused as bad_data: %v, want 5", n)
	}

	// A wrong password, a bearer token, an unknown endpoint, the exact
	// shape of an answer.
	bad := promClient(t, h.URL(), basicAuth{user: "grafana", password: "not-a-token"})
	if _, _, _, err := bad.Query(ctx, "1+1", at); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong password: %v, want 401", err)
	}
	for path, want := range map[string]string{
		"/prom/api/v1/query?query=1%2B1&time=1767571200.5": `{"status":"success","data":{"resultType":"scalar","result":[1767571200.5,"2"]}}`,
		// Grafana's test of a data source asks at the time 4.
		"/prom/api/v1/query?query=1%2B1&time=4": `{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}`,
		// No features: Grafana takes it for Prometheus, with no ruler.
		"/prom/api/v1/status/buildinfo":                         `{"status":"success","data":{"branch":"molen","buildDate":"","buildUser":"molen","goVersion":"` + runtime.Version() + `","revision":"molen","version":"2.42.0"}}`,
		"/prom/api/v1/query?query=running&time=1767571200":      `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"running","area":"hall","cell":"press","line":"line-1","path":"plant/hall/line-1/press/running","site":"plant"},"value":[1767571200,"1"]}]}}`,
		"/prom/api/v1/rules":                                    `{"status":"error","errorType":"not_found","error":"no such API endpoint: molen answers the Prometheus query API: query, query_range, series, labels, label values, metadata and buildinfo"}`,
		"/prom/api/v1/query":                                    `{"status":"error","errorType":"bad_data","error":"query: missing: give a PromQL expression"}`,
		"/prom/api/v1/query_range?query=x&start=1&end=0&step=1": `{"status":"error","errorType":"bad_data","error":"end timestamp must not be before start time"}`,
	} {
		code, body := call(t, h.URL(), caller{bearer: token}, "GET", path, "")
		if body != want {
			t.Errorf("GET %s: %d %s\nwant %s", path, code, body, want)
		}
	}
	if code, body := call(t, h.URL(), caller{}, "GET", "/prom/api/v1/query?query=1", ""); code != 401 || !strings.Contains(body, `"errorType":"unauthorized"`) {
		t.Errorf("no credential: %d %s", code, body)
	}
}

// promRefused reads molen_hub_prom_refused_total{reason} from /metrics.
func promRefused(t *testing.T, base, reason string) float64 {
	t.Helper()
	_, body := call(t, base, caller{}, "GET", "/metrics", "")
	prefix := fmt.Sprintf(`molen_hub_prom_refused_total{reason=%q} `, reason)
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("/metrics has no %s", prefix)
	return 0
}

// TestPromGrants: through /prom another organisation reads a company's
// series only under a grant, exactly as through the other series routes:
// ?org= names the company (Grafana's custom query parameters), anything
// else answers as data that does not exist, and the company's log shows
// the reads.
func TestPromGrants(t *testing.T) {
	w := newWorld(t)
	hubPerson := login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor)
	for path, want := range map[string]int{
		"/prom/api/v1/query?org=acme&query=temp":                             200,
		"/prom/api/v1/query?org=acme&query=temp%7Bsite%3D%22acme-site%22%7D": 200,
		"/prom/api/v1/series?org=acme&match[]=temp":                          200,
		"/prom/api/v1/query?org=acme&query=temp%7Bsite%3D%22other%22%7D":     404, // outside the granted prefix
		"/prom/api/v1/query?org=beta&query=temp":                             404,
		"/prom/api/v1/query?org=nonexistent&query=temp":                      404,
	} {
		code, body := call(t, w.base, hubPerson, "GET", path, "")
		if code != want {
			t.Errorf("advisor: %s: %d %.300s, want %d", path, code, body, want)
		}
		if code == 200 && !strings.Contains(body, "acme-site/hall/line-1/press/temp") {
			t.Errorf("advisor: %s: %.300s, want acme's granted series", path, body)
		}
		if code == 404 && !strings.Contains(body, `"errorType":"not_found"`) {
			t.Errorf("advisor: %s: %.300s, want Prometheus's not_found", path, body)
		}
	}
	// Without ?org= the advisor reads their own organisation: nothing.
	if _, body := call(t, w.base, hubPerson, "GET", "/prom/api/v1/query?query=temp", ""); strings.Contains(body, "acme") {
		t.Errorf("advisor's own data holds acme's: %s", body)
	}
	// beta has no grant: its token gets nothing of acme by Basic either.
	p := promClient(t, w.base, basicAuth{user: "beta", password: w.c["beta-token"].bearer, query: url.Values{"org": {"acme"}}})
	if _, _, _, err := p.Query(t.Context(), "temp", time.Now()); err == nil || !strings.Contains(err.Error(), "not_found") && !strings.Contains(err.Error(), "404") {
		t.Errorf("beta reading acme: %v, want not found", err)
	}
	p = promClient(t, w.base, basicAuth{user: "beta", password: w.c["beta-token"].bearer})
	if v, _, _, err := p.Query(t.Context(), "temp", time.Now()); err != nil || len(v.(model.Vector)) != 0 {
		t.Errorf("beta's own temp: %v, %v, want nothing", v, err)
	}
	// acme's log has the advisor's three reads under the grant.
	entries := w.must(t, w.c["svc-admin"], "GET", "/api/v1/audit?action=data.read", "", 200)["entries"].([]any)
	if len(entries) != 3 {
		t.Errorf("acme's log has %d reads, want 3: %v", len(entries), entries)
	}
	// A kpi grant opens no series.
	w.must(t, w.c["admin"], "DELETE", "/api/v1/grants/"+w.ids["grant"], "", 200)
	w.must(t, w.c["admin"], "POST", "/api/v1/grants", `{"grantee":"edih-a","kind":"kpi","prefix":"acme-site","expires":"30d"}`, 201)
	hubPerson = login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor)
	for _, path := range []string{"/prom/api/v1/query?org=acme&query=temp", "/prom/api/v1/labels?org=acme"} {
		if code, body := call(t, w.base, hubPerson, "GET", path, ""); code != 404 {
			t.Errorf("under a kpi grant, %s: %d %.200s, want 404", path, code, body)
		}
	}
}

// TestPromtool: Prometheus's own command-line client queries the hub.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MOLEN_REQUIRE_PROMTOOL") != "" {
			t.Fatal("MOLEN_REQUIRE_PROMTOOL is set and promtool is not installed (apt-get install prometheus)")
		}
		t.Skip("promtool not installed (Debian's prometheus package): skipping the test with Prometheus's own client")
	}
	h, token, data := promHub(t, "embedded")
	u, _ := url.Parse(h.URL() + "/prom")
	u.User = url.UserPassword("promtool", token) // Basic: the token is the password
	at := promBase.Add(20 * time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "query", "instant", "--time", strconv.FormatInt(at.Unix(), 10),
		u.String(), `max_over_time(temperature{line="line-2"}[1m])`).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool query instant: %v: %s", err, out)
	}
	w := window(data["plant/hall/line-2/press/temperature"], at.Add(-time.Minute), at, true)
	want := slices.Max(w)
	if !strings.Contains(string(out), fmt.Sprintf("=> %s @[%d]", strconv.FormatFloat(want, 'f', -1, 64), at.Unix())) {
		t.Errorf("promtool query instant: %s, want %v", out, want)
	}
	out, err = exec.CommandContext(ctx, promtool, "query", "range", "--header", "Authorization: Bearer "+token,
		"--start", strconv.FormatInt(promBase.Add(10*time.Minute).Unix(), 10), "--end", strconv.FormatInt(promBase.Add(20*time.Minute).Unix(), 10),
		"--step", "5m", h.URL()+"/prom", `sum(count_over_time(parts_total[5m]))`).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool query range: %v: %s", err, out)
	}
	// 30 points in each 5 min of each of the two series.
	if got := strings.Count(string(out), "60 @["); got != 3 {
		t.Errorf("promtool query range: %s, want 60 at each of 3 steps", out)
	}
}
