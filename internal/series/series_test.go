package series

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uns"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestParseStep(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10s", 10 * time.Second, true},
		{"1m", time.Minute, true},
		{"5000", 5 * time.Second, true},
		{"1ms", time.Millisecond, true},
		{"0", 0, false},
		{"-1s", 0, false},
		{"500us", 0, false},
		{"fast", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStep(tt.in)
		if (err == nil) != tt.ok || tt.ok && got != int64(tt.want) {
			t.Errorf("parseStep(%q) = %v, %v; want %v ok=%v", tt.in, time.Duration(got), err, tt.want, tt.ok)
		}
	}
}

func TestAutoStep(t *testing.T) {
	tests := []struct {
		span time.Duration
		n    int
		want time.Duration
	}{
		{10 * time.Minute, 300, 2 * time.Second},
		{time.Hour, 60, time.Minute},
		{time.Hour, 300, 15 * time.Second},
		{24 * time.Hour, 1440, time.Minute},
		{365 * 24 * time.Hour, 10, 37 * 24 * time.Hour},
		{time.Millisecond, 300, time.Millisecond},
	}
	for _, tt := range tests {
		if got := autoStep(int64(tt.span), tt.n); got != int64(tt.want) {
			t.Errorf("autoStep(%v, %d) = %v, want %v", tt.span, tt.n, time.Duration(got), tt.want)
		}
	}
}

