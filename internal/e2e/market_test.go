package e2e

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/market/markettest"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
	"github.com/molen-io/molen/internal/uplink"
)

// spcArchive builds the SPC service (services/spc) and packs it.
func spcArchive(t *testing.T) []byte {
	t.Helper()
	dir := svcpacktest.SPC(t, nil, nil)
	archive, _, err := svcpack.Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	return archive
}

// servicePipelines are the names of the edge's running pipelines.
func pipelines(e *edge.Edge) []string {
	var out []string
	if p := e.Status().Pipeline; p != nil {
		for _, s := range p.Stats.Pipelines {
			out = append(out, s.Name)
		}
	}
	return out
}

// TestMarketInstallAndRevokeOnAnOfflineEdge runs a real hub and a real
// edge: a provider publishes the SPC service, the platform releases it, a
// company installs it on its edge, which downloads it with its own
// identity (waiting while the hub fails to serve it), verifies it and
// runs it as a pipeline (a plain edge: it trusts the marketplace key the
// hub named when it enrolled, and keeps it); the edge goes offline,
// the version is revoked, and when the edge returns the service leaves
// it, and the install's state says so.
func TestMarketInstallAndRevokeOnAnOfflineEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run builds a module and takes a few seconds")
	}
	ctx := t.Context()
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	m := h.Market()
	v := releasedSPC(t, h, spcArchive(t))
	// The edge reaches the hub through a proxy that fails the package's
	// download at first: the edge's manifest waits for it, and takes it
	// once the download works.
	var failing atomic.Bool
	failing.Store(true)
	hubURL, _ := url.Parse(h.URL())
	rp := httputil.NewSingleHostReverseProxy(hubURL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && strings.HasPrefix(r.URL.Path, uplink.ServicePath) {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	edgeID, token := newEdge(t, h, "press")
	edgeDir := t.TempDir()
	var edgeLog logtest.Buffer
	cfg := edge.Config{DataDir: edgeDir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0", HubURL: proxy.URL, EnrollToken: token,
		ManifestPoll: 50 * time.Millisecond, HealthWindow: 500 * time.Millisecond, Version: "0.9.0-test",
		Log: slog.New(slog.NewTextHandler(&edgeLog, nil))}
	e, err := edge.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	defer func() {
		if t.Failed() {
			t.Logf("edge log:\n%s", edgeLog.String())
		}
	}()

	c.do("POST", "/api/v1/market/installs", `{"service":"molen-spc","scope":"edge","target":"`+edgeID+`","params":{"mean":20,"sigma":1},"match":["f/+/diameter"],"accept_terms":true}`, 201, nil)
	state := func() string {
		var in market.Install
		c.do("GET", "/api/v1/market/installs/molen-spc", "", 200, &in)
		if len(in.Edges) != 1 {
			t.Fatalf("install's edges: %+v", in.Edges)
		}
		return in.Edges[0].State
	}
	waitFor(t, "the manifest waiting for its package", func() bool {
		return strings.Contains(e.Status().Desired.PendingReason, "waits for a service package")
	})
	failing.Store(false)
	waitFor(t, "the service installed on the edge", func() bool { return state() == "installed" })
	if !slices.Contains(pipelines(e), "service-molen-spc") {
		t.Fatalf("the edge runs %v, want the service's pipeline", pipelines(e))
	}
	if _, err := os.Stat(filepath.Join(edgeDir, "services", v.SHA256, "spc.wasm")); err != nil {
		t.Fatalf("the package is not unpacked on the edge: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(edgeDir, "credential.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cred struct {
		MarketKeys []string `json:"market_keys"`
	}
	if err := json.Unmarshal(b, &cred); err != nil || !slices.Equal(cred.MarketKeys, []string{uplink.EncodeKey(m.PublicKey())}) {
		t.Fatalf("the edge's credential keeps market keys %v (%v), want the hub's", cred.MarketKeys, err)
	}

	// Offline, the version is revoked; back, the edge drops it.
	e.Close()
	if _, err := m.Act(ctx, "platform", "platform", v.Listing, v.Version, "revoke", "a flaw", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	cfg.EnrollToken = ""
	if e, err = edge.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked service removed from the returning edge", func() bool { return state() == "removed" })
	if slices.Contains(pipelines(e), "service-molen-spc") {
		t.Fatalf("the edge still runs the revoked service: %v", pipelines(e))
	}
}

// releasedSPC publishes archive as the provider "tools" on h and takes
// it through review to released.
func releasedSPC(t *testing.T, h *hub.Hub, archive []byte) market.Version {
	t.Helper()
	ctx := t.Context()
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: "tools", Name: "Tools", Kind: auth.Provider, Parent: auth.PlatformOrg}); err != nil {
		t.Fatal(err)
	}
	return markettest.Released(t, h.Market(), "tools", archive)
}

// TestMarketEdgeRefusesAPackageItsKeysDoNotVerify: an edge that trusts
// another marketplace key than the hub's (as an edge would whose hub
// countersigned with a stolen or foreign key) downloads the package,
// refuses it before anything of it loads, reports the part failed with
// the reason, and keeps nothing of it.
func TestMarketEdgeRefusesAPackageItsKeysDoNotVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	ctx := t.Context()
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	// The SPC package with a stand-in module: the edge must refuse it
	// before it would ever compile it.
	archive, _, err := svcpack.Pack(svcpacktest.SPC(t, svcpacktest.StandIn, nil))
	if err != nil {
		t.Fatal(err)
	}
	v := releasedSPC(t, h, archive)
	other, _, _ := sign.GenerateKey()
	edgeID, token := newEdge(t, h, "press")
	edgeDir := t.TempDir()
	e, err := edge.Start(ctx, edge.Config{DataDir: edgeDir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0", HubURL: h.URL(), EnrollToken: token,
		ManifestPoll: 50 * time.Millisecond, HealthWindow: 500 * time.Millisecond, Version: "0.9.0-test",
		MarketKeys: []ed25519.PublicKey{other}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c.do("POST", "/api/v1/market/installs", `{"service":"molen-spc","scope":"edge","target":"`+edgeID+`","accept_terms":true}`, 201, nil)
	var in market.Install
	waitFor(t, "the part reported failed", func() bool {
		c.do("GET", "/api/v1/market/installs/molen-spc", "", 200, &in)
		return len(in.Edges) == 1 && in.Edges[0].State == "failed"
	})
	if !strings.Contains(in.Edges[0].Error, "countersignature") {
		t.Errorf("the reason: %q", in.Edges[0].Error)
	}
	if slices.Contains(pipelines(e), "service-molen-spc") {
		t.Error("the edge runs the refused package")
	}
	for _, name := range []string{v.SHA256, v.SHA256 + svcpack.Ext} {
		if _, err := os.Stat(filepath.Join(edgeDir, "services", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the edge keeps %s of the refused package: %v", name, err)
		}
	}
}
