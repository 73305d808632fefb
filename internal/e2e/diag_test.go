package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uplink"
)

// knownSecret is an input's broker password: no diagnostics answer may
// hold it.
const knownSecret = "s3cret-Known-Broker-Pass"

// countingBroker is an MQTT broker (mochi, in-process, ephemeral port)
// that counts the connections of each client.
type countingBroker struct {
	mochi.HookBase
	srv      *mochi.Server
	addr     string
	connects atomic.Int64
	password atomic.Value // the last password a client connected with
}

func (b *countingBroker) ID() string { return "counting" }
func (b *countingBroker) Provides(h byte) bool {
	return h == mochi.OnConnect
}
func (b *countingBroker) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	b.connects.Add(1)
	b.password.Store(string(pk.Connect.Password))
	return nil
}

func newCountingBroker(t *testing.T) *countingBroker {
	b := &countingBroker{}
	b.srv = mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := b.srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.AddHook(b, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "diag", Address: "127.0.0.1:0"})
	if err := b.srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b.addr = l.Address()
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// command sends a diagnostics command to an edge and waits for its result.
func (c client) command(edgeID, body string) fleet.Command {
	c.t.Helper()
	var cmd fleet.Command
	c.do("POST", "/api/v1/fleet/edges/"+edgeID+"/commands", body, 201, &cmd)
	if cmd.State != fleet.CommandPending || cmd.ID == "" {
		c.t.Fatalf("command created as %+v", cmd)
	}
	waitFor(c.t, "the result of "+body, func() bool {
		c.do("GET", "/api/v1/fleet/edges/"+edgeID+"/commands/"+cmd.ID+"?wait=20s", "", 200, &cmd)
		return cmd.State != fleet.CommandPending && cmd.State != fleet.CommandSent
	})
	if cmd.State != fleet.CommandDone {
		c.t.Fatalf("%s: %s: %s", body, cmd.State, cmd.Error)
	}
	if strings.Contains(string(cmd.Output), knownSecret) {
		c.t.Errorf("%s: the result holds the input's password: %s", body, cmd.Output)
	}
	return cmd
}