// fixture is the domain's routes on a real SQLite store with two
// organisations.
type fixture struct {
	t      *testing.T
	srv    *apitest.Server
	st     store.Store
	svc    *Service
	tokenA string // admin of org a
	tokenB string // admin of org b
	viewA  string // viewer of org a
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/molen.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := New(ctx, Config{Store: st, Meta: metatest.SQLite(t), Now: func() time.Time { return now },
		DefaultRetention: store.Retention{Raw: 90 * store.Day, Minute: 730 * store.Day}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, svc: svc, tokenA: "token-a", tokenB: "token-b", viewA: "view-a"}
	f.srv = apitest.Serve(t, apitest.Secrets{
		f.tokenA: {Org: "a", Role: api.RoleAdmin, Name: "aadmin"},
		f.tokenB: {Org: "b", Role: api.RoleAdmin, Name: "badmin"},
		f.viewA:  {Org: "a", Role: api.RoleViewer, Name: "aviewer"},
	}, nil, svc.Routes())

	// Org a has a temperature series with one point a minute for an hour;
	// org b has the same path with other values.
	for _, org := range []string{"a", "b"} {
		var pts []uns.Point
		for i := range 60 {
			v := float64(i)
			if org == "b" {
				v = 1000
			}
			pts = append(pts, uns.Point{Series: "s/a/l/m/temp", TS: now.Add(-time.Hour + time.Duration(i)*time.Minute).UnixNano(), Value: uns.Float(v)})
		}
		pts = append(pts, uns.Point{Series: "s/a/l/m/state", TS: now.Add(-time.Minute).UnixNano(), Value: uns.String("running")})
		if _, err := st.Ingest(ctx, org, store.Source{Edge: "e-" + org, Stream: "s"}, []store.Record{{Seq: 1, Points: pts}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) do(method, path, token string, body io.Reader) (int, map[string]any) {
	f.t.Helper()
	return f.srv.Do(method, path, token, body)
}

func TestQueryBadInput(t *testing.T) {
	f := newFixture(t)
	q := func(params string) string { return "/api/v1/query?series=s/a/l/m/temp&" + params }
	tests := []struct {
		name, path string
		code       int
		msg        string
	}{
		{"inverted range", q("from=-1m&to=-2m"), 400, "from must be before to"},
		{"empty range", q("from=1000&to=1000"), 400, "from must be before to"},
		{"bad from", q("from=tomorrow"), 400, "from="},
		{"bucket explosion", q("from=0&to=now&step=1ms"), 400, "limit is 10000"},
		{"bucket count overflow", q("from=0&to=9223372036854&step=1"), 400, "limit is 10000"},
		{"relative before 1970", q("from=-1000000h"), 400, "before 1970"},
		{"too many points", q("points=1000000"), 400, "points="},
		{"step and points", q("step=1s&points=10"), 400, "not both"},
		{"unknown agg", q("agg=median"), 400, "unknown aggregate"},
		{"wildcard series", "/api/v1/query?series=s/%2B/l/m/temp", 400, "series"},
		{"hash wildcard", "/api/v1/query?series=s/a/%23", 400, "series"},
		{"no series", "/api/v1/query", 400, "series"},
		{"sql injection in series", "/api/v1/query?series=" + url.QueryEscape("s/a'; DROP TABLE points;--/x"), 400, "series"},
		{"sql injection in agg", q("agg=" + url.QueryEscape("avg); DROP TABLE points;--")), 400, "unknown aggregate"},
		{"injection in prefix", "/api/v1/latest?prefix=" + url.QueryEscape("s' OR '1'='1"), 400, "prefix"},
		{"wildcard prefix", "/api/v1/series?prefix=s/%2B", 400, "prefix"},
		{"raw limit too high", q("agg=raw&limit=1000001"), 400, "limit"},
		{"negative limit", "/api/v1/series?limit=-1", 400, "limit"},
		{"unknown endpoint", "/api/v1/nothing", 404, "no such API endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do("GET", tt.path, f.tokenA, nil)
			msg, _ := body["error"].(string)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("GET %s = %d %q, want %d with %q", tt.path, code, msg, tt.code, tt.msg)
			}
		})
	}
	// The injection attempts did nothing: the data is still there.
	code, body := f.do("GET", q("from=-2h&to=now&agg=count&step=2h"), f.tokenA, nil)
	if code != 200 || len(body["buckets"].([]any)) == 0 {
		t.Fatalf("data gone after injection attempts: %d %v", code, body)
	}
}

func TestQueryAggregates(t *testing.T) {
	f := newFixture(t)
	code, body := f.do("GET", "/api/v1/query?series=s/a/l/m/temp&from=-1h&to=now&agg=max&step=30m", f.tokenA, nil)
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	buckets := body["buckets"].([]any)
	if len(buckets) != 2 {
		t.Fatalf("got %d buckets, want 2: %v", len(buckets), buckets)
	}
	if got := buckets[1].(map[string]any)["value"]; got != float64(59) {
		t.Errorf("max of the second half hour = %v, want 59", got)
	}
	if body["step_ms"] != float64(30*60*1000) {
		t.Errorf("step_ms = %v", body["step_ms"])
	}
	// Automatic step for a chart of 60 points over an hour: one minute.
	_, body = f.do("GET", "/api/v1/query?series=s/a/l/m/temp&from=-1h&to=now&points=60", f.tokenA, nil)
	if body["step_ms"] != float64(60_000) || len(body["buckets"].([]any)) != 60 {
		t.Errorf("points=60: step %v, %d buckets; want 60000 ms and 60", body["step_ms"], len(body["buckets"].([]any)))
	}
	_, body = f.do("GET", "/api/v1/query?series=s/a/l/m/temp&from=-1h&to=now&agg=raw&limit=5", f.tokenA, nil)
	if pts := body["points"].([]any); len(pts) != 5 || body["truncated"] != true {
		t.Errorf("raw limit 5: %d points, truncated %v", len(pts), body["truncated"])
	}
}

// TestQueryHugeSum: a sum beyond float64 is +Inf in the store, which JSON
// cannot hold; the bucket says null and the answer stays whole.
func TestQueryHugeSum(t *testing.T) {
	f := newFixture(t)
	ts := now.Add(-time.Hour).Truncate(time.Hour).UnixNano()
	for seq := range uint64(2) {
		p := uns.Point{Series: "s/a/l/m/huge", TS: ts, Value: uns.Float(math.MaxFloat64)}
		if _, err := f.st.Ingest(t.Context(), "a", store.Source{Edge: "e-a", Stream: "huge"}, []store.Record{{Seq: seq + 1, Points: []uns.Point{p}}}); err != nil {
			t.Fatal(err)
		}
	}
	code, body := f.do("GET", "/api/v1/query?series=s/a/l/m/huge&from=-2h&to=now&agg=sum&step=1h", f.tokenA, nil)
	buckets, _ := body["buckets"].([]any)
	if code != 200 || len(buckets) != 1 {
		t.Fatalf("sum of two MaxFloat64: %d %v", code, body)
	}
	if b := buckets[0].(map[string]any); b["value"] != nil || b["count"] != float64(2) {
		t.Errorf("bucket %v, want value null and count 2", b)
	}
}

func TestOrganisationsAreIsolated(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/api/v1/latest?prefix=s",
		"/api/v1/query?series=s/a/l/m/temp&from=-2h&to=now&agg=max&step=2h",
		"/api/v1/query?series=s/a/l/m/temp&from=-2h&to=now&agg=raw",
	} {
		_, a := f.do("GET", path, f.tokenA, nil)
		_, b := f.do("GET", path, f.tokenB, nil)
		if fmt.Sprint(a) == fmt.Sprint(b) {
			t.Errorf("%s: orgs a and b see the same answer %v", path, a)
		}
		if strings.Contains(fmt.Sprint(a), "1000") {
			t.Errorf("%s: org a sees org b's values: %v", path, a)
		}
	}
}
