package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// TestGrants: a hub reads a company's data only under a grant in force —
// the kind it covers, under its prefix — and the company's log shows who
// read what; a revoked grant reads nothing, with the answer of data that
// does not exist.
func TestGrants(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	// More acme data, outside the granted prefix too.
	e := w.must(t, w.c["svc-admin"], "POST", "/api/v1/edges", `{"name":"second"}`, 201)
	en, err := (&uplink.Client{URL: w.base}).Enroll(ctx, e["enroll_token"].(string), "")
	if err != nil {
		t.Fatal(err)
	}
	pts := []uns.Point{{Series: "acme-other/office/meter/kwh", TS: time.Now().UnixNano(), Value: uns.Float(3)}}
	if _, err := (&uplink.Client{URL: w.base, Credential: en.Credential}).Send(ctx, uplink.Batch{Stream: "points/y",
		Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
		t.Fatal(err)
	}
	// The hub's people: the advisor in its own organisation, and a token.
	hub := login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor)
	temp := "acme-site/hall/line-1/press/temp"
	tests := []struct {
		path string
		code int
	}{
		{"/api/v1/latest?org=acme&prefix=acme-site", 200},
		{"/api/v1/latest?org=acme", 200}, // narrowed to the granted prefix
		{"/api/v1/query?org=acme&agg=raw&from=0&to=now&series=" + temp, 200},
		{"/api/v1/query?org=acme&agg=avg&from=-1h&to=now&step=1m&series=" + temp, 200},
		{"/api/v1/series?org=acme", 200},
		{"/api/v1/export?org=acme&from=0&to=now&series=" + temp, 200},
		{"/api/v1/latest?org=acme&prefix=acme-other", 404},
		{"/api/v1/query?org=acme&agg=raw&from=0&to=now&series=acme-other/office/meter/kwh", 404},
		{"/api/v1/latest?org=beta", 404},
		{"/api/v1/latest?org=nonexistent", 404},
	}
	for _, tt := range tests {
		code, body := call(t, w.base, hub, "GET", tt.path, "")
		if code != tt.code {
			t.Errorf("%s: %d %.300s, want %d", tt.path, code, body, tt.code)
		}
		if code == 200 && strings.Contains(body, "acme-other") {
			t.Errorf("%s: answers data outside the grant: %.300s", tt.path, body)
		}
		if code == 200 && strings.HasPrefix(tt.path, "/api/v1/latest") && !strings.Contains(body, temp) {
			t.Errorf("%s: %s, want the granted series", tt.path, body)
		}
	}
	// The company sees who read what.
	entries := w.must(t, w.c["svc-admin"], "GET", "/api/v1/audit?action=data.read", "", 200)["entries"].([]any)
	if len(entries) != 6 {
		t.Fatalf("acme's log has %d reads, want 6: %v", len(entries), entries)
	}
	first := entries[0].(map[string]any)
	if first["actor_org"] != "edih-a" || first["detail"].(map[string]any)["grant"] != w.ids["grant"] {
		t.Errorf("read entry: %v", first)
	}
	// Record times are RFC 3339 strings in UTC, not unix milliseconds
	// (docs/api.md).
	utc := func(what string, v any) {
		t.Helper()
		s, _ := v.(string)
		if at, err := time.Parse(time.RFC3339Nano, s); err != nil || at.Location() != time.UTC || at.Year() < 2020 {
			t.Errorf("%s = %#v, want an RFC 3339 time in UTC", what, v)
		}
	}
	utc("audit entry at", first["at"])
	given := w.must(t, w.c["admin"], "GET", "/api/v1/grants", "", 200)["given"].([]any)
	if len(given) == 0 {
		t.Fatal("acme gave no grants")
	}
	for _, k := range []string{"created", "expires"} {
		utc("grant "+k, given[0].(map[string]any)[k])
	}

	// A kpi grant does not open raw points; revoking ends everything at once.
	w.must(t, w.c["admin"], "DELETE", "/api/v1/grants/"+w.ids["grant"], "", 200)
	revoked := 0
	for _, g := range w.must(t, w.c["admin"], "GET", "/api/v1/grants", "", 200)["given"].([]any) {
		if g := g.(map[string]any); g["id"] == w.ids["grant"] {
			utc("grant revoked", g["revoked"])
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("the revoked grant is listed %d times, want once", revoked)
	}
	w.must(t, w.c["admin"], "POST", "/api/v1/grants", `{"grantee":"edih-a","kind":"kpi","prefix":"acme-site","expires":"30d"}`, 201)
	hub = login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor)
	for path, want := range map[string]int{
		"/api/v1/latest?org=acme&prefix=acme-site":                      404,
		"/api/v1/query?org=acme&agg=avg&from=-1h&to=now&series=" + temp: 404,
		"/api/v1/oee?org=acme&prefix=acme-site":                         200,
		"/api/v1/downtime/pareto?org=acme":                              200,
	} {
		if code, body := call(t, w.base, hub, "GET", path, ""); code != want {
			t.Errorf("under a kpi grant, %s: %d %.200s, want %d", path, code, body, want)
		}
	}
	// Other organisations never: beta has no grant.
	if code, _ := call(t, w.base, w.c["beta"], "GET", "/api/v1/oee?org=acme", ""); code != 404 {
		t.Errorf("beta reading acme's kpi: %d", code)
	}
	// Grants only go up the tree: acme cannot grant beta.
	if code, body := call(t, w.base, w.c["admin"], "POST", "/api/v1/grants", `{"grantee":"beta","kind":"kpi","prefix":"","expires":"30d"}`); code != 404 {
		t.Errorf("grant to a sibling: %d %s", code, body)
	}
}