// TestEdgeDiagnostics runs every diagnostics command through the real hub
// and a real edge: the edge polls with a one-hour interval, so a manifest
// change that arrives came by the long poll.
func TestEdgeDiagnostics(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	ctx := t.Context()
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	edgeID, token := newEdge(t, h, "press-hall")
	broker := newCountingBroker(t)
	e, err := edge.Start(ctx, edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: h.URL(), EnrollToken: token, ManifestPoll: time.Hour, HealthWindow: 200 * time.Millisecond, Version: "0.9.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s, err := sim.New(sim.Config{Broker: e.MQTTAddr(), Seed: 5, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go func() { _ = s.Run(simCtx) }()

	// Long poll: a desired state put after the edge's first fetch
	// reaches it although its poll interval is an hour.
	waitFor(t, "the edge's first report", func() bool {
		var inv struct {
			Edges []struct {
				Reported any `json:"reported"`
			} `json:"edges"`
		}
		c.do("GET", "/api/v1/fleet/edges", "", 200, &inv)
		return len(inv.Edges) == 1 && inv.Edges[0].Reported != nil
	})
	put := time.Now()
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{
		"inputs": {"line": {"mqtt": {"url": "tcp://`+broker.addr+`", "username": "edge", "password": "`+knownSecret+`",
			"subscriptions": [{"topic": "line/#"}]}}},
		"pipelines": {"keep": {"match": ["#"], "stages": []}}}`, 200, nil)
	waitFor(t, "the manifest to reach the edge by the long poll", func() bool {
		d := e.Status().Desired
		return d.Version > 0 && len(d.Parts) == 2 && d.Parts[0].State == uplink.StateInstalled
	})
	// A figure for docs/benchmarks.md, not an assertion.
	t.Logf("layer put to installed and healthy: %v (health window 200ms, poll interval 1h)", time.Since(put))
	if got, _ := broker.password.Load().(string); got != knownSecret {
		t.Fatalf("the input connected with password %q", got)
	}

	// status: the inputs and the buffer, as the status API shows them.
	st := c.command(edgeID, `{"kind":"status"}`)
	var status edge.Status
	if err := json.Unmarshal(st.Output, &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Inputs) != 1 || status.Inputs[0].Input != "inputs.line" || status.Outbox.ID == "" {
		t.Errorf("status: inputs %+v, outbox %+v", status.Inputs, status.Outbox)
	}

	// logs: the edge's recent records, among them the manifest's install.
	logs := c.command(edgeID, `{"kind":"logs"}`)
	if !strings.Contains(string(logs.Output), "manifest installed") {
		t.Errorf("logs hold no record of the install: %.500s", logs.Output)
	}

	// restart-input: a new connection to the broker, connected again.
	before := broker.connects.Load()
	c.command(edgeID, `{"kind":"restart-input","args":{"input":"line"}}`)
	waitFor(t, "the restarted input to connect anew", func() bool {
		in := e.Status().Inputs
		return broker.connects.Load() > before && len(in) == 1 && in[0].State == "connected"
	})
	// An input the edge does not run: the command fails, saying which it runs.
	var missing fleet.Command
	c.do("POST", "/api/v1/fleet/edges/"+edgeID+"/commands", `{"kind":"restart-input","args":{"input":"nope"}}`, 201, &missing)
	waitFor(t, "the failed restart", func() bool {
		c.do("GET", "/api/v1/fleet/edges/"+edgeID+"/commands/"+missing.ID+"?wait=20s", "", 200, &missing)
		return missing.State == fleet.CommandFailed
	})
	if !strings.Contains(missing.Error, `no input "nope"`) || !strings.Contains(missing.Error, "inputs.line") {
		t.Errorf("restart of an unknown input: %q", missing.Error)
	}
	var refused struct {
		Error string `json:"error"`
	}
	c.do("POST", "/api/v1/fleet/edges/"+edgeID+"/commands", `{"kind":"restart-input"}`, 400, &refused)
	if !strings.Contains(refused.Error, "args.input") {
		t.Errorf("restart-input without an input refused with %q", refused.Error)
	}

	// pipeline-test: a draft pipeline on the edge's live points; the
	// running pipeline stays as it is.
	spec := `pipelines:
  - name: draft
    match: ["` + sim.DefaultSite + `/+/+/+/energy_kwh"]
    stages:
      - map: {value: "value * 1000", series: "{asset}/energy_wh"}
`
	body, _ := json.Marshal(map[string]any{"kind": "pipeline-test", "args": map[string]string{"spec": spec}})
	var pt edge.PipelineTest
	waitFor(t, "a pipeline test on live energy readings", func() bool {
		res := c.command(edgeID, string(body))
		if err := json.Unmarshal(res.Output, &pt); err != nil {
			t.Fatal(err)
		}
		return pt.PointsIn > 0 && strings.Contains(strings.Join(pt.Output, "\n"), "/energy_wh")
	})
	if !strings.Contains(pt.Explain, "draft") {
		t.Errorf("pipeline test explains %q", pt.Explain)
	}
	if p := e.Status().Pipeline; p == nil || len(p.Stats.Pipelines) != 1 || p.Stats.Pipelines[0].Name != "keep" {
		t.Errorf("the running pipeline after the test: %+v", p)
	}
	c.do("POST", "/api/v1/fleet/edges/"+edgeID+"/commands", `{"kind":"pipeline-test","args":{"spec":"pipelines: [{name: x, match: ['#'], stages: [{window: {size: 0s}}]}]"}}`, 400, &refused)
	if !strings.Contains(refused.Error, "window") {
		t.Errorf("an invalid draft refused with %q", refused.Error)
	}

	// bundle: a tar.gz with status, logs, the manifest (redacted),
	// versions and metrics, and no secret in it.
	bc := c.command(edgeID, `{"kind":"bundle"}`)
	files := download(t, c, "/api/v1/fleet/edges/"+edgeID+"/commands/"+bc.ID+"/bundle")
	for _, name := range []string{"version.json", "status.json", "manifest.json", "logs.jsonl", "metrics.txt"} {
		if len(files[name]) == 0 {
			t.Errorf("bundle: %s missing or empty (has %d files)", name, len(files))
		}
	}
	for name, data := range files {
		if bytes.Contains(data, []byte(knownSecret)) {
			t.Errorf("bundle: %s holds the input's password", name)
		}
	}
	if !bytes.Contains(files["manifest.json"], []byte(`"password": "[redacted]"`)) || !bytes.Contains(files["manifest.json"], []byte(broker.addr)) {
		t.Errorf("bundle's manifest: %.600s", files["manifest.json"])
	}
	if !bytes.Contains(files["metrics.txt"], []byte("molen_edge_points_accepted_total")) {
		t.Errorf("bundle's metrics: %.300s", files["metrics.txt"])
	}

	// Every command is in the audit log with its caller.
	var log struct {
		Entries []struct {
			Actor, Action, Target string
			Detail                map[string]string
		} `json:"entries"`
	}
	c.do("GET", "/api/v1/audit?limit=200", "", 200, &log)
	kinds := map[string]bool{}
	downloaded := false
	for _, en := range log.Entries {
		if en.Action == "edge.command" && en.Target == edgeID && en.Actor != "" {
			kinds[en.Detail["kind"]] = true
		}
		downloaded = downloaded || en.Action == "edge.bundle.downloaded" && en.Detail["command"] == bc.ID
	}
	for _, k := range uplink.CommandKinds {
		if !kinds[k] {
			t.Errorf("no audit entry of a %s command: %+v", k, kinds)
		}
	}
	if !downloaded {
		t.Error("the bundle's download is not in the audit log")
	}
	var list struct {
		Commands []fleet.Command `json:"commands"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID+"/commands", "", 200, &list)
	if len(list.Commands) < len(uplink.CommandKinds) || list.Commands[0].Output != nil {
		t.Errorf("command list: %d commands, first %+v", len(list.Commands), list.Commands[0])
	}
	stopSim()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// download GETs a tar.gz and returns its files.
func download(t *testing.T, c client, path string) map[string][]byte {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/gzip" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s %.200s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hd.Name], _ = io.ReadAll(tr)
	}
}

