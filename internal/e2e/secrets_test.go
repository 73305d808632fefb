package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/uplink"
)

// recorder passes requests to the hub and keeps every body the edge sent
// or got: its reports and its manifests.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newRecorder(t *testing.T, hubURL string) *recorder {
	u, _ := url.Parse(hubURL)
	rec := &recorder{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	rp.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		rec.add(string(b))
		return err
	}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		rec.add(string(b))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.bodies = append(r.bodies, s)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// reported reports whether the edge reported part in state.
func (r *recorder) reported(part, state string) bool {
	for _, b := range r.all() {
		var rep uplink.Report
		if json.Unmarshal([]byte(b), &rep) != nil {
			continue
		}
		for _, p := range rep.Manifest.Parts {
			if p.Name == part && p.State == state {
				return true
			}
		}
	}
	return false
}

// passwordBroker is an MQTT broker (mochi) on an ephemeral port that lets
// in only user with password.
func passwordBroker(t *testing.T, user, password string) string {
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: auth.RString(user), Password: auth.RString(password), Allow: true}},
		ACL: auth.ACLRules{{Username: auth.RString(user), Filters: auth.Filters{"#": auth.ReadWrite}}}}
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + l.Address()
}

// TestFleetSecretsAndPartStates runs a real hub and a real edge. A secret
// in the edge's layer (an MQTT input's password) reaches the input in the
// clear (the broker lets it in only with it) while the hub keeps it
// encrypted and sends it sealed for the edge's key: no answer of the API,
// no log line, no file of the hub or of the edge holds the value, and
// another key cannot open it. The edge reports a part the new manifest
// drops as removing, then removed; and a manifest that comes while another
// is within its health window as pending. Its report carries a Margo
// capabilities manifest that Margo's OpenAPI document accepts.
func TestFleetSecretsAndPartStates(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes a few seconds")
	}
	const plain = "plc-pässwort-7f3a9c1e"
	ctx := t.Context()
	hubDir, edgeDir := t.TempDir(), t.TempDir()
	var hubLog, edgeLog logtest.Buffer
	h, c := startHub(t, hub.Config{DataDir: hubDir, Log: slog.New(slog.NewTextHandler(&hubLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	edgeID, token := newEdge(t, h, "packing")
	admin := c.token
	rec := newRecorder(t, h.URL())
	e, err := edge.Start(ctx, edge.Config{DataDir: edgeDir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: rec.URL, EnrollToken: token, ManifestPoll: 50 * time.Millisecond, HealthWindow: 3 * time.Second, Version: "0.9.0-test",
		Log: slog.New(slog.NewTextHandler(&edgeLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	// A window long enough for the input to connect on a loaded machine
	// (an input not connected at its end rolls the version back for good);
	// on failure, say what the edge reported.
	defer func() {
		if t.Failed() {
			t.Logf("the edge's desired state: %+v", e.Status().Desired)
		}
	}()
	type inventoried struct {
		Reported *struct {
			Report uplink.Report `json:"report"`
		} `json:"reported"`
	}
	var inv struct{ Edges []inventoried }
	waitFor(t, "the edge's first report", func() bool {
		c.do("GET", "/api/v1/fleet/edges", "", 200, &inv)
		return len(inv.Edges) == 1 && inv.Edges[0].Reported != nil
	})

	// The edge's capabilities follow Margo's schema.
	doc, _ := margoSpec(t, h.URL())
	caps, _ := json.Marshal(inv.Edges[0].Reported.Report.Capabilities)
	var capsDoc any
	_ = json.Unmarshal(caps, &capsDoc)
	if err := doc.Components.Schemas["DeviceCapabilitiesManifest"].Value.VisitJSON(capsDoc); err != nil {
		t.Errorf("the edge's capabilities %s do not follow Margo's schema: %v", caps, err)
	}

	// A secret is set once and never answered.
	broker := passwordBroker(t, "packer", plain)
	var refusal struct{ Error string }
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID+"/secrets/Broker", `{"value":"`+plain+`"}`, 400, &refusal)
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID+"/secrets/broker", `{"value":"`+plain+`"}`, 200, nil)
	pipe := `{"match":["packing/+/+/+/count"],"stages":[{"deadband":{"absolute":1}}]}`
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"inputs":{"packer":{"mqtt":{"url":"`+broker+`","username":"packer",
		"password":"${secret:broker}","subscriptions":[{"topic":"packing/#"}]}}},"pipelines":{"a":`+pipe+`,"b":`+pipe+`}}`, 200, nil)
	var detail struct {
		Desired struct {
			Manifest uplink.Manifest `json:"manifest"`
		} `json:"desired"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &detail)
	v1 := detail.Desired.Manifest
	sp, ok := v1.Part("secret/broker")
	if !ok || len(v1.Parts) != 4 {
		t.Fatalf("manifest: %+v", v1)
	}
	// Only the edge's key opens it.
	var sealed uplink.SealedSecret
	if err := json.Unmarshal(sp.Content, &sealed); err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := uplink.OpenSealed(otherKey, sealed.Sealed); err == nil {
		t.Error("another edge's key opens the secret")
	}
	waitFor(t, "the edge to install the manifest with the secret, its input connected", func() bool {
		d := e.Status().Desired
		if d.Version != v1.Version || len(d.Parts) != 4 {
			return false
		}
		for _, p := range d.Parts {
			if p.State != uplink.StateInstalled {
				return false
			}
		}
		return true
	})
	if ins := e.Status().Inputs; len(ins) != 1 || ins[0].State != "connected" {
		t.Fatalf("inputs: %+v", ins)
	}
	// The same secret keeps the same manifest: no new version.
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &detail)
	if detail.Desired.Manifest.Version != v1.Version || detail.Desired.Manifest.Digest != v1.Digest {
		t.Errorf("recomputed without a change: version %d, want %d", detail.Desired.Manifest.Version, v1.Version)
	}

	// A part the next manifest does not hold is removing, then removed.
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"inputs":{"packer":{"mqtt":{"url":"`+broker+`","username":"packer",
		"password":"${secret:broker}","subscriptions":[{"topic":"packing/#"}]}}},"pipelines":{"a":`+pipe+`}}`, 200, nil)
	waitFor(t, "pipeline b removed", func() bool {
		for _, p := range e.Status().Desired.Parts {
			if p.Name == "pipeline/b" && p.State == uplink.StateRemoved && !p.Since.IsZero() {
				return true
			}
		}
		return false
	})
	if !rec.reported("pipeline/b", uplink.StateRemoving) {
		t.Error("the edge did not report pipeline/b removing before it stopped")
	}
	waitFor(t, "the hub to hear pipeline b removed", func() bool { return rec.reported("pipeline/b", uplink.StateRemoved) })

	// A manifest that comes while another is within its health window
	// (an hour here) is pending until then.
	c.do("PUT", "/api/v1/fleet/layers/org", `{"settings":{"health_window":"1h"}}`, 200, nil)
	waitFor(t, "the hour-long health window to start", func() bool {
		for _, p := range e.Status().Desired.Parts {
			if p.Name == "setting/health_window" && p.State == uplink.StateInstalling {
				return true
			}
		}
		return false
	})
	c.do("PUT", "/api/v1/fleet/layers/org", `{"settings":{"health_window":"1h"},"pipelines":{"c":`+pipe+`}}`, 200, nil)
	waitFor(t, "pipeline c pending at the hub", func() bool {
		c.do("GET", "/api/v1/fleet/edges", "", 200, &inv)
		for _, p := range inv.Edges[0].Reported.Report.Manifest.Parts {
			if p.Name == "pipeline/c" && p.State == uplink.StatePending && strings.Contains(p.Error, "health window") {
				return true
			}
		}
		return false
	})

	// Nowhere in the clear: the API's answers, the logs, the files.
	var answers []string
	for _, p := range []string{"/api/v1/fleet/layers", "/api/v1/fleet/edges/" + edgeID, "/api/v1/fleet/edges", "/api/v1/audit"} {
		req, _ := http.NewRequest("GET", h.URL()+p, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers = append(answers, string(b))
	}
	var layers struct {
		Layers []struct {
			Scope   string
			Secrets []struct{ Name string }
		}
	}
	c.do("GET", "/api/v1/fleet/layers", "", 200, &layers)
	named := false
	for _, l := range layers.Layers {
		named = named || l.Scope == "edge" && len(l.Secrets) == 1 && l.Secrets[0].Name == "broker"
	}
	if !named {
		t.Errorf("the edge's layer does not name its secret: %+v", layers)
	}
	answers = append(answers, rec.all()...)
	answers = append(answers, hubLog.String(), edgeLog.String(), refusal.Error)
	for i, a := range answers {
		if strings.Contains(a, plain) {
			t.Errorf("answer, message or log %d holds the secret: %.300s", i, a)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{hubDir, edgeDir} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err == nil && bytes.Contains(b, []byte(plain)) {
				t.Errorf("%s holds the secret in the clear", path)
			}
			return nil
		})
	}
}
