package hub_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/molen-io/molen/internal/hub"
)

// scrape reads the hub's /metrics into families by name.
func scrape(t *testing.T, url string) map[string]*dtoFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dtoFamily{}
	for name, f := range fams {
		fam := &dtoFamily{}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			fam.samples = append(fam.samples, sample{labels, v})
		}
		out[name] = fam
	}
	return out
}

type sample struct {
	labels map[string]string
	value  float64
}

type dtoFamily struct{ samples []sample }

// find returns the samples whose labels include want.
func (f *dtoFamily) find(want map[string]string) []sample {
	if f == nil {
		return nil
	}
	var out []sample
next:
	for _, s := range f.samples {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// TestHubMetrics: /metrics counts requests by route pattern (two edges'
// paths make one series), times them, and reports the background jobs'
// runs and the storage's size.
func TestHubMetrics(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h, err := hub.Start(t.Context(), hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	admin, _ := h.AdminToken()
	c := client{t: t, url: h.URL()}
	for _, id := range []string{"edge-a", "edge-b", "edge-c"} {
		if code, body := c.do("GET", "/api/v1/fleet/edges/"+id, admin, ""); code != 404 {
			t.Fatalf("GET edge %s: %d %v, want 404", id, code, body)
		}
	}
	if code, _ := c.do("GET", "/api/v1/whoami", "wrong", ""); code != 401 {
		t.Fatalf("whoami with a wrong token: %d, want 401", code)
	}
	// Retention runs at start too, in the background; this run is the
	// test's own, so that at least one is counted when it scrapes.
	if ran, err := h.RunRetention(t.Context(), now); err != nil || !ran {
		t.Fatalf("retention: ran %v, %v", ran, err)
	}

	m := scrape(t, h.URL())
	route := map[string]string{"route": "/api/v1/fleet/edges/{edge}", "method": "GET", "code": "404"}
	if got := m["molen_hub_http_requests_total"].find(route); len(got) != 1 || got[0].value != 3 {
		t.Errorf("requests of the edge route: %v, want one series counting 3", got)
	}
	if got := m["molen_hub_http_requests_total"].find(map[string]string{"route": "/api/v1/whoami", "code": "401"}); len(got) != 1 || got[0].value != 1 {
		t.Errorf("refused whoami: %v, want 1", got)
	}
	for _, s := range m["molen_hub_http_requests_total"].samples {
		if r := s.labels["route"]; len(r) > 0 && (strings.Contains(r, "edge-a") || strings.Contains(r, "edge-b")) {
			t.Errorf("a raw path as route label: %v", s.labels)
		}
	}
	if got := m["molen_hub_http_request_duration_seconds"].find(map[string]string{"route": "/api/v1/fleet/edges/{edge}"}); len(got) != 1 || got[0].value != 3 {
		t.Errorf("latency of the edge route: %v, want 3 observations", got)
	}
	if got := m["molen_hub_job_runs_total"].find(map[string]string{"job": "retention"}); len(got) != 1 || got[0].value < 1 {
		t.Errorf("retention runs: %v, want at least 1", got)
	}
	if got := m["molen_hub_job_last_success_timestamp_seconds"].find(map[string]string{"job": "retention"}); len(got) != 1 || got[0].value != float64(now.Unix()) {
		t.Errorf("retention's last success: %v, want %d", got, now.Unix())
	}
	if got := m["molen_hub_job_failures_total"].find(map[string]string{"job": "retention"}); len(got) != 1 || got[0].value != 0 {
		t.Errorf("retention failures: %v, want 0", got)
	}
	for _, part := range []string{"points", "metadata"} {
		if got := m["molen_hub_storage_bytes"].find(map[string]string{"part": part}); len(got) != 1 || got[0].value <= 0 {
			t.Errorf("storage bytes of %s: %v, want > 0", part, got)
		}
	}
}
