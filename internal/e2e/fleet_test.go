package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uplink"
)

// tamperProxy passes the edge's requests to the hub and lets a test
// change the manifests the hub answers (a wrong digest, an old version),
// as a compromised network or a hub restored from an old backup would.
type tamperProxy struct {
	*httptest.Server
	mu     sync.Mutex
	tamper func(m *uplink.Manifest) // nil: pass the hub's answer
	served atomic.Int64             // manifests answered with a body
}

func newTamperProxy(t *testing.T, hubURL string) *tamperProxy {
	u, _ := url.Parse(hubURL)
	p := &tamperProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		p.mu.Lock()
		if p.tamper != nil {
			r.Out.Header.Del("If-None-Match") // the hub answers, the proxy changes it
		}
		p.mu.Unlock()
	}}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/api/v1/edge/manifest" || resp.StatusCode != http.StatusOK {
			return nil
		}
		p.served.Add(1)
		p.mu.Lock()
		tamper := p.tamper
		p.mu.Unlock()
		if tamper == nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var m uplink.Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		tamper(&m)
		body, _ = json.Marshal(m)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Set("ETag", `"tampered-`+strconv.FormatInt(p.served.Load(), 10)+`"`)
		return nil
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

func (p *tamperProxy) set(f func(m *uplink.Manifest)) {
	p.mu.Lock()
	p.tamper = f
	p.mu.Unlock()
}

// do sends a request with the admin token and decodes the answer.
func (c client) do(method, path, body string, want int, out any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %.200s", method, path, err, b)
		}
	}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestFleetDesiredState runs a real hub and a real edge with a simulated
