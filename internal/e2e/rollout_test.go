package e2e

import (
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uplink"
)

// TestFleetRollout runs a hub and three real edges (in-process) through
// two rollouts of the group layer of their line. A canary given an input
// that cannot connect rolls itself back, and the rollout aborts without
// touching the other edges. A healthy change goes canary first, then the
// rest; the hub restarts in the middle and the rollout carries on from
// the database; an edge offline for the whole rollout is skipped and,
// when it comes back, runs the final state.
func TestFleetRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	ctx := t.Context()
	hubDir := t.TempDir()
	hcfg := hub.Config{DataDir: hubDir, Listen: "127.0.0.1:0", Out: io.Discard, RolloutEvery: 100 * time.Millisecond}
	h, err := hub.Start(ctx, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { h.Close() }()
	// The edges reach the hub through a proxy, so that the hub can restart
	// on another port.
	var target atomic.Pointer[url.URL]
	setTarget := func(s string) { u, _ := url.Parse(s); target.Store(u) }
	setTarget(h.URL())
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }})
	defer proxy.Close()

	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	c := client{t: t, base: h.URL(), token: admin}
	ids := make([]string, 3)
	cfgs := make([]edge.Config, 3)
	for i := range ids {
		id, token, err := h.CreateEdge(ctx, "press-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		c.do("PUT", "/api/v1/fleet/edges/"+id+"/place", `{"site":"hall-1","labels":{"line":"press"}}`, 200, nil)
		cfgs[i] = edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
			HubURL: proxy.URL, EnrollToken: token, ManifestPoll: 50 * time.Millisecond, HealthWindow: 500 * time.Millisecond, Version: "0.9.0-test"}
	}
	c.do("PUT", "/api/v1/fleet/groups/presses", `{"line":"press"}`, 200, nil)
	const energy = `"energy":{"match":["acme/+/+/+/energy_kwh"],"stages":[{"map":{"value":"value * 1000","series":"{asset}/energy_wh"}}]}`
	c.do("PUT", "/api/v1/fleet/layers/group/presses", `{"pipelines":{`+energy+`}}`, 200, nil)

	// The first two edges run; the third stays offline throughout.
	edges := map[string]*edge.Edge{}
	for i := range 2 {
		e, err := edge.Start(ctx, cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer func() { e.Close() }()
		edges[ids[i]] = e
	}
	running := func(e *edge.Edge, pipelines ...string) bool {
		st := e.Status()
		if st.Desired.Version == 0 || st.Pipeline == nil || len(st.Pipeline.Stats.Pipelines) != len(pipelines) {
			return false
		}
		for i, p := range st.Pipeline.Stats.Pipelines {
			if p.Name != pipelines[i] {
				return false
			}
		}
		for _, p := range st.Desired.Parts {
			if p.State != uplink.StateInstalled {
				return false
			}
		}
		return true
	}
	for id, e := range edges {
		waitFor(t, id+" to run the group's layer", func() bool { return running(e, "energy") })
	}
	versions := map[string]uint64{}
	for id, e := range edges {
		versions[id] = e.Status().Desired.Version
	}
	waitFor(t, "both edges' reports", func() bool {
		var inv struct {
			Edges []struct {
				Health string `json:"health"`
			} `json:"edges"`
		}
		c.do("GET", "/api/v1/fleet/edges?health=ok", "", 200, &inv)
		return len(inv.Edges) == 2
	})

	type rollout struct {
		ID     string         `json:"id"`
		State  string         `json:"state"`
		Reason string         `json:"reason"`
		Counts map[string]int `json:"counts"`
		Edges  []struct {
			Edge, State, Detail string
		} `json:"edges"`
	}
	get := func(id string) rollout {
		var r rollout
		c.do("GET", "/api/v1/fleet/rollouts/"+id, "", 200, &r)
		return r
	}
	// 1. A canary with an input that cannot connect.
	var bad rollout
	c.do("POST", "/api/v1/fleet/rollouts", `{"scope":"group","target":"presses","canary_count":1,"step_timeout":"5m",
		"pipelines":{`+energy+`},"inputs":{"packer":{"modbus":{"url":"tcp://`+closedAddr(t)+`","registers":[{"address":0,"path":"x/y/z/count"}]}}}}`, 201, &bad)
	canary := bad.Edges[0].Edge
	waitFor(t, "the rollout to abort on the canary's rollback", func() bool { return get(bad.ID).State == "aborted" })
	bad = get(bad.ID)
	if bad.Edges[0].State != "failed" || !strings.Contains(bad.Edges[0].Detail, "input inputs.packer") || !strings.Contains(bad.Reason, "abort threshold") {
		t.Errorf("aborted rollout: %+v", bad)
	}
	if bad.Counts["waiting"] != 2 {
		t.Errorf("aborted rollout touched more than its canary: %v", bad.Counts)
	}
	waitFor(t, "the canary to run the old content in a new version", func() bool {
		d := edges[canary].Status().Desired
		return d.Version > versions[canary]+1 && running(edges[canary], "energy") && !d.RolledBack
	})
	for id, e := range edges {
		if id != canary && e.Status().Desired.Version != versions[id] {
			t.Errorf("%s, never admitted, went from version %d to %d", id, versions[id], e.Status().Desired.Version)
		}
	}

	// 2. A healthy change; the hub restarts as soon as it started.
	var good rollout
	c.do("POST", "/api/v1/fleet/rollouts", `{"scope":"group","target":"presses","canary_count":1,"step_timeout":"5m",
		"pipelines":{`+energy+`,"temps":{"match":["acme/+/+/+/temp"],"stages":[{"deadband":{"absolute":0.5}}]}}}`, 201, &good)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if h, err = hub.Start(ctx, hcfg); err != nil {
		t.Fatal(err)
	}
	setTarget(h.URL())
	c.base = h.URL()
	if r := get(good.ID); r.State != "running" {
		t.Fatalf("after the hub's restart the rollout is %s (%s), want running", r.State, r.Reason)
	}
	waitFor(t, "the rollout to complete after the hub's restart", func() bool { return get(good.ID).State == "completed" })
	good = get(good.ID)
	if good.Counts["installed"] != 2 || good.Counts["skipped"] != 1 {
		t.Errorf("completed rollout: %+v", good)
	}
	for id, e := range edges {
		waitFor(t, id+" to run the new content", func() bool { return running(e, "energy", "temps") })
	}

	// 3. The edge offline throughout comes back and runs the final state.
	e3, err := edge.Start(ctx, cfgs[2])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e3.Close() }()
	waitFor(t, "the edge offline during the rollout to run its final state", func() bool { return running(e3, "energy", "temps") })
}