// TestDelegation: an advisor acts for a company only with its consent,
// with the role it gave, until it ends or is revoked; each action is in
// the company's log and the hub's, under both names.
func TestDelegation(t *testing.T) {
	w := newWorld(t)
	adv := w.c["advisor-as-acme"]
	if code, body := call(t, w.base, adv, "GET", "/api/v1/latest", ""); code != 200 || !strings.Contains(body, "acme-site") {
		t.Errorf("advisor reading acme: %d %.200s", code, body)
	}
	if code, _ := call(t, w.base, adv, "POST", "/api/v1/edges", `{"name":"x"}`); code != 403 {
		t.Errorf("advisor as viewer registering an edge: %d", code)
	}
	who := w.must(t, adv, "GET", "/api/v1/whoami", "", 200)
	if who["org"] != "acme" || who["via"] != "edih-a" || who["role"] != "viewer" {
		t.Errorf("whoami: %v", who)
	}
	// Both logs name the advisor and both organisations.
	for org, c := range map[string]caller{"acme": w.c["svc-admin"]} {
		entries := w.must(t, c, "GET", "/api/v1/audit?action=delegated.request", "", 200)["entries"].([]any)
		if len(entries) < 2 || entries[0].(map[string]any)["actor_org"] != "edih-a" {
			t.Errorf("%s's log: %v", org, entries)
		}
	}
	hubLog, err := w.AuditLog().List(t.Context(), "edih-a", auditQuery("delegated.request"))
	if err != nil || len(hubLog) < 2 || hubLog[0].Detail["for"] != "acme" {
		t.Errorf("the hub's log: %+v, %v", hubLog, err)
	}
	// No consent, no entry: beta gave none.
	if code, _ := call(t, w.base, login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor), "POST", "/api/v1/auth/switch", `{"org":"beta"}`); code != 404 {
		t.Errorf("switching to a company without consent: %d, want 404", code)
	}
	// Revoked: the delegated session stops at once.
	w.must(t, w.c["owner"], "DELETE", "/api/v1/delegations/"+w.ids["delegation"], "", 200)
	if code, _ := call(t, w.base, adv, "GET", "/api/v1/latest", ""); code != 401 {
		t.Errorf("advisor after revocation: %d, want 401", code)
	}
}

func auditQuery(action string) audit.Query { return audit.Query{Action: action} }
