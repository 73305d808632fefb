package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sim"
)

// TestSimEdgeHubExactlyOnce runs the whole spine, restarts the hub in the
// middle, and checks that every sequence number each simulated machine had
// acknowledged is stored exactly once.
func TestSimEdgeHubExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	ctx := t.Context()
	hubDir, edgeDir := t.TempDir(), t.TempDir()
	h, err := hub.Start(ctx, hub.Config{DataDir: hubDir, Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := h.Addr()
	_, token, err := h.CreateEdge(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	// The edge talks to the hub through a proxy that loses some of the
	// hub's answers after the hub has stored the batch, so the edge must
	// resend batches the hub already has.
	proxy := newLossyProxy(t, hubAddr, 5)
	e, err := edge.Start(ctx, edge.Config{
		DataDir: edgeDir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: proxy.URL, EnrollToken: token,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	s, minAcked, stopSim := runSim(t, e.MQTTAddr())
	// Each phase waits for what it needs, not for a time: acknowledged
	// ticks of every machine, and answers the proxy passed or lost.
	waitFor(t, "20 acknowledged ticks of every machine and a lost answer", func() bool {
		return minAcked() >= 20 && proxy.lost.Load() > 0
	})
	if err := h.Close(); err != nil {
		t.Fatalf("close hub: %v", err)
	}
	before := minAcked()
	waitFor(t, "10 more acknowledged ticks of every machine while the hub is down (the edge buffers them)", func() bool {
		return minAcked() >= before+10
	})
	if h, err = hub.Start(ctx, hub.Config{DataDir: hubDir, Listen: hubAddr, Out: io.Discard}); err != nil {
		t.Fatalf("restart hub on %s: %v", hubAddr, err)
	}
	defer h.Close()
	passed, lost := proxy.n.Load(), proxy.lost.Load()
	waitFor(t, "uplinks to the restarted hub, one of whose answers is lost", func() bool {
		return proxy.n.Load() > passed+5 && proxy.lost.Load() > lost
	})
	stopSim()
	acked := s.Acked()
	waitFor(t, "the edge to forward every record it holds", func() bool { return e.Status().Outbox.PendingRecords == 0 })

	c := client{t: t, base: h.URL(), token: admin}
	if lost := proxy.lost.Load(); lost == 0 {
		t.Error("the proxy lost no answers; the resend path was not exercised")
	}
	// The restarted hub counted the resent records as duplicates.
	if dup := c.metric("molen_hub_uplink_records_total{outcome=\"duplicate\"}"); dup == 0 {
		t.Error("hub counted no duplicate records although answers were lost")
	}
	for _, m := range s.Machines() {
		if acked[m] < 20 {
			t.Errorf("%s: only %d ticks acknowledged; the run did not get going", m, acked[m])
		}
		var res struct {
			Points []struct {
				Value int64 `json:"value"`
			} `json:"points"`
			Truncated bool `json:"truncated"`
		}
		c.get("/api/v1/query?agg=raw&from=0&to=now&limit=100000&series="+url.QueryEscape(m+"/seq"), &res)
		if res.Truncated {
			t.Fatalf("%s: raw query truncated", m)
		}
		seen := map[int64]int{}
		for _, p := range res.Points {
			seen[p.Value]++
		}
		var missing, dup []int64
		for seq := int64(1); seq <= int64(acked[m]); seq++ {
			switch seen[seq] {
			case 0:
				missing = append(missing, seq)
			case 1:
			default:
				dup = append(dup, seq)
			}
		}
		if len(missing) > 0 || len(dup) > 0 {
			t.Errorf("%s: %d acked ticks, %d stored: missing %v, duplicated %v", m, acked[m], len(res.Points), head(missing), head(dup))
		}
		if len(res.Points) != int(acked[m]) {
			t.Errorf("%s: stored %d seq points, want exactly %d", m, len(res.Points), acked[m])
		}
	}

	// The API lists the simulated series and their latest values.
	var series struct {
		Series []struct {
			Path string `json:"path"`
		} `json:"series"`
	}
	c.get("/api/v1/series?prefix="+url.QueryEscape(sim.DefaultSite), &series)
	var paths []string
	for _, s := range series.Series {
		paths = append(paths, s.Path)
	}
	for _, m := range s.Machines() {
		for _, tag := range []string{"state", "seq", "good_count", "scrap_count", "energy_kwh"} {
			if !slices.Contains(paths, m+"/"+tag) {
				t.Errorf("series list lacks %s/%s", m, tag)
			}
		}
	}
	var latest struct {
		Points []struct {
			Series string `json:"series"`
			Value  any    `json:"value"`
		} `json:"points"`
	}
	c.get("/api/v1/latest?prefix="+url.QueryEscape(sim.DefaultSite), &latest)
	states := map[string]any{}
	for _, p := range latest.Points {
		states[p.Series] = p.Value
	}
	for _, m := range s.Machines() {
		st, ok := states[m+"/state"].(string)
		if !ok || !slices.Contains([]string{"running", "idle", "setup", "down"}, st) {
			t.Errorf("%s: latest state %v, want one of running/idle/setup/down", m, states[m+"/state"])
		}
	}
}

// lossyProxy forwards HTTP to the hub but, for every nth uplink, throws
// away the hub's answer after the hub has handled it and answers 502.
type lossyProxy struct {
	*httptest.Server
	n, lost atomic.Int64
}

func newLossyProxy(t *testing.T, hubAddr string, every int64) *lossyProxy {
	p := &lossyProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: hubAddr})
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/api/v1/uplink" || resp.StatusCode != http.StatusOK {
			return nil
		}
		if p.n.Add(1)%every == 0 {
			p.lost.Add(1)
			return errors.New("answer lost on purpose")
		}
		return nil
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

// runSim runs the simulator's machines against broker until stop, which
// waits for it to end; minAcked is the fewest ticks a machine had
// acknowledged so far.
func runSim(t *testing.T, broker string) (s *sim.Sim, minAcked func() uint64, stop func()) {
	t.Helper()
	s, err := sim.New(sim.Config{Broker: broker, Seed: 7, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	minAcked = func() uint64 {
		least := ^uint64(0)
		for _, n := range s.Acked() {
			least = min(least, n)
		}
		return least
	}
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("sim: %v", err)
		}
	}
	return s, minAcked, stop
}

func head(s []int64) []int64 { return s[:min(len(s), 10)] }

// waitFor polls cond until it holds; after a minute, which only a stuck run
// takes even on a loaded machine, it fails saying what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type client struct {
	t     *testing.T
	base  string
	token string
}

// metric returns the value of one sample on the hub's /metrics.
func (c client) metric(sample string) float64 {
	c.t.Helper()
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	c.t.Fatalf("no %s on /metrics", sample)
	return 0
}

func (c client) get(path string, out any) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, fmt.Sprintf("%.200s", body))
	}
}
