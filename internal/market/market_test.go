package market

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
	"github.com/molen-io/molen/internal/uplink"
)

// world is a marketplace on a real fleet and metadata database: a
// provider "tools" with a registered key, companies acme (edge-a, in
// group presses) and beta (edge-b).
type world struct {
	m        *Service
	f        *fleet.Service
	provKey  ed25519.PrivateKey
	archive  []byte
	platform ed25519.PublicKey
}

// spcDir is the SPC service's package at version, with a stand-in
// module and an extra secret parameter.
func spcDir(t *testing.T, version string) string {
	t.Helper()
	return svcpacktest.SPC(t, append(slices.Clone(svcpacktest.StandIn), version...), func(b []byte) []byte {
		b = bytes.Replace(b, []byte("version: 1.0.0"), []byte("version: "+version), 1)
		return bytes.Replace(b, []byte("      parameters:\n"), []byte("      parameters:\n        - name: api_key\n          type: string\n          secret: true\n          label: {en: API key, nl: API-sleutel}\n"), 1)
	})
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	db := metatest.SQLite(t)
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	f, err := fleet.New(ctx, db, nil, now, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetSecretsKey(filepath.Join(t.TempDir(), "secrets.key")); err != nil {
		t.Fatal(err)
	}
	edgePub, _, _ := ed25519.GenerateKey(nil)
	for _, e := range []fleet.Edge{{ID: "edge-a", Org: "acme", Name: "press", PublicKey: uplink.EncodeKey(edgePub)}, {ID: "edge-b", Org: "beta", Name: "mould"}} {
		e.Created = now()
		if err := f.Insert(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SetPlace(ctx, "acme", "edge-a", fleet.Place{Labels: map[string]string{"line": "press"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.PutGroup(ctx, "acme", fleet.Group{Name: "presses", Selector: map[string]string{"line": ""}}); err != nil {
		t.Fatal(err)
	}
	platPub, platKey, _ := sign.GenerateKey()
	m, err := New(ctx, Config{DB: db, Fleet: f, Dir: t.TempDir(), Key: platKey, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f.SetServiceParts(m.ServiceParts)
	provPub, provKey, _ := sign.GenerateKey()
	pem, _ := sign.EncodePublicKey(provPub)
	if _, err := m.AddKey(ctx, "tools", "ci", string(pem), "usr_pub"); err != nil {
		t.Fatal(err)
	}
	archive, _, err := svcpack.Pack(spcDir(t, "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	return &world{m: m, f: f, provKey: provKey, archive: archive, platform: platPub}
}

// released publishes the world's archive as tools, and takes it through
// review to released.
func (w *world) released(t *testing.T, archive []byte) Version {
	t.Helper()
	ctx := t.Context()
	env, _, err := svcpack.Sign(w.provKey, archive, "tools")
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.m.Publish(ctx, "tools", "usr_pub", archive, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.Act(ctx, "provider", "tools", v.Listing, v.Version, "submit", "", "usr_pub"); err != nil {
		t.Fatal(err)
	}
	v, err = w.m.Act(ctx, "platform", "platform", v.Listing, v.Version, "release", "", "usr_ops")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPublishRefusesWhatIsNotTheProvidersOwn(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	good, _, err := svcpack.Sign(w.provKey, w.archive, "tools")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := sign.GenerateKey()
	byOther, _, _ := svcpack.Sign(otherKey, w.archive, "tools")
	asOther, _, _ := svcpack.Sign(w.provKey, w.archive, "rival")
	changed := bytes.Clone(w.archive)
	changed[len(changed)-10] ^= 0xff
	for _, c := range []struct {
		name    string
		org     string
		archive []byte
		env     sign.Envelope
		want    error
	}{
		{"a key not registered to the provider", "tools", w.archive, byOther, api.ErrBadRequest},
		{"a changed byte", "tools", changed, good, api.ErrBadRequest},
		{"signed under another provider's name", "tools", w.archive, asOther, api.ErrForbidden},
		{"another provider uploading tools' signed package", "rival", w.archive, good, api.ErrBadRequest},
	} {
		if _, err := w.m.Publish(ctx, c.org, "usr_x", c.archive, c.env); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		} else if c.name == "a changed byte" && !strings.Contains(err.Error(), "changed after it was signed") {
			t.Errorf("%s: %v, want it named", c.name, err)
		}
	}
	if _, err := w.m.Publish(ctx, "tools", "usr_pub", w.archive, good); err != nil {
		t.Fatalf("the provider's own package: %v", err)
	}
	// Versions are immutable: the same version again is refused.
	if _, err := w.m.Publish(ctx, "tools", "usr_pub", w.archive, good); !errors.Is(err, api.ErrConflict) {
		t.Errorf("the same version twice: got %v, want ErrConflict", err)
	}
	// The service's id is tools': a rival with its own key cannot publish
	// a version of it.
	rivalPub, rivalKey, _ := sign.GenerateKey()
	pem, _ := sign.EncodePublicKey(rivalPub)
	if _, err := w.m.AddKey(ctx, "rival", "k", string(pem), "usr_r"); err != nil {
		t.Fatal(err)
	}
	a2, _, _ := svcpack.Pack(spcDir(t, "1.0.1"))
	env2, _, _ := svcpack.Sign(rivalKey, a2, "rival")
	if _, err := w.m.Publish(ctx, "rival", "usr_r", a2, env2); !errors.Is(err, api.ErrForbidden) {
		t.Errorf("a rival publishing a version of tools' service: got %v, want ErrForbidden", err)
	}
}

func TestLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	env, _, _ := svcpack.Sign(w.provKey, w.archive, "tools")
	v, err := w.m.Publish(ctx, "tools", "usr_pub", w.archive, env)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != Draft {
		t.Fatalf("published as %s", v.State)
	}
	// Nobody sees a draft but its provider.
	if ls, _ := w.m.Catalogue(ctx, "acme", Filter{}); len(ls) != 0 {
		t.Errorf("acme sees a draft: %+v", ls)
	}
	if ls, _ := w.m.Catalogue(ctx, "tools", Filter{}); len(ls) != 1 {
		t.Errorf("tools does not see its draft: %+v", ls)
	}
	for _, c := range []struct {
		as, action string
		want       error
	}{
		{"provider", "release", api.ErrForbidden}, // a provider does not release its own
		{"platform", "submit", api.ErrForbidden},
		{"platform", "release", api.ErrConflict}, // not in review yet
		{"provider", "submit", nil},
		{"provider", "submit", api.ErrConflict},
		{"platform", "release", nil},
		{"provider", "deprecate", nil},
		{"platform", "revoke", nil},
		{"provider", "deprecate", api.ErrConflict},
	} {
		_, err := w.m.Act(ctx, c.as, "tools", v.Listing, v.Version, c.action, "", "usr")
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s %s: got %v, want %v", c.as, c.action, err, c.want)
		}
	}
	// Another provider's version is not there for tools' rival.
	if _, err := w.m.Act(ctx, "provider", "rival", v.Listing, v.Version, "submit", "", "usr"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a rival acting on tools' version: %v", err)
	}
}

func TestInstallRevokeAndTheEdgesDesiredState(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	v := w.released(t, w.archive)
	if v.State != Released || v.Countersign == nil {
		t.Fatalf("released: %+v", v)
	}
	// The countersignature is what an edge trusts.
	if _, err := svcpack.Verify(w.archive, v.SHA256, v.Signature, *v.Countersign, []ed25519.PublicKey{w.platform}); err != nil {
		t.Fatalf("the released version does not verify: %v", err)
	}
	req := InstallRequest{Service: "molen-spc", Scope: "edge", Target: "edge-a", Params: map[string]any{"baseline": 50, "api_key": "k-3f9a-secret"}, AcceptTerms: true}

	// Another company's edge: not found, as an edge that does not exist.
	other := req
	other.Target = "edge-b"
	if _, err := w.m.Installed(ctx, "acme", "usr_eng", other, false); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("install on beta's edge as acme: got %v, want ErrNotFound", err)
	}
	bad := req
	bad.Params = map[string]any{"baseline": 2}
	if _, err := w.m.Installed(ctx, "acme", "usr_eng", bad, false); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("a parameter out of range: %v", err)
	}
	noTerms := req
	noTerms.AcceptTerms = false
	if _, err := w.m.Installed(ctx, "acme", "usr_eng", noTerms, false); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("terms not accepted: %v", err)
	}
	in, err := w.m.Installed(ctx, "acme", "usr_eng", req, false)
	if err != nil {
		t.Fatal(err)
	}
	if in.Version != "1.0.0" || len(in.Secrets) != 1 || in.Params["api_key"] != nil {
		t.Fatalf("install %+v", in)
	}
	if len(in.Edges) != 1 || in.Edges[0].State != uplink.StatePending {
		t.Errorf("install's edges %+v, want edge-a pending", in.Edges)
	}
	d, err := w.f.Desired(ctx, "acme", "edge-a")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := d.Manifest.Part("service/molen-spc")
	if !ok {
		t.Fatalf("no service part in %v", d.Explain)
	}
	var si uplink.ServiceInstall
	if err := json.Unmarshal(p.Content, &si); err != nil {
		t.Fatal(err)
	}
	if si.SHA256 != v.SHA256 || si.URL != uplink.ServicePath+v.SHA256 || !strings.Contains(string(si.Params), "${secret:svc-molen-spc-api-key}") {
		t.Errorf("part content %s", p.Content)
	}
	if strings.Contains(string(p.Content), "k-3f9a-secret") {
		t.Errorf("the secret parameter is in the part: %s", p.Content)
	}
	// The edge's organisation may download the package; another may not.
	if _, err := w.m.Archive(ctx, "acme", v.SHA256); err != nil {
		t.Errorf("acme's download: %v", err)
	}
	if _, err := w.m.Archive(ctx, "beta", v.SHA256); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("beta's download of a package it did not install: %v", err)
	}

	// Revoked: the part leaves the edge's desired state, and the archive
	// is no longer served.
	if _, err := w.m.Act(ctx, "platform", "platform", "molen-spc", "1.0.0", "revoke", "unsafe", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	d2, err := w.f.Desired(ctx, "acme", "edge-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d2.Manifest.Part("service/molen-spc"); ok || d2.Manifest.Version <= d.Manifest.Version {
		t.Errorf("after the revocation: version %d (was %d), parts %v", d2.Manifest.Version, d.Manifest.Version, d2.Explain)
	}
	if _, err := w.m.Archive(ctx, "acme", v.SHA256); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a revoked package is served: %v", err)
	}
	if err := w.m.Uninstall(ctx, "acme", "molen-spc", "usr_eng"); err != nil {
		t.Fatal(err)
	}
}

func TestUpgradeKeepsSecretsAndGroupInstalls(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.released(t, w.archive)
	a2, _, err := svcpack.Pack(spcDir(t, "1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	w.released(t, a2)
	in, err := w.m.Installed(ctx, "acme", "usr_eng", InstallRequest{Name: "spc-presses", Service: "molen-spc", Version: "1.0.0", Scope: "group", Target: "presses",
		Params: map[string]any{"api_key": "k-1"}, AcceptTerms: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Edges) != 1 || in.Edges[0].Edge != "edge-a" {
		t.Errorf("the group's edges: %+v", in.Edges)
	}
	up, err := w.m.Installed(ctx, "acme", "usr_eng", InstallRequest{Version: "1.1.0", Params: map[string]any{"baseline": 40}, AcceptTerms: true}, true)
	if err == nil {
		t.Fatalf("an update without a name changed %+v", up)
	}
	up, err = w.m.Installed(ctx, "acme", "usr_eng", InstallRequest{Name: "spc-presses", Version: "1.1.0", Params: map[string]any{"baseline": 40}, AcceptTerms: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != "1.1.0" || len(up.Secrets) != 1 || up.Params["baseline"] != float64(40) && up.Params["baseline"] != 40 {
		t.Errorf("upgraded %+v", up)
	}
	d, err := w.f.Desired(ctx, "acme", "edge-a")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := d.Manifest.Part("service/spc-presses")
	if !ok || !strings.Contains(string(p.Content), `"version":"1.1.0"`) {
		t.Fatalf("part after the upgrade: %s", p.Content)
	}
	if _, ok := d.Manifest.Part("secret/svc-spc-presses-api-key"); !ok {
		t.Errorf("the secret parameter's part is not sealed for the edge: %v", d.Explain)
	}
}

// TestEUCatalogue: a released version's catalogue entry is public JSON-LD
// naming the published archive by its digest; a draft's and a revoked
// version's are not found.
func TestEUCatalogue(t *testing.T) {
	w := newWorld(t)
	w.m.cfg.PublicURL = func() string { return "https://hub.example.org" }
	get := func(id, version, format string) (*httptest.ResponseRecorder, error) {
		r := httptest.NewRequest("GET", "/api/v1/market/services/"+id+"/versions/"+version+"/catalogue?format="+format, nil)
		r.SetPathValue("id", id)
		r.SetPathValue("version", version)
		rec := httptest.NewRecorder()
		return rec, w.m.euCatalogue(rec, r, api.Principal{})
	}
	env, _, _ := svcpack.Sign(w.provKey, w.archive, "tools")
	v, err := w.m.Publish(t.Context(), "tools", "usr_pub", w.archive, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(v.Listing, v.Version, "dcat"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a draft's entry: %v, want not found", err)
	}
	w.m.Act(t.Context(), "provider", "tools", v.Listing, v.Version, "submit", "", "usr_pub")
	if _, err := w.m.Act(t.Context(), "platform", "platform", v.Listing, v.Version, "release", "", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ format, want string }{{"dcat", "DataService"}, {"gaiax", "ServiceOffering"}} {
		rec, err := get(v.Listing, v.Version, c.format)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		body := rec.Body.String()
		if ct := rec.Header().Get("Content-Type"); ct != "application/ld+json" {
			t.Errorf("%s: content type %q", c.format, ct)
		}
		if !json.Valid(rec.Body.Bytes()) || !strings.Contains(body, c.want) ||
			!strings.Contains(body, "https://hub.example.org/api/v1/edge/services/"+v.SHA256) {
			t.Errorf("%s: the entry lacks %s or the package by its digest %s:\n%s", c.format, c.want, v.SHA256, body)
		}
	}
	if _, err := get(v.Listing, v.Version, "rdfxml"); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("an unknown format: %v, want a bad request", err)
	}
	if _, err := w.m.Act(t.Context(), "platform", "platform", v.Listing, v.Version, "revoke", "", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(v.Listing, v.Version, "dcat"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a revoked version's entry: %v, want not found", err)
	}
}

// TestTermsAreADataSharingGrant: accepting a service's terms at an install
// (through the API) records a data-sharing grant naming the provider, the
// data that leaves the edge as the version declares it, the terms' sha256,
// who accepted and when; another company does not see it; an install
// without the terms accepted is refused and records none; a change of
// version, an uninstall and a revocation each end the grant in force.
func TestTermsAreADataSharingGrant(t *testing.T) {
	w := newWorld(t)
	egress := func(version string) []byte {
		a, _, err := svcpack.Pack(svcpacktest.SPC(t, append(slices.Clone(svcpacktest.StandIn), version...), func(b []byte) []byte {
			b = bytes.Replace(b, []byte("version: 1.0.0"), []byte("version: "+version), 1)
			return bytes.Replace(b, []byte("        events: [spc]\n"), []byte("        events: [spc]\n        egress:\n          - {to: tools.example, data: SPC alarms, purpose: remote advice}\n"), 1)
		}))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	w.released(t, egress("2.0.0"))
	w.released(t, egress("2.1.0"))
	eng := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, User: "usr_eng"}
	call := func(method, path, body string, p api.Principal, h func(*http.Request, api.Principal) (any, error), name string) (any, error) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if name != "" {
			r.SetPathValue("name", name)
		}
		return h(r, p)
	}
	grants := func(p api.Principal) []DataGrant {
		t.Helper()
		got, err := call("GET", "/api/v1/market/grants", "", p, w.m.listGrants, "")
		if err != nil {
			t.Fatal(err)
		}
		return got.(map[string]any)["grants"].([]DataGrant)
	}
	body := `{"name": "spc-share", "service": "molen-spc", "version": "2.0.0", "scope": "edge", "target": "edge-a", "params": {}`
	if _, err := call("POST", "/api/v1/market/installs", body+`}`, eng, w.m.install, ""); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "accept_terms") {
		t.Errorf("an install without the terms accepted: %v, want refused", err)
	}
	if gs := grants(eng); len(gs) != 0 {
		t.Errorf("a refused install recorded grants %+v", gs)
	}
	if _, err := call("POST", "/api/v1/market/installs", body+`, "accept_terms": true}`, eng, w.m.install, ""); err != nil {
		t.Fatal(err)
	}
	gs := grants(eng)
	if len(gs) != 1 {
		t.Fatalf("grants %+v, want one", gs)
	}
	g := gs[0]
	in, _ := w.m.Install(t.Context(), "acme", "spc-share")
	want := []Egress{{To: "tools.example", Data: "SPC alarms", Purpose: "remote advice"}}
	if !g.Active || g.Provider != "tools" || g.Service != "molen-spc" || g.Version != "2.0.0" || g.Install != "spc-share" ||
		g.AcceptedBy != "usr_eng" || !g.Accepted.Equal(time.Unix(1_800_000_000, 0)) || g.TermsSHA256 != in.TermsSHA256 || len(g.TermsSHA256) != 64 ||
		!slices.Equal(g.Egress, want) {
		t.Errorf("grant %+v, want tools' for spc-share 2.0.0 with %v, accepted by usr_eng", g, want)
	}
	if gs := grants(api.Principal{Org: "beta", Role: api.RoleAdmin, User: "usr_b"}); len(gs) != 0 {
		t.Errorf("beta sees acme's grants: %+v", gs)
	}

	// Another version: its terms accepted anew, the first grant ended.
	if _, err := call("PUT", "/api/v1/market/installs/spc-share", `{"version": "2.1.0", "accept_terms": true}`, eng, w.m.changeInstall, "spc-share"); err != nil {
		t.Fatal(err)
	}
	gs = grants(eng)
	if len(gs) != 2 || gs[0].Version != "2.1.0" || !gs[0].Active || gs[1].Active || gs[1].EndReason != EndChanged {
		t.Errorf("after the change of version: %+v", gs)
	}
	// Revoking 2.1.0 ends its grant.
	if _, err := w.m.Act(t.Context(), "platform", "platform", "molen-spc", "2.1.0", "revoke", "", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	for _, g := range grants(eng) {
		if g.Version == "2.1.0" && (g.Active || g.EndReason != EndRevoked || g.EndedBy != "usr_ops" || g.Ended == nil) {
			t.Errorf("after the revocation: %+v", g)
		}
	}
	// An uninstall ends the grant in force.
	if _, err := call("POST", "/api/v1/market/installs", `{"name": "spc-two", "service": "molen-spc", "version": "2.0.0", "scope": "edge", "target": "edge-a", "params": {}, "accept_terms": true}`, eng, w.m.install, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := call("DELETE", "/api/v1/market/installs/spc-two", "", eng, w.m.uninstall, "spc-two"); err != nil {
		t.Fatal(err)
	}
	for _, g := range grants(eng) {
		if g.Install == "spc-two" && (g.Active || g.EndReason != EndUninstalled || g.EndedBy != "usr_eng") {
			t.Errorf("after the uninstall: %+v", g)
		}
	}
}

// TestInstallsBeforeGrantsGetTheirGrant: an install made before accepted
// terms were grants gets its grant when the marketplace starts (accepted
// by whom and when the install says); one of a revoked version does not.
func TestInstallsBeforeGrantsGetTheirGrant(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.released(t, w.archive)
	a2, _, err := svcpack.Pack(spcDir(t, "1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	w.released(t, a2)
	for _, in := range []InstallRequest{{Name: "old", Version: "1.0.0"}, {Name: "gone", Version: "1.1.0"}} {
		in.Service, in.Scope, in.Target, in.Params, in.AcceptTerms = "molen-spc", "edge", "edge-a", map[string]any{"api_key": "k"}, true
		if _, err := w.m.Installed(ctx, "acme", "usr_eng", in, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.m.Act(ctx, "platform", "platform", "molen-spc", "1.1.0", "revoke", "", "usr_ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.cfg.DB.ExecContext(ctx, `DELETE FROM market_grants`); err != nil {
		t.Fatal(err)
	}
	m, err := New(ctx, w.m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := m.DataGrants(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Install != "old" || !gs[0].Active || gs[0].AcceptedBy != "usr_eng" || gs[0].Provider != "tools" {
		t.Errorf("grants after the start: %+v, want old's in force", gs)
	}
}