// TestMaintenanceWindow: outside its maintenance windows a new manifest
// waits (reported pending) and the edge runs what it runs; in a window it
// is applied. The edge's clock is a settable one.
func TestMaintenanceWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	ctx := t.Context()
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	edgeID, token := newEdge(t, h, "press-hall")
	// Friday 10:00 in the edge's local time; the window is Saturday night.
	clock := clocktest.New(time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local))
	e, err := edge.Start(ctx, edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: h.URL(), EnrollToken: token, ManifestPoll: 50 * time.Millisecond, HealthWindow: 100 * time.Millisecond, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"settings": {"maintenance": ["sat 02:00-04:00"]},
		"pipelines": {"keep": {"match": ["#"], "stages": []}}}`, 200, nil)
	var d struct {
		Desired fleet.Desired `json:"desired"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &d)
	want := d.Desired.Manifest.Version
	waitFor(t, "the manifest reported pending", func() bool {
		return e.Status().Desired.Pending == want
	})
	if a := e.Status().Desired; a.Version != 0 || !strings.Contains(a.PendingReason, "sat 02:00-04:00") {
		t.Errorf("outside the window the edge runs version %d (%q), want its local files", a.Version, a.PendingReason)
	}
	waitFor(t, "the pending state in the inventory", func() bool {
		var inv struct {
			Edges []struct {
				Reported *struct {
					Report uplink.Report `json:"report"`
				} `json:"reported"`
			} `json:"edges"`
		}
		c.do("GET", "/api/v1/fleet/edges", "", 200, &inv)
		return len(inv.Edges) == 1 && inv.Edges[0].Reported != nil && inv.Edges[0].Reported.Report.Manifest.Pending == want
	})
	clock.Add(16*time.Hour + 30*time.Minute) // Saturday 02:30
	waitFor(t, "the manifest applied in its window", func() bool {
		a := e.Status().Desired
		return a.Version == want && a.Pending == 0
	})
	// A layer with a window that does not parse is refused.
	var refused struct {
		Error string `json:"error"`
	}
	c.do("PUT", "/api/v1/fleet/layers/org", `{"settings": {"maintenance": ["someday 02:00-04:00"]}}`, 400, &refused)
	if !strings.Contains(refused.Error, "settings.maintenance") {
		t.Errorf("a bad window refused with %q", refused.Error)
	}
}
