//go:build !edgeonly

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store/sqlite"
)

// demoGet GETs path from the demo's hub as its admin and decodes the JSON
// answer into out.
func demoGet(t *testing.T, d *Demo, path string, q url.Values, out any) {
	t.Helper()
	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", d.Hub.URL()+path+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: %d %s", path, q.Encode(), resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func TestDemoHistory(t *testing.T) {
	dir := t.TempDir()
	cfg := DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 4, Rate: 5, History: 2}
	d, err := StartDemo(t.Context(), cfg, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	stats, ok, err := d.WaitHistory(t.Context())
	if err != nil || !ok {
		d.Close()
		t.Fatalf("history: %v (back-filled: %v)", err, ok)
	}
	t.Logf("history: %+v", stats)
	if got := stats.To.Sub(stats.From); got != 48*time.Hour {
		t.Errorf("history spans %s, want 48h", got)
	}
	// Yesterday (UTC) of the demo's start lies wholly in two days of history.
	day := stats.To.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	span := url.Values{"from": {day.Format(time.RFC3339)}, "to": {day.Add(24 * time.Hour).Format(time.RFC3339)}}
	with := func(kv ...string) url.Values {
		q := url.Values{}
		for k, v := range span {
			q[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}

	// OEE per machine for yesterday, from the history's oee figures.
	var oee struct {
		Groups []struct {
			Group   string
			Buckets []struct {
				OEE     *float64 `json:"oee"`
				Planned float64  `json:"planned_s"`
				Good    float64  `json:"good"`
			}
		}
	}
	demoGet(t, d, "/api/v1/oee", with("bucket", "day"), &oee)
	machines := d.Machines()
	var withOEE []string
	for _, g := range oee.Groups {
		if len(g.Buckets) == 1 && g.Buckets[0].OEE != nil && *g.Buckets[0].OEE > 0 && g.Buckets[0].Planned > 20*3600 && g.Buckets[0].Good > 0 {
			withOEE = append(withOEE, g.Group)
		}
	}
	slices.Sort(withOEE)
	slices.Sort(machines)
	if !slices.Equal(withOEE, machines) {
		t.Errorf("yesterday's OEE for %v, want every machine %v: %+v", withOEE, machines, oee.Groups)
	}

	// State and downtime events.
	var states, downtimes []series.EventJSON
	demoGet(t, d, "/api/v1/events", with("kind", "state", "limit", "10000"), &struct {
		Events *[]series.EventJSON `json:"events"`
	}{&states})
	demoGet(t, d, "/api/v1/events", with("kind", "downtime", "limit", "10000"), &struct {
		Events *[]series.EventJSON `json:"events"`
	}{&downtimes})
	if len(states) < 20 || len(downtimes) < 5 {
		t.Errorf("yesterday has %d state and %d downtime events, want a day's worth", len(states), len(downtimes))
	}
	// The engineer explained them, named by user ID as a reason given
	// through the API is (TestReasons in internal/hub).
	daan, err := d.Hub.Auth().UserByEmail(t.Context(), demoEngineer)
	if err != nil || daan.Name != "Daan Visser" {
		t.Fatalf("the demo's engineer: %+v %v", daan, err)
	}
	var explained, open int
	for _, e := range downtimes {
		if e.Attrs["reason_by"] == daan.ID {
			explained++
		} else {
			open++
		}
	}
	if explained == 0 || open == 0 || explained < open {
		t.Errorf("yesterday's downtimes: %d explained, %d not; want about two thirds explained", explained, open)
	}

	// The Pareto by reason shows both the organisation's reason codes and
	// the downtimes still waiting for one (by their state).
	var pareto struct {
		Items []struct {
			Key   string
			Count int
		}
	}
	demoGet(t, d, "/api/v1/downtime/pareto", with("by", "reason"), &pareto)
	var codes, unexplained int
	for _, it := range pareto.Items {
		switch {
		case slices.ContainsFunc(factory.DefaultReasons, func(r factory.Reason) bool { return r.Code == it.Key }):
			codes += it.Count
		case it.Key == "down" || it.Key == "setup":
			unexplained += it.Count
		default:
			t.Errorf("Pareto key %q: neither a reason code nor a state", it.Key)
		}
	}
	t.Logf("yesterday: %d state events, %d downtimes (%d explained); Pareto %+v", len(states), len(downtimes), explained, pareto.Items)
	if codes != explained || unexplained != open {
		t.Errorf("Pareto: %d with a reason code, %d without; events: %d, %d (%+v)", codes, unexplained, explained, open, pareto.Items)
	}

	// The history's alarms are acknowledged but for the last shift's.
	var alarms struct {
		Alarms []struct {
			Asset, Kind string
			Start       time.Time
			Acked       bool
		}
	}
	demoGet(t, d, "/api/v1/alarms", url.Values{"prefix": {"demo-factory"}, "state": {"all"},
		"from": {stats.From.Format(time.RFC3339Nano)}, "to": {stats.To.Format(time.RFC3339Nano)}}, &alarms)
	var acked int
	for _, a := range alarms.Alarms {
		if old := a.Start.Before(stats.To.Add(-historyOpenAlarms)); a.Acked != old {
			t.Errorf("alarm %s %s at %s: acknowledged %v, want %v", a.Asset, a.Kind, a.Start, a.Acked, old)
		}
		if a.Acked {
			acked++
		}
	}
	if acked == 0 || acked != stats.Acked {
		t.Errorf("%d of %d history alarms acknowledged, the back-fill says %d", acked, len(alarms.Alarms), stats.Acked)
	}

	// Minute rollups of a process value over the whole day.
	var q struct {
		Buckets []struct{ Count int64 }
	}
	demoGet(t, d, "/api/v1/query", with("series", "demo-factory/hall-a/line-1/cnc-mill/spindle_temp_c", "step", "1m", "agg", "avg"), &q)
	var filled int
	for _, p := range q.Buckets {
		if p.Count > 0 {
			filled++
		}
	}
	if filled != 24*60 {
		t.Errorf("yesterday has %d minutes of spindle_temp_c, want %d", filled, 24*60)
	}
	// The history's intervals end before the live data begins.
	var last []series.EventJSON
	demoGet(t, d, "/api/v1/events", url.Values{"kind": {"state"}, "asset": {"demo-factory"}, "limit": {"10000"},
		"from": {stats.To.Add(-time.Minute).Format(time.RFC3339Nano)}, "to": {stats.To.Format(time.RFC3339Nano)}}, &struct {
		Events *[]series.EventJSON `json:"events"`
	}{&last})
	for _, e := range last {
		if e.End == nil && e.Start < stats.To.UnixMilli() {
			t.Errorf("history's state %+v is still open", e)
		}
	}
	if len(last) == 0 {
		t.Error("no state events in the history's last minute")
	}

	// The latest values are the live ones, whatever came first.
	waitFor(t, "live data", func() bool { return d.Edge.Status().Forward.Points > 0 })
	var latest struct {
		Points []struct {
			Series string
			TS     int64
		}
	}
	demoGet(t, d, "/api/v1/latest", url.Values{"prefix": {"demo-factory/hall-a/line-1/cnc-mill"}}, &latest)
	var found bool
	for _, p := range latest.Points {
		if p.Series == "demo-factory/hall-a/line-1/cnc-mill/seq" {
			found = true
			if p.TS < stats.To.UnixMilli() {
				t.Errorf("latest seq of the mill at %d, before the live start %d", p.TS, stats.To.UnixMilli())
			}
		}
	}
	if !found {
		t.Errorf("no latest seq of the mill in %+v", latest.Points)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// A second start on the same data back-fills nothing.
	d, err = StartDemo(context.Background(), cfg, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok, _ := d.WaitHistory(t.Context()); ok {
		t.Error("second start back-fills again")
	}
	var again []series.EventJSON
	demoGet(t, d, "/api/v1/events", with("kind", "state", "limit", "10000"), &struct {
		Events *[]series.EventJSON `json:"events"`
	}{&again})
	if len(again) != len(states) {
		t.Errorf("second start: %d state events yesterday, want %d", len(again), len(states))
	}
}

// BenchmarkDemoHistory back-fills 7 and 30 days of the demo's history into
// an embedded store, as a first start of molen demo does (reported: points
// and events stored, and the wall time of one back-fill).
func BenchmarkDemoHistory(b *testing.B) {
	for _, days := range []int{7, 30} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			var s HistoryStats
			for range b.N {
				st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "store.db"), sqlite.Options{})
				if err != nil {
					b.Fatal(err)
				}
				end := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
				if s, err = backfillHistory(b.Context(), st, "default", "demo-edge", 1, days, end, "u-engineer"); err != nil {
					b.Fatal(err)
				}
				st.Close()
			}
			b.ReportMetric(float64(s.Points), "points")
			b.ReportMetric(float64(s.Events), "events")
			b.ReportMetric(float64(s.Downtime), "downtimes")
			b.ReportMetric(float64(s.Reasons), "explained")
		})
	}
}
