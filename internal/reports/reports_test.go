package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uns"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// fixture is the domain's routes on a real SQLite store with two
// organisations.
type fixture struct {
	t      *testing.T
	srv    *apitest.Server
	st     store.Store
	tokenA string // admin of org a
	tokenB string // admin of org b
	viewA  string // viewer of org a
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/molen.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, tokenA: "token-a", tokenB: "token-b", viewA: "view-a"}
	f.srv = apitest.Serve(t, apitest.Secrets{
		f.tokenA: {Org: "a", Role: api.RoleAdmin, Name: "aadmin"},
		f.tokenB: {Org: "b", Role: api.RoleAdmin, Name: "badmin"},
		f.viewA:  {Org: "a", Role: api.RoleViewer, Name: "aviewer"},
	}, nil, New(st, func() time.Time { return now }).Routes())

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
		f.ingest(org, pts, nil)
	}
	return f
}

func (f *fixture) do(method, path, token string, body io.Reader) (int, map[string]any) {
	f.t.Helper()
	return f.srv.Do(method, path, token, body)
}

// ingested numbers the streams of ingest, so that every call stores.
var ingested int

// ingest stores points and events for org through store.Ingest.
func (f *fixture) ingest(org string, pts []uns.Point, evs []uns.Event) {
	f.t.Helper()
	ingested++
	src := store.Source{Edge: "report-" + org, Stream: fmt.Sprint(ingested)}
	if _, err := f.st.Ingest(f.t.Context(), org, src, []store.Record{{Seq: 1, Points: pts, Events: evs}}); err != nil {
		f.t.Fatal(err)
	}
}

// get returns the status, headers and body of a GET.
func (f *fixture) get(path, token string) (int, http.Header, string) {
	f.t.Helper()
	return f.srv.Raw("GET", path, token, nil)
}

// window is one oee window of an asset as the oee operator emits it with
// details: true, stamped with the window's end. perf < 0: no performance.
type window struct {
	asset                         string
	end                           time.Time
	running, planned, good, total float64
	perf                          float64
}

func windowPoints(ws ...window) []uns.Point {
	var pts []uns.Point
	for _, w := range ws {
		ts := w.end.UnixNano()
		add := func(tag string, v uns.Value) {
			pts = append(pts, uns.Point{Series: w.asset + "/oee/" + tag, TS: ts, Value: v})
		}
		add("running_s", uns.Float(w.running))
		add("planned_s", uns.Float(w.planned))
		add("good", uns.Int(int64(w.good)))
		add("total", uns.Int(int64(w.total)))
		if w.perf >= 0 {
			add("performance", uns.Float(w.perf))
			add("oee", uns.Float(0.123)) // not used: recomputed from the sums
		}
		add("availability", uns.Float(0.456))
	}
	return pts
}

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// oeeData stores the windows of org a (and different data of org b on the
// same and other paths).
func oeeData(f *fixture) {
	f.ingest("a", windowPoints(
		// m1: the window [9:00, 10:00) has no performance.
		window{"s1/a/l1/m1", at(10, 0), 600, 3600, 0, 0, -1},
		window{"s1/a/l1/m1", at(11, 0), 1800, 3600, 90, 100, 0.5},
		window{"s1/a/l1/m1", at(12, 0), 3600, 3600, 50, 50, 1},
		window{"s1/a/l1/m2", at(11, 0), 1200, 2400, 10, 20, 0.25},
		window{"s1/a/l2/m3", at(11, 0), 3000, 3600, 30, 40, 0.75},
		window{"s2/b/l9/m4", at(11, 0), 0, 3600, 0, 0, -1},
	), nil)
	f.ingest("b", windowPoints(
		window{"s1/a/l1/m1", at(11, 0), 3600, 3600, 1, 1000, 1},
		window{"s1/a/l1/mb", at(11, 0), 3600, 3600, 1, 1, 1},
		window{"s9/a/l1/mb", at(11, 0), 3600, 3600, 1, 1, 1},
	), nil)
}

type oeeBucket struct {
	Start        int64    `json:"start"`
	End          int64    `json:"end"`
	Shift        string   `json:"shift"`
	Availability *float64 `json:"availability"`
	Performance  *float64 `json:"performance"`
	Quality      *float64 `json:"quality"`
	OEE          *float64 `json:"oee"`
	Running      float64  `json:"running_s"`
	Planned      float64  `json:"planned_s"`
	Good         float64  `json:"good"`
	Total        float64  `json:"total"`
}

