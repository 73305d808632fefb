package hub_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// client calls a hub's API.
type client struct {
	t   *testing.T
	url string
}

func (c client) do(method, path, secret string, body string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// apiHub is a hub on SQLite with, besides the default organisation and
// its admin, an organisation "b" with an admin token and a viewer of the
// default one, and an enrolled edge of the default organisation.
type apiHub struct {
	*hub.Hub
	client
	admin, viewer, adminB, cred string
}

func startAPIHub(t *testing.T) *apiHub {
	t.Helper()
	return startAPIHubWith(t, hub.Config{})
}

// testNow is the clock of hubs of eachBackend: data of the tests is of
// November 2023, which retention at start must not remove.
func testNow() time.Time { return time.Unix(1_700_000_600, 0) }

// eachBackend runs test with an apiHub on each storage backend: the
// embedded one, and PostgreSQL when MOLEN_TEST_POSTGRES names a server.
// Their clock is testNow.
func eachBackend(t *testing.T, test func(t *testing.T, h *apiHub)) {
	t.Run("embedded", func(t *testing.T) { test(t, startAPIHubWith(t, hub.Config{Now: testNow})) })
	t.Run("postgres", func(t *testing.T) {
		dsn := metatest.DSN(t)
		test(t, startAPIHubWith(t, hub.Config{Now: testNow, Store: dsn, StoreSchema: metatest.Schema(t, dsn)}))
	})
}

// startAPIHubWith is startAPIHub with cfg's storage and clock.
func startAPIHubWith(t *testing.T, cfg hub.Config) *apiHub {
	t.Helper()
	ctx := t.Context()
	cfg.DataDir, cfg.Listen, cfg.Out = t.TempDir(), "127.0.0.1:0", io.Discard
	h, err := hub.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	a := &apiHub{Hub: h, client: client{t: t, url: h.URL()}}
	if a.admin, err = h.AdminToken(); err != nil {
		t.Fatal(err)
	}
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: "b", Name: "B", Kind: auth.Company}); err != nil {
		t.Fatal(err)
	}
	if a.adminB, err = h.Auth().NewToken(ctx, "b", api.RoleAdmin, "b-admin"); err != nil {
		t.Fatal(err)
	}
	if a.viewer, err = h.Auth().NewToken(ctx, hub.DefaultOrg, api.RoleViewer, "wall"); err != nil {
		t.Fatal(err)
	}
	_, token, err := h.CreateEdge(ctx, "line-1")
	if err != nil {
		t.Fatal(err)
	}
	en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	a.cred = en.Credential
	return a
}

// TestAuth checks which secret opens which route across the domains.
func TestAuth(t *testing.T) {
	h := startAPIHub(t)
	tests := []struct {
		name, method, path, secret string
		code                       int
	}{
		{"no token", "GET", "/api/v1/latest", "", 401},
		{"unknown token", "GET", "/api/v1/latest", "mlt_nope", 401},
		{"edge credential as API token", "GET", "/api/v1/latest", h.cred, 401},
		{"viewer reads", "GET", "/api/v1/latest", h.viewer, 200},
		{"viewer cannot create edges", "POST", "/api/v1/edges", h.viewer, 403},
		{"viewer cannot list edges", "GET", "/api/v1/edges", h.viewer, 403},
		{"uplink without credential", "POST", "/api/v1/uplink", "", 401},
		{"uplink with an API token", "POST", "/api/v1/uplink", h.admin, 401},
		{"healthz", "GET", "/healthz", "", 200},
		{"web UI", "GET", "/", "", 200},
		{"metrics", "GET", "/metrics", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := h.do(tt.method, tt.path, tt.secret, `{"name":"x"}`); code != tt.code {
				t.Errorf("%s %s = %d %v, want %d", tt.method, tt.path, code, body, tt.code)
			}
		})
	}
}

// TestOrganisationsAreIsolated: an edge of another organisation is
// invisible and cannot be revoked, and its data cannot be read.
func TestOrganisationsAreIsolated(t *testing.T) {
	h := startAPIHub(t)
	_, created := h.do("POST", "/api/v1/edges", h.adminB, `{"name":"b-edge"}`)
	id := created["id"].(string)
	if code, _ := h.do("POST", "/api/v1/edges/"+id+"/revoke", h.admin, ""); code != 404 {
		t.Errorf("the default organisation revoking b's edge: %d, want 404", code)
	}
	_, list := h.do("GET", "/api/v1/edges", h.admin, "")
	if strings.Contains(strings.Join(edgeIDs(list), ","), id) {
		t.Errorf("the default organisation lists b's edge: %v", list)
	}
	// What the default organisation's edge sends, b does not see.
	c := &uplink.Client{URL: h.URL(), Credential: h.cred}
	b := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, []uns.Point{{Series: "x/y", TS: 1, Value: uns.Int(1)}})}}}
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	for secret, want := range map[string]int{h.admin: 1, h.adminB: 0} {
		_, body := h.do("GET", "/api/v1/latest", secret, "")
		if pts, _ := body["points"].([]any); len(pts) != want {
			t.Errorf("latest points seen: %d, want %d", len(pts), want)
		}
	}
}

func edgeIDs(list map[string]any) []string {
	var ids []string
	edges, _ := list["edges"].([]any)
	for _, e := range edges {
		ids = append(ids, e.(map[string]any)["id"].(string))
	}
	return ids
}

// TestRevokedEdge: a revoked edge's uplinks get a 401 that says why.
func TestRevokedEdge(t *testing.T) {
	h := startAPIHub(t)
	c := &uplink.Client{URL: h.URL(), Credential: h.cred}
	batch := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, []uns.Point{{Series: "x/y", TS: 1, Value: uns.Int(1)}})}}}
	if _, err := c.Send(t.Context(), batch); err != nil {
		t.Fatalf("send with fresh credential: %v", err)
	}
	_, list := h.do("GET", "/api/v1/edges", h.admin, "")
	if code, _ := h.do("POST", "/api/v1/edges/"+edgeIDs(list)[0]+"/revoke", h.admin, ""); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	batch.Records[0].Seq = 2
	if _, err := c.Send(t.Context(), batch); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("send after revocation: %v, want a 401 saying revoked", err)
	}
	// The enrollment and the revocation are in the organisation's audit log.
	_, log := h.do("GET", "/api/v1/audit", h.admin, "")
	var actions []string
	for _, e := range log["entries"].([]any) {
		e := e.(map[string]any)
		actions = append(actions, e["action"].(string)+" "+e["target"].(string))
	}
	got := strings.Join(actions, "; ")
	if !strings.Contains(got, "edge.enrolled edge-") || !strings.Contains(got, "edge.revoked "+edgeIDs(list)[0]) {
		t.Errorf("audit log: %s", got)
	}
}