// factory: the edge reports to the inventory, takes a pipeline from the
// hub's desired state (organisation and group layers), refuses a
// manifest with a wrong digest and one with an old version, rolls back an
// input that cannot connect by itself, keeps its state when the hub is
// gone and after a restart; and no acknowledged device message is lost
// through all of it.
func TestFleetDesiredState(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	ctx := t.Context()
	edgeDir := t.TempDir()
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	edgeID, token := newEdge(t, h, "press-hall")
	proxy := newTamperProxy(t, h.URL())
	cfg := edge.Config{DataDir: edgeDir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: proxy.URL, EnrollToken: token, ManifestPoll: 50 * time.Millisecond, HealthWindow: 500 * time.Millisecond, Version: "0.9.0-test"}
	e, err := edge.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s, err := sim.New(sim.Config{Broker: e.MQTTAddr(), Seed: 11, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- s.Run(simCtx) }()
	defer stopSim()

	// Inventory: the edge reports its software, platform and buffer.
	type invEdge struct {
		ID       string            `json:"id"`
		Site     string            `json:"site"`
		Labels   map[string]string `json:"labels"`
		Groups   []string          `json:"groups"`
		Health   string            `json:"health"`
		Reported *struct {
			Report uplink.Report `json:"report"`
		} `json:"reported"`
	}
	inventory := func(query string) []invEdge {
		var out struct {
			Edges []invEdge `json:"edges"`
		}
		c.do("GET", "/api/v1/fleet/edges"+query, "", 200, &out)
		return out.Edges
	}
	waitFor(t, "the edge's first report", func() bool {
		inv := inventory("")
		return len(inv) == 1 && inv[0].Reported != nil
	})
	rep := inventory("")[0].Reported.Report
	if rep.Version != "0.9.0-test" || rep.OS == "" || rep.Arch == "" || rep.Memory == 0 || rep.DiskTotal == 0 {
		t.Errorf("report lacks software, platform or resources: %+v", rep)
	}
	c.do("PUT", "/api/v1/fleet/edges/"+edgeID+"/place", `{"site":"hall-1","labels":{"line":"press","ring":"canary"}}`, 200, nil)
	c.do("PUT", "/api/v1/fleet/groups/presses", `{"line":"press"}`, 200, nil)
	if inv := inventory("?label=line=press&site=hall-1&group=presses"); len(inv) != 1 || inv[0].ID != edgeID {
		t.Fatalf("inventory filtered by label, site and group: %+v", inv)
	}
	if inv := inventory("?label=line=paint"); len(inv) != 0 {
		t.Fatalf("inventory filtered by another label: %+v", inv)
	}

	// An invalid pipeline is refused by the hub with the reason.
	var refusal struct {
		Error string `json:"error"`
	}
	c.do("PUT", "/api/v1/fleet/layers/org", `{"pipelines":{"energy":{"match":["#"],"stages":[{"window":{"size":"0s"}}]}}}`, 400, &refusal)
	if !strings.Contains(refusal.Error, "pipelines.energy.stages[0].window") {
		t.Errorf("invalid pipeline refused with %q", refusal.Error)
	}

	// A pipeline from the organisation's layer and a setting from the group's.
	c.do("PUT", "/api/v1/fleet/layers/org", `{"pipelines":{"energy":{"match":["`+sim.DefaultSite+`/+/+/+/energy_kwh"],
		"stages":[{"map":{"value":"value * 1000","series":"{asset}/energy_wh"}}]}}}`, 200, nil)
	c.do("PUT", "/api/v1/fleet/layers/group/presses", `{"settings":{"health_window":"1s"}}`, 200, nil)
	var desired struct {
		Desired struct {
			Manifest uplink.Manifest `json:"manifest"`
			Explain  []struct {
				Part, Layer string
			} `json:"explain"`
		} `json:"desired"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &desired)
	v1 := desired.Desired.Manifest
	if len(v1.Parts) != 2 || len(desired.Desired.Explain) != 2 || desired.Desired.Explain[0].Layer != "org" || desired.Desired.Explain[1].Layer != "group:presses" {
		t.Fatalf("desired state: %+v", desired.Desired)
	}
	installed := func(m uplink.Manifest) func() bool {
		return func() bool {
			d := e.Status().Desired
			if d.Version != m.Version || d.Digest != m.Digest || len(d.Parts) != len(m.Parts) {
				return false
			}
			for _, p := range d.Parts {
				if p.State != uplink.StateInstalled {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "the edge to install the manifest and keep it through its health window", installed(v1))
	waitFor(t, "the pipeline's output at the hub", func() bool {
		var latest struct {
			Points []struct{ Series string } `json:"points"`
		}
		c.get("/api/v1/latest?prefix="+url.QueryEscape(sim.DefaultSite), &latest)
		for _, p := range latest.Points {
			if strings.HasSuffix(p.Series, "/energy_wh") {
				return true
			}
		}
		return false
	})
	if st := e.Status(); st.Pipeline == nil || st.Pipeline.File != "" || len(st.Pipeline.Stats.Pipelines) != 1 {
		t.Errorf("edge pipeline after the manifest: %+v", st.Pipeline)
	}

	// A manifest whose content does not match its digest is refused.
	refusals := func() string { return e.Status().Desired.Error }
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"settings":{"poll_interval":"1s"}}`, 200, nil)
	proxy.set(func(m *uplink.Manifest) {
		for i := range m.Parts {
			if m.Parts[i].Name == "pipeline/energy" {
				m.Parts[i].Content = json.RawMessage(`{"match":["#"],"stages":[]}`)
			}
		}
	})
	waitFor(t, "the edge to refuse a manifest with a wrong digest", func() bool {
		return strings.Contains(refusals(), "does not match its digest")
	})
	if d := e.Status().Desired; d.Version != v1.Version {
		t.Errorf("after a wrong digest the edge runs version %d, want %d", d.Version, v1.Version)
	}
	proxy.set(nil)
	var v2 uplink.Manifest
	waitFor(t, "the edge to install the next version", func() bool {
		c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &desired)
		v2 = desired.Desired.Manifest
		return v2.Version > v1.Version && installed(v2)()
	})
	// An older version (the hub's answer of before, replayed) is refused.
	proxy.set(func(m *uplink.Manifest) { *m = v1 })
	waitFor(t, "the edge to refuse an older version", func() bool { return strings.Contains(refusals(), "anti-rollback") })
	if d := e.Status().Desired; d.Version != v2.Version {
		t.Errorf("after an older version the edge runs version %d, want %d", d.Version, v2.Version)
	}
	proxy.set(nil)

	// An input that cannot connect fails the health window: the edge
	// returns to the previous version by itself and says why.
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"settings":{"poll_interval":"1s"},
		"inputs":{"packer":{"modbus":{"url":"tcp://`+closedAddr(t)+`","registers":[{"address":0,"path":"x/y/z/count"}]}}}}`, 200, nil)
	waitFor(t, "the edge to roll back the manifest with an input that cannot connect", func() bool {
		d := e.Status().Desired
		return d.RolledBack && d.Version == v2.Version && strings.Contains(d.Error, "input inputs.packer")
	})
	if n := len(e.Status().Inputs); n != 0 {
		t.Errorf("after the rollback the edge runs %d inputs, want none", n)
	}
	waitFor(t, "the rollback in the inventory", func() bool {
		inv := inventory("?health=degraded")
		return len(inv) == 1 && inv[0].Reported.Report.Manifest.RolledBack
	})

	// The hub goes away: the edge runs on; restarted without a hub it runs
	// the last good state from its disk.
	stopSim()
	if err := <-simDone; err != nil {
		t.Fatalf("sim: %v", err)
	}
	acked := s.Acked()
	waitFor(t, "the edge to forward every record it holds", func() bool { return e.Status().Outbox.PendingRecords == 0 })
	for _, m := range s.Machines() {
		var res struct {
			Points []struct {
				Value int64 `json:"value"`
			} `json:"points"`
		}
		c.get("/api/v1/query?agg=raw&from=0&to=now&limit=100000&series="+url.QueryEscape(m+"/seq"), &res)
		seen := map[int64]bool{}
		for _, p := range res.Points {
			seen[p.Value] = true
		}
		for seq := int64(1); seq <= int64(acked[m]); seq++ {
			if !seen[seq] {
				t.Errorf("%s: acknowledged tick %d is not at the hub", m, seq)
				break
			}
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = edge.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if d := e.Status().Desired; d.Version != v2.Version || d.Digest != v2.Digest {
		t.Errorf("restarted without its hub the edge runs version %d, want %d", d.Version, v2.Version)
	}
	if st := e.Status(); st.Pipeline == nil || len(st.Pipeline.Stats.Pipelines) != 1 || st.Pipeline.Stats.Pipelines[0].Name != "energy" {
		t.Errorf("restarted without its hub the edge runs pipelines %+v, want the manifest's", st.Pipeline)
	}
}