type oeeGroupResp struct {
	Group   string      `json:"group"`
	Buckets []oeeBucket `json:"buckets"`
}

func f64(f float64) *float64 { return &f }

// bucketOf computes a bucket the way the API must, from the sums.
func bucketOf(start, end time.Time, running, planned, good, total, perfRunning, perfWeighted float64) oeeBucket {
	b := oeeBucket{Start: start.UnixMilli(), End: end.UnixMilli(), Running: running, Planned: planned, Good: good, Total: total}
	if planned > 0 {
		b.Availability = f64(running / planned)
	}
	if perfRunning > 0 {
		b.Performance = f64(perfWeighted / perfRunning)
	}
	if total > 0 {
		b.Quality = f64(good / total)
	}
	switch {
	case b.Availability == nil:
	case running == 0 || total == 0:
		b.OEE = f64(0)
	case b.Performance != nil && b.Quality != nil:
		b.OEE = f64(*b.Availability * *b.Performance * *b.Quality)
	}
	return b
}

func (f *fixture) oeeGroups(query string) []oeeGroupResp {
	f.t.Helper()
	code, _, body := f.get("/api/v1/oee?"+query, f.viewA)
	if code != 200 {
		f.t.Fatalf("GET /api/v1/oee?%s = %d %s", query, code, body)
	}
	var resp struct {
		Groups []oeeGroupResp `json:"groups"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		f.t.Fatal(err)
	}
	return resp.Groups
}

func TestOEE(t *testing.T) {
	f := newFixture(t)
	oeeData(f)
	ms := func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
	dayRange := "&from=" + ms(day) + "&to=" + ms(day.Add(24*time.Hour)) + "&bucket=day"
	tests := []struct {
		name, query string
		want        []oeeGroupResp
	}{
		{
			// Windows end in (from, to]: the one ending at 10:00 belongs to
			// the 9:00 hour and stays out; the one ending at 12:00 is in.
			name:  "machine by hour",
			query: "prefix=s1/a/l1/m1&by=machine&bucket=hour&from=" + ms(at(10, 0)) + "&to=" + ms(at(12, 0)),
			want: []oeeGroupResp{{Group: "s1/a/l1/m1", Buckets: []oeeBucket{
				bucketOf(at(10, 0), at(11, 0), 1800, 3600, 90, 100, 1800, 0.5*1800),
				bucketOf(at(11, 0), at(12, 0), 3600, 3600, 50, 50, 3600, 3600),
			}}},
		},
		{
			name:  "machine by day",
			query: "prefix=s1&by=machine" + dayRange,
			want: []oeeGroupResp{
				{Group: "s1/a/l1/m1", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 6000, 10800, 140, 150, 5400, 0.5*1800+3600)}},
				{Group: "s1/a/l1/m2", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 1200, 2400, 10, 20, 1200, 0.25*1200)}},
				{Group: "s1/a/l2/m3", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 3000, 3600, 30, 40, 3000, 0.75*3000)}},
			},
		},
		{
			// Performance is weighted by the running time of the windows
			// that have one: m1's 9:00 window has none.
			name:  "line by day",
			query: "prefix=s1&by=line" + dayRange,
			want: []oeeGroupResp{
				{Group: "s1/a/l1", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 7200, 13200, 150, 170, 6600, 0.5*1800+3600+0.25*1200)}},
				{Group: "s1/a/l2", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 3000, 3600, 30, 40, 3000, 0.75*3000)}},
			},
		},
		{
			// s2 ran not at all and made nothing: availability 0, OEE 0,
			// performance and quality null.
			name:  "site by day",
			query: "by=site" + dayRange,
			want: []oeeGroupResp{
				{Group: "s1", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 10200, 16800, 180, 210, 9600, 0.5*1800+3600+0.25*1200+0.75*3000)}},
				{Group: "s2", Buckets: []oeeBucket{bucketOf(day, day.Add(24*time.Hour), 0, 3600, 0, 0, 0, 0)}},
			},
		},
		{
			// 2026-11-20 is a Friday: its ISO week runs from Monday the 16th.
			name:  "machine by week",
			query: "prefix=s1/a/l1/m1&by=machine&bucket=week&from=" + ms(day) + "&to=" + ms(day.Add(24*time.Hour)),
			want: []oeeGroupResp{{Group: "s1/a/l1/m1", Buckets: []oeeBucket{
				bucketOf(day.Add(-4*24*time.Hour), day.Add(3*24*time.Hour), 6000, 10800, 140, 150, 5400, 0.5*1800+3600),
			}}},
		},
		{
			name:  "nothing under the prefix",
			query: "prefix=s1/a/l7" + dayRange,
			want:  []oeeGroupResp{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.oeeGroups(tt.query)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", jsonString(got), jsonString(tt.want))
			}
		})
	}
	// The checks above are exact; make sure the factors are what a person
	// computes by hand for the line.
	g := f.oeeGroups("prefix=s1&by=line" + dayRange)[0].Buckets[0]
	if *g.Availability != 7200.0/13200 || *g.Performance != 4800.0/6600 || *g.Quality != 150.0/170 {
		t.Errorf("line factors %v %v %v", *g.Availability, *g.Performance, *g.Quality)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOEEShiftsAcrossMidnight(t *testing.T) {
	f := newFixture(t)
	// Europe/Amsterdam is UTC+1 in November: the night shift 22:00-06:00
	// is 21:00-05:00 UTC and crosses midnight.
	prev := day.Add(-24 * time.Hour)
	f.ingest("a", windowPoints(
		window{"s/a/l/m", prev.Add(22 * time.Hour), 3600, 3600, 10, 10, 1}, // 22:00-23:00 local: night
		window{"s/a/l/m", at(2, 0), 1800, 3600, 5, 10, 1},                  // 02:00-03:00 local: night
		window{"s/a/l/m", at(5, 0), 0, 3600, 0, 0, -1},                     // 05:00-06:00 local: night
		window{"s/a/l/m", at(6, 0), 3600, 3600, 20, 20, 0.5},               // 06:00-07:00 local: morning
		window{"s/a/l/m", prev.Add(21 * time.Hour), 7, 7, 7, 7, 1},         // 21:00-22:00 local: afternoon, before from
	), nil)
	amsterdam, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	local := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, amsterdam) }
	q := "prefix=s/a/l/m&bucket=shift&shifts=06:00,14:00,22:00&tz=Europe/Amsterdam&from=" +
		url.QueryEscape(local(19, 22).Format(time.RFC3339)) + "&to=" + url.QueryEscape(local(20, 14).Format(time.RFC3339))
	night := bucketOf(local(19, 22), local(20, 6), 3600+1800, 3*3600, 15, 20, 5400, 5400)
	night.Shift = "22:00"
	morning := bucketOf(local(20, 6), local(20, 14), 3600, 3600, 20, 20, 3600, 1800)
	morning.Shift = "06:00"
	want := []oeeGroupResp{{Group: "s/a/l/m", Buckets: []oeeBucket{night, morning}}}
	if got := f.oeeGroups(q); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant %s", jsonString(got), jsonString(want))
	}
	// In UTC the same shift times cut elsewhere: the first window is then
	// in the afternoon shift.
	got := f.oeeGroups(strings.Replace(q, "tz=Europe/Amsterdam", "tz=UTC", 1))
	if len(got) != 1 || got[0].Buckets[0].Shift != "14:00" {
		t.Errorf("tz=UTC: %s, want the first bucket in the 14:00 shift", jsonString(got))
	}
}

func TestCalendarBounds(t *testing.T) {
	amsterdam, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	local := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, amsterdam) }
	tests := []struct {
		name     string
		cal      calendar
		from, to time.Time
		want     []time.Time
	}{
		{"hours from mid-hour", calendar{unit: "hour", loc: time.UTC}, at(10, 30), at(12, 0),
			[]time.Time{at(10, 0), at(11, 0), at(12, 0)}},
		{"hours in a half-hour zone", calendar{unit: "hour", loc: time.FixedZone("IST", 5*3600+1800)}, at(10, 0), at(11, 0),
			[]time.Time{at(9, 30), at(10, 30), at(11, 30)}},
		// The last Sunday of October has 25 hours in Amsterdam.
		{"day of the clock change", calendar{unit: "day", loc: amsterdam}, local(10, 25, 0, 0), local(10, 26, 0, 0),
			[]time.Time{local(10, 25, 0, 0), local(10, 26, 0, 0)}},
		{"shifts across midnight", calendar{unit: "shift", loc: amsterdam, shifts: []int{6 * 60, 14 * 60, 22 * 60}},
			local(11, 20, 3, 0), local(11, 20, 23, 0),
			[]time.Time{local(11, 19, 22, 0), local(11, 20, 6, 0), local(11, 20, 14, 0), local(11, 20, 22, 0), local(11, 21, 6, 0)}},
		// ISO weeks start on Monday 00:00 local; the week holding the
		// October clock change has 169 hours.
		{"weeks across the clock change", calendar{unit: "week", loc: amsterdam}, local(10, 21, 12, 0), local(11, 3, 0, 0),
			[]time.Time{local(10, 19, 0, 0), local(10, 26, 0, 0), local(11, 2, 0, 0), local(11, 9, 0, 0)}},
		// Sunday 23:30 UTC is already Monday in Amsterdam.
		{"week starts on the local Monday", calendar{unit: "week", loc: amsterdam}, time.Date(2026, 11, 1, 23, 30, 0, 0, time.UTC), local(11, 3, 0, 0),
			[]time.Time{local(11, 2, 0, 0), local(11, 9, 0, 0)}},
		{"week in UTC from a Monday", calendar{unit: "week", loc: time.UTC}, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), day,
			[]time.Time{time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}},
		{"one shift a day at 06:30", calendar{unit: "shift", loc: time.UTC, shifts: []int{6*60 + 30}},
			at(6, 30), at(7, 0), []time.Time{at(6, 30), at(30, 30)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cal.bounds(tt.from.UnixNano(), tt.to.UnixNano())
			if err != nil {
				t.Fatal(err)
			}
			var want []int64
			for _, w := range tt.want {
				want = append(want, w.UnixNano())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	if d := local(10, 26, 0, 0).Sub(local(10, 25, 0, 0)); d != 25*time.Hour {
		t.Fatalf("test data: the clock-change day is %v", d)
	}
	if d := local(10, 26, 0, 0).Sub(local(10, 19, 0, 0)); d != 169*time.Hour || local(10, 19, 0, 0).Weekday() != time.Monday {
		t.Fatalf("test data: the clock-change week is %v from a %v", d, local(10, 19, 0, 0).Weekday())
	}
}

type paretoResp struct {
	Items []struct {
		Key        string  `json:"key"`
		Duration   float64 `json:"duration_s"`
		Count      int     `json:"count"`
		Share      float64 `json:"share"`
		Cumulative float64 `json:"cumulative"`
	} `json:"items"`
	Total     float64 `json:"total_s"`
	Truncated bool    `json:"truncated"`
}

func TestDowntimePareto(t *testing.T) {
	f := newFixture(t)
	d := func(h, m int) int64 {
		return now.Truncate(24 * time.Hour).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).UnixNano()
	}
	dt := func(asset string, start, end int64, reason string) uns.Event {
		e := uns.Event{Asset: asset, Kind: "downtime", Start: start, End: end, Attrs: map[string]string{"state": "down", "duration_s": "99999"}}
		if reason != "" {
			e.Attrs["reason"] = reason
		}
		return e
	}
	f.ingest("a", nil, []uns.Event{
		dt("s1/a/l1/m1", d(9, 30), d(10, 30), "jam"),  // clipped at from: 30 min
		dt("s1/a/l1/m1", d(10, 40), d(10, 50), "jam"), // 10 min
		dt("s1/a/l1/m2", d(11, 20), d(11, 40), ""),    // unknown; clipped at to=11:30: 10 min
		dt("s1/a/l2/m3", d(11, 0), 0, "material"),     // open since 11:00
		dt("s1/a/l1/m1", d(8, 0), d(9, 0), "jam"),     // before the range
		dt("s1/a/l1/m1", d(11, 30), d(11, 45), "jam"), // starts at to: outside
		dt("s10/a/l1/m1", d(10, 0), d(11, 0), "jam"),  // not under the prefix s1
		{Asset: "s1/a/l1/m1", Kind: "state", Start: d(10, 0), End: d(11, 0), Attrs: map[string]string{"reason": "jam"}},
	})
	f.ingest("b", nil, []uns.Event{dt("s1/a/l1/m1", d(10, 0), d(11, 0), "b-only")})
	type item struct {
		key      string
		duration float64
		count    int
	}
	tests := []struct {
		name, query string
		want        []item
	}{
		{"by reason", "prefix=s1&by=reason&to=-30m", []item{{"jam", 2400, 2}, {"material", 1800, 1}, {"unknown", 600, 1}}},
		{"by asset", "prefix=s1&by=asset&to=-30m", []item{{"s1/a/l1/m1", 2400, 2}, {"s1/a/l2/m3", 1800, 1}, {"s1/a/l1/m2", 600, 1}}},
		// An open downtime counts until now when to is later.
		{"open until now", "prefix=s1&to=" + fmt.Sprint(now.Add(time.Hour).UnixMilli()),
			[]item{{"material", 3600, 1}, {"jam", 2400 + 900, 3}, {"unknown", 1200, 1}}},
		{"one asset", "by=reason&prefix=s1/a/l1/m2&to=-30m", []item{{"unknown", 600, 1}}},
		{"limit", "prefix=s1&by=reason&to=-30m&limit=1", []item{{"jam", 2400, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/downtime/pareto?from=" + fmt.Sprint(d(10, 0)/1e6) + "&" + tt.query
			code, _, body := f.get(path, f.viewA)
			if code != 200 {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			var got paretoResp
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(body, "b-only") {
				t.Errorf("org b's downtime in org a's Pareto: %s", body)
			}
			var total, cum float64
			for _, w := range tt.want {
				total += w.duration
			}
			if tt.name == "limit" {
				total, cum = 4800, 0
			}
			if got.Total != total || len(got.Items) != len(tt.want) || got.Truncated != (tt.name == "limit") {
				t.Fatalf("total %v, %d items, truncated %v; want %v, %d: %s", got.Total, len(got.Items), got.Truncated, total, len(tt.want), body)
			}
			for i, w := range tt.want {
				cum += w.duration
				g := got.Items[i]
				if g.Key != w.key || g.Duration != w.duration || g.Count != w.count || g.Share != w.duration/total || g.Cumulative != cum/total {
					t.Errorf("item %d = %+v, want %+v share %v cumulative %v", i, g, w, w.duration/total, cum/total)
				}
			}
			if tt.name != "limit" && got.Items[len(got.Items)-1].Cumulative != 1 {
				t.Errorf("last cumulative %v, want 1", got.Items[len(got.Items)-1].Cumulative)
			}
		})
	}
}

func TestReportsBadInput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path, msg string
	}{
		{"/api/v1/oee?by=cell", "by="},
		{"/api/v1/oee?bucket=month", "bucket="},
		{"/api/v1/oee?prefix=s/%2B/l", "prefix"},
		{"/api/v1/oee?prefix=" + url.QueryEscape("s' OR '1'='1"), "prefix"},
		{"/api/v1/oee?bucket=shift&shifts=25:00", "shifts="},
		{"/api/v1/oee?bucket=shift&shifts=14:00,06:00", "shifts="},
		{"/api/v1/oee?bucket=shift&shifts=6:00", "shifts="},
		{"/api/v1/oee?bucket=shift&shifts=06:00,", "shifts="},
		{"/api/v1/oee?bucket=shift&shifts=-6:00", "shifts="},
		{"/api/v1/oee?bucket=hour&shifts=06:00", "shifts: only with bucket=shift"},
		{"/api/v1/oee?tz=Mars/Olympus", "tz="},
		{"/api/v1/oee?tz=Local", "tz="},
		{"/api/v1/oee?tz=../../../etc/passwd", "tz="},
		{"/api/v1/oee?from=0&to=now&bucket=hour", "limit is 10000"},
		{"/api/v1/oee?from=-1m&to=-2m", "from must be before to"},
		{"/api/v1/oee?from=tomorrow", "from="},
		{"/api/v1/downtime/pareto?by=kind", "by="},
		{"/api/v1/downtime/pareto?prefix=s/%23", "prefix"},
		{"/api/v1/downtime/pareto?limit=100000", "limit="},
		{"/api/v1/downtime/pareto?to=yesterday", "to="},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := f.do("GET", tt.path, f.viewA, nil)
			msg, _ := body["error"].(string)
			if code != 400 || !strings.Contains(msg, tt.msg) {
				t.Errorf("GET %s = %d %q, want 400 with %q", tt.path, code, msg, tt.msg)
			}
		})
	}
	if code, _ := f.do("GET", "/api/v1/oee", "", nil); code != 401 {
		t.Errorf("oee without token: %d, want 401", code)
	}
}
