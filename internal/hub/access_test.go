package hub_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

var update = flag.Bool("update", false, "rewrite testdata/routes.golden from the hub's routes")

// caller is who calls a route: a bearer secret, or a session cookie with
// its CSRF token.
type caller struct {
	name           string
	bearer         string
	cookie, csrf   string
	role           api.Role // for the policy levels
	area           string   // a token scoped to one area: its role counts there alone
	token, session bool
}

// call sends a request as c and returns the status and the body.
func call(t testing.TB, base string, c caller, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: c.cookie})
		req.Header.Set(api.CSRFHeader, c.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A live stream never ends: its status and its first message (a
		// comment naming the prefix) are the answer.
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		return resp.StatusCode, line
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// decode reads a JSON object of an answer.
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %.200s", err, body)
	}
	return out
}

const testPassword = "twelve chars at least, and more"

// login signs a person in through the API and returns their session.
func login(t *testing.T, base, email string, role api.Role) caller {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, testPassword)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("login of %s: %d %s", email, resp.StatusCode, b)
	}
	c := caller{name: email + " (session)", role: role, session: true}
	for _, ck := range resp.Cookies() {
		if ck.Name == api.SessionCookie {
			c.cookie = ck.Value
		}
	}
	c.csrf, _ = decode(t, string(b))["csrf"].(string)
	if c.cookie == "" || c.csrf == "" {
		t.Fatalf("login of %s set no session: %s", email, b)
	}
	return c
}

// world is a hub with a hub organisation (edih-a), two companies below it
// (acme and beta), a platform admin, people of every role in acme, an
// advisor of edih-a acting for acme by its consent, tokens of every kind,
// and one object of each kind in acme.
type world struct {
	*hub.Hub
	base    string
	ids     map[string]string // path parameter → an acme object's ID
	markers []string          // what of acme beta must never see
	c       map[string]caller
	unauth  []caller // credentials that authenticate nobody
	edgeB   string   // beta's edge credential
}

func (w *world) must(t *testing.T, c caller, method, path, body string, want int) map[string]any {
	t.Helper()
	code, b := call(t, w.base, c, method, path, body)
	if code != want {
		t.Fatalf("%s %s as %s: %d %s, want %d", method, path, c.name, code, b, want)
	}
	return decode(t, b)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	off := api.Rate{PerSecond: -1}
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Rates: hub.Rates{Address: off, Org: off, Caller: off, Edge: off, SignIn: off}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	w := &world{Hub: h, base: h.URL(), ids: map[string]string{}, c: map[string]caller{}}
	a := h.Auth()
	for _, o := range []auth.Org{
		{ID: "edih-a", Name: "EDIH A", Kind: auth.Hub, Parent: auth.PlatformOrg},
		{ID: "acme", Name: "Acme Metaal", Kind: auth.Company, Parent: "edih-a"},
		{ID: "beta", Name: "Beta Kunststof", Kind: auth.Company, Parent: "edih-a"},
		{ID: "tools", Name: "Tools BV", Kind: auth.Provider, Parent: auth.PlatformOrg},
	} {
		if err := a.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	people := []struct {
		key, email, org string
		role            api.Role
	}{
		{"owner", "owner@acme.test", "acme", api.RoleOwner},
		{"admin", "admin@acme.test", "acme", api.RoleAdmin},
		{"engineer", "engineer@acme.test", "acme", api.RoleEngineer},
		{"viewer", "viewer@acme.test", "acme", api.RoleViewer},
		{"beta", "admin@beta.test", "beta", api.RoleAdmin},
		{"advisor", "advisor@edih-a.test", "edih-a", api.RoleAdvisor},
		{"platform", "ops@platform.test", auth.PlatformOrg, api.RolePlatformAdmin},
		{"publisher", "pub@tools.test", "tools", api.RolePublisher},
	}
	userIDs := map[string]string{}
	for _, p := range people {
		u, err := a.CreateUser(ctx, p.email, "Person "+p.key, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.AddMember(ctx, u.ID, p.org, p.role); err != nil {
			t.Fatal(err)
		}
		userIDs[p.key] = u.ID
		w.c[p.key] = login(t, w.base, p.email, p.role)
	}
	w.markers = append(w.markers, "acme-site", "@acme.test", "Acme Metaal", userIDs["owner"], userIDs["admin"], userIDs["engineer"], userIDs["viewer"])

	// Tokens of acme: its admin's own, by scope, and service accounts by
	// role.
	admin := w.c["admin"]
	token := func(key string, role api.Role, body string) {
		t.Helper()
		out := w.must(t, admin, "POST", "/api/v1/tokens", body, 201)
		w.c[key] = caller{name: key + " (token)", bearer: out["token"].(string), role: role, token: true}
		w.markers = append(w.markers, out["id"].(string))
	}
	token("admin-read", api.RoleViewer, `{"name":"read","scopes":"read"}`)
	token("admin-write", api.RoleEngineer, `{"name":"write","scopes":"write"}`)
	token("admin-token", api.RoleAdmin, `{"name":"all","scopes":"admin"}`)
	token("svc-viewer", api.RoleViewer, `{"name":"wall","scopes":"read","service_account":true,"role":"viewer"}`)
	token("svc-engineer", api.RoleEngineer, `{"name":"ci","scopes":"write","service_account":true,"role":"engineer"}`)
	token("svc-admin", api.RoleAdmin, `{"name":"ops","scopes":"admin","service_account":true,"role":"admin"}`)
	token("fleet-admin", api.RoleAdmin, `{"name":"fleet","scopes":"fleet:admin","service_account":true,"role":"admin"}`)
	w.c["fleet-admin"] = caller{name: "fleet-admin (token)", bearer: w.c["fleet-admin"].bearer, role: api.RoleAdmin, area: "fleet", token: true}
	tokens := w.must(t, admin, "GET", "/api/v1/tokens", "", 200)["tokens"].([]any)
	w.ids["token"] = tokens[0].(map[string]any)["id"].(string)

	// Credentials that authenticate nobody: unknown, expired, revoked, a
	// session that signed out, the wrong kind.
	expired := secret.New(secret.PrefixToken)
	if err := a.CreateToken(ctx, auth.Token{Hash: secret.Hash(expired), Org: "acme", Role: api.RoleAdmin, Name: "old",
		Scopes: "admin", Created: time.Now().Add(-48 * time.Hour), Expires: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rev := w.must(t, admin, "POST", "/api/v1/tokens", `{"name":"gone","scopes":"admin","service_account":true,"role":"admin"}`, 201)
	w.must(t, admin, "DELETE", "/api/v1/tokens/"+rev["id"].(string), "", 200)
	gone := login(t, w.base, "admin@acme.test", api.RoleAdmin)
	w.must(t, gone, "POST", "/api/v1/auth/logout", "", 200)
	w.unauth = []caller{
		{name: "no credential"},
		{name: "unknown token", bearer: secret.New(secret.PrefixToken)},
		{name: "malformed token", bearer: "mlt_' OR '1'='1"},
		{name: "expired token", bearer: expired},
		{name: "revoked token", bearer: rev["token"].(string)},
		{name: "signed-out session", cookie: gone.cookie, csrf: gone.csrf},
		{name: "unknown session", cookie: secret.New(secret.PrefixSession), csrf: "x"},
		{name: "session secret as bearer", bearer: admin.cookie},
	}

	// acme's objects: an edge with data, an invitation, a grant to its
	// hub, a consent for the advisor; beta's edge.
	svc := w.c["svc-admin"]
	e := w.must(t, svc, "POST", "/api/v1/edges", `{"name":"press-line"}`, 201)
	w.ids["edge"] = e["id"].(string)
	en, err := (&uplink.Client{URL: w.base}).Enroll(ctx, e["enroll_token"].(string), "")
	if err != nil {
		t.Fatal(err)
	}
	pts := []uns.Point{{Series: "acme-site/hall/line-1/press/temp", TS: time.Now().UnixNano(), Value: uns.Float(71.5)}}
	if _, err := (&uplink.Client{URL: w.base, Credential: en.Credential}).Send(ctx, uplink.Batch{Stream: "points/x",
		Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
		t.Fatal(err)
	}
	w.unauth = append(w.unauth, caller{name: "edge credential", bearer: en.Credential})
	inv := w.must(t, admin, "POST", "/api/v1/invitations", `{"email":"new@acme.test","role":"viewer"}`, 201)
	w.ids["invitation"] = inv["id"].(string)
	g := w.must(t, admin, "POST", "/api/v1/grants", `{"grantee":"edih-a","kind":"series","prefix":"acme-site","expires":"30d"}`, 201)
	w.ids["grant"] = g["id"].(string)
	d := w.must(t, w.c["owner"], "POST", "/api/v1/delegations", `{"advisor_email":"advisor@edih-a.test","role":"viewer","hours":24}`, 201)
	w.ids["delegation"] = d["id"].(string)
	w.c["advisor-as-acme"] = w.switched(t, w.c["advisor"], "acme", api.RoleViewer)
	me := w.must(t, admin, "GET", "/api/v1/me", "", 200)
	w.ids["session"] = me["session"].(string)
	w.ids["user"] = userIDs["viewer"]
	w.ids["provider"] = "none"
	w.ids["org"] = "acme"        // an organisation, for platform admins
	w.ids["company"] = "acme"    // a hub's customer
	w.ids["fieldlab"] = "lab"    // a hub's fieldlab
	w.ids["month"] = "2026-01"   // a month's KPI snapshot
	w.ids["course"] = "course"   // a hub's academy course
	w.ids["route"] = "route"     // a hub's learning route
	w.ids["entry"] = "entry"     // an entry of the knowledge library
	w.ids["enrolment"] = "enr_x" // an enrolment in a hub's course
	w.ids["hub"] = "edih-a"      // an issuer of credentials (public)
	w.ids["learner"] = "lrn_x"   // a learner of a hub's academy
	w.ids["name"] = "line"       // a label of the Prometheus API (its values name acme's lines)
	w.ids["id"] = "none"         // a marketplace service (none of acme's)
	w.ids["version"] = "1.0.0"   // a version of it
	w.ids["action"] = "submit"   // a lifecycle action
	dma := w.must(t, w.c["svc-engineer"], "POST", "/api/v1/assessments", assessmentBody("T0"), 201)
	w.ids["assessment"] = dma["id"].(string)
	w.must(t, w.c["svc-engineer"], "PUT", "/api/v1/fleet/groups/acme-presses", `{"line":"press"}`, 200)
	w.must(t, w.c["svc-engineer"], "PUT", "/api/v1/fleet/edges/"+w.ids["edge"]+"/place", `{"site":"acme-hall","labels":{"line":"press"}}`, 200)
	w.must(t, w.c["svc-engineer"], "PUT", "/api/v1/fleet/layers/site/acme-hall", `{"settings":{"poll_interval":"10s"}}`, 200)
	w.ids["group"], w.ids["scope"], w.ids["target"] = "acme-presses", "site", "acme-hall"
	ro := w.must(t, w.c["svc-engineer"], "POST", "/api/v1/fleet/rollouts", `{"scope":"site","target":"acme-hall","settings":{"poll_interval":"20s"}}`, 201)
	w.ids["rollout"] = ro["id"].(string)
	cmd := w.must(t, w.c["svc-engineer"], "POST", "/api/v1/fleet/edges/"+w.ids["edge"]+"/commands", `{"kind":"status"}`, 201)
	w.ids["command"] = cmd["id"].(string)
	// A Margo client is an edge: its client ID is the edge's ID.
	w.ids["clientId"], w.ids["deploymentId"], w.ids["digest"] = w.ids["edge"], "acme-app", "sha256:acme"
	w.markers = append(w.markers, "acme-presses", "acme-hall", w.ids["rollout"])
	ch := w.must(t, admin, "POST", "/api/v1/notify/channels", `{"name":"acme-site alarms","kind":"webhook","target":"http://127.0.0.1:9/acme-hook","format":"teams"}`, 201)
	w.ids["channel"] = ch["id"].(string)
	rule := w.must(t, admin, "POST", "/api/v1/notify/rules", `{"name":"acme-site press","trigger":"alarm","prefix":"acme-site","channel":"`+w.ids["channel"]+`"}`, 201)
	w.ids["rule"] = rule["id"].(string)
	w.must(t, admin, "POST", "/api/v1/notify/channels/"+w.ids["channel"]+"/test", "", 200)
	dl := w.must(t, admin, "GET", "/api/v1/notify/deliveries", "", 200)["deliveries"].([]any)
	w.ids["delivery"] = dl[0].(map[string]any)["id"].(string)
	w.markers = append(w.markers, w.ids["edge"], w.ids["invitation"], w.ids["grant"], w.ids["delegation"], w.ids["session"], w.ids["assessment"],
		w.ids["channel"], w.ids["rule"], w.ids["delivery"], ch["secret"].(string), "acme-hook")

	eb := w.must(t, w.c["beta"], "POST", "/api/v1/edges", `{"name":"beta-line"}`, 201)
	enb, err := (&uplink.Client{URL: w.base}).Enroll(ctx, eb["enroll_token"].(string), "")
	if err != nil {
		t.Fatal(err)
	}
	w.edgeB = enb.Credential
	bt := w.must(t, w.c["beta"], "POST", "/api/v1/tokens", `{"name":"b","scopes":"admin","service_account":true,"role":"admin"}`, 201)
	w.c["beta-token"] = caller{name: "beta admin (token)", bearer: bt["token"].(string), role: api.RoleAdmin, token: true}
	return w
}

// switched signs c in again (its session was replaced by the switch) and
// moves the new session to org.
func (w *world) switched(t *testing.T, c caller, org string, role api.Role) caller {
	t.Helper()
	// A switch replaces the session: sign in anew, so that c stays valid.
	email := strings.TrimSuffix(c.name, " (session)")
	fresh := login(t, w.base, email, c.role)
	req, _ := http.NewRequest("POST", w.base+"/api/v1/auth/switch", strings.NewReader(`{"org":"`+org+`"}`))
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: fresh.cookie})
	req.Header.Set(api.CSRFHeader, fresh.csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("switch to %s: %d %s", org, resp.StatusCode, b)
	}
	out := caller{name: email + " acting for " + org, role: role, session: true}
	for _, ck := range resp.Cookies() {
		if ck.Name == api.SessionCookie {
			out.cookie = ck.Value
		}
	}
	out.csrf, _ = decode(t, string(b))["csrf"].(string)
	return out
}

var paramRe = regexp.MustCompile(`\{([a-z]+)\}`)

// path fills a route's parameters with acme's objects.
func (w *world) path(t testing.TB, r api.Route) string {
	t.Helper()
	return paramRe.ReplaceAllStringFunc(r.Path, func(m string) string {
		id, ok := w.ids[m[1:len(m)-1]]
		if !ok {
			t.Fatalf("%s: no acme object for the parameter %s: add one to newWorld", r.Pattern(), m)
		}
		return id
	})
}

// bodies are what a caller entitled to a route would send.
var bodies = map[string]string{
	"POST /api/v1/assessments":          assessmentBody("T1"),
	"POST /api/v1/edges":                `{"name":"x"}`,
	"PUT /api/v1/retention":             `{"raw":"30d","minute":"365d","hour":"forever"}`,
	"PUT /api/v1/quotas/{org}":          `{"series":100000,"points_per_day":500000000}`,
	"POST /api/v1/orgs":                 `{"id":"new-co","name":"New","kind":"company"}`,
	"PUT /api/v1/members/{user}":        `{"role":"engineer"}`,
	"POST /api/v1/members/{user}/reset": `{}`,
	"POST /api/v1/invitations":          `{"email":"someone@example.test","role":"viewer"}`,
	"POST /api/v1/tokens":               `{"name":"t","scopes":"read"}`,
	"POST /api/v1/grants":               `{"grantee":"edih-a","kind":"kpi","prefix":"","expires":"30d"}`,
	"POST /api/v1/delegations":          `{"advisor_email":"advisor@edih-a.test","role":"viewer","hours":24}`,
	"POST /api/v1/auth/switch":          `{"org":"acme"}`,
	"PUT /api/v1/dma/intervals":         `{"t1_months":6,"t2_months":12}`,
	"PATCH /api/v1/me":                  `{"name":"Renamed"}`,
	"DELETE /api/v1/me":                 `{"password":"not the password at all"}`,
	"POST /api/v1/me/password":          `{"current":"not the password at all","new":"another long password"}`,
	"POST /api/v1/me/totp/confirm":      `{"code":"000000"}`,
	"DELETE /api/v1/me/totp":            `{"password":"not the password at all"}`,

	// Remote diagnostics (a kind that needs no arguments).
	"POST /api/v1/fleet/edges/{edge}/commands": `{"kind":"logs"}`,
	// A layer's secret (its value is never answered).
	"PUT /api/v1/fleet/layers/org/secrets/{name}":              `{"value":"acme-secret-value"}`,
	"PUT /api/v1/fleet/layers/{scope}/{target}/secrets/{name}": `{"value":"acme-secret-value"}`,
}

func body(r api.Route) string {
	if b, ok := bodies[r.Pattern()]; ok {
		return b
	}
	return "{}"
}

// notObjects are routes whose path parameter names no object of an
// organisation: a caller gets its own organisation's answer for it (a
// label's values among its own series), which must still hold nothing of
// acme.
var notObjects = map[string]bool{"GET /prom/api/v1/label/{name}/values": true,
	// {name} is the caller's own organisation's secret, not an object of acme.
	"PUT /api/v1/fleet/layers/org/secrets/{name}": true}

// acmeQuery asks for acme's data by every parameter a data route reads.
const acmeQuery = "?org=acme&series=acme-site/hall/line-1/press/temp&prefix=acme-site&from=0&to=now&agg=raw"

// policyRefusal reports whether an answer is the policy's refusal (not a
// handler's own 403 about, say, a wrong password).
func policyRefusal(code int, body string) bool {
	return code == 401 || code == 403 && strings.Contains(body, "needs ")
}

// TestRoutePolicies is the enumeration test: it lists every route from the
// hub's router, checks each one's policy against testdata/routes.golden
// (a new route, or a changed policy, must be reviewed there: go test
// -run TestRoutePolicies -update), and calls each one
//
//   - without a credential, and with credentials that authenticate nobody
//     (unknown, malformed, expired, revoked, signed out, of another kind):
//     401 always;
//   - as another organisation (its admin, by session and by token), with
//     acme's object IDs in the path and ?org=acme and acme's series in the
//     query: never a success on a route that names an object, the same
//     answer as for an object that does not exist, and never an answer
//     that holds anything of acme;
//   - as each role (and token scope, and delegated advisor) below the one
//     the route demands: 403 always;
//   - and, last, as a caller who may: the policy lets them through.
func TestRoutePolicies(t *testing.T) {
	w := newWorld(t)
	routes := w.Routes()
	checkGolden(t, routes)
	policies := golden(t)

	var checked int
	for _, r := range routes {
		want, ok := policies[r.Pattern()]
		if !ok {
			continue // checkGolden failed already
		}
		method := r.Method
		if method == "" {
			method = "GET"
		}
		w.path(t, r) // every parameter has an acme object
		t.Run(method+" "+r.Path, func(t *testing.T) {
			if want == "public" {
				return
			}
			checked++
			w.checkRoute(t, w.base, r, want)
		})
	}
	if checked < 30 {
		t.Errorf("checked %d routes with a policy, want all of them", checked)
	}

	w.checkAcmeIntact(t)

	// (d) Last, as callers who may: the policy lets them through (the
	// answer may still be a 400 or 404 of the handler's own).
	for _, r := range routes {
		want := policies[r.Pattern()]
		// Signing out and switching replace the session; their own tests
		// cover them.
		if want == "public" || want == "edge" || r.Pattern() == "POST /api/v1/auth/logout" || r.Pattern() == "POST /api/v1/auth/switch" {
			continue
		}
		c := w.c["owner"]
		switch want {
		case "platform-admin":
			c = w.c["platform"]
		case "publisher":
			c = w.c["publisher"]
		}
		if code, b := call(t, w.base, c, r.Method, w.path(t, r), body(r)); policyRefusal(code, b) {
			t.Errorf("%s as %s, who may: %d %.200s", r.Pattern(), c.name, code, b)
		}
	}
}

// checkRoute calls route r, served at base, as (a) nobody, (b) another
// organisation with acme's IDs and (c) each role below want, the policy
// reviewed in routes.golden; any success is an error of t.
func (w *world) checkRoute(t testing.TB, base string, r api.Route, want string) {
	t.Helper()
	method := r.Method
	if method == "" {
		method = "GET"
	}
	path := w.path(t, r)
	// (a) nobody.
	creds := w.unauth
	if want == "edge" {
		creds = append(slices.Clone(creds[:len(creds)-1]), w.c["svc-admin"], w.c["owner"])
	}
	for _, c := range creds {
		if code, b := call(t, base, c, method, path, body(r)); code != 401 {
			t.Errorf("%s: %d %.200s, want 401", c.name, code, b)
		}
	}
	if want == "edge" {
		return
	}
	// (b) another organisation, with acme's IDs: answered exactly as
	// an ID that does not exist.
	for _, c := range []caller{w.c["beta"], w.c["beta-token"]} {
		if strings.Contains(r.Path, "{") {
			missing := paramRe.ReplaceAllString(r.Path, "does-not-exist")
			mc, mb := call(t, base, c, method, missing, body(r))
			ac, ab := call(t, base, c, method, path, body(r))
			if mc != ac || mb != ab {
				t.Errorf("%s: acme's object answers %d %.200s, a missing one %d %.200s", c.name, ac, ab, mc, mb)
			}
		}
		for _, p := range []string{path, path + acmeQuery} {
			code, b := call(t, base, c, method, p, body(r))
			if code/100 == 2 && strings.Contains(r.Path, "{") && !notObjects[r.Pattern()] {
				t.Errorf("%s: %s %s: %d %.300s: another organisation's object", c.name, method, p, code, b)
			}
			if code/100 == 2 {
				for _, m := range w.markers {
					if strings.Contains(b, m) {
						t.Errorf("%s: %s %s answers %q of acme: %.300s", c.name, method, p, m, b)
					}
				}
			}
		}
	}
	// (c) below the route's role.
	for _, c := range w.below(want, r.Area) {
		if code, b := call(t, base, c, method, path, body(r)); code != 403 {
			t.Errorf("%s (below %s): %d %.200s, want 403", c.name, want, code, b)
		}
	}
}

// below are acme's callers whose role or scope is below want in area.
func (w *world) below(want, area string) []caller {
	var out []caller
	if want == "person" {
		for _, k := range []string{"admin-token", "svc-admin", "admin-read"} {
			out = append(out, w.c[k])
		}
		return out
	}
	need := api.Role(want).Rank()
	if want == "advisor" {
		// Advisor routes: an advisor, or engineer and up; acme has no
		// advisor of its own, so below is below engineer.
		need = api.RoleEngineer.Rank()
	}
	for _, k := range []string{"viewer", "engineer", "admin", "owner", "advisor-as-acme", "admin-read", "admin-write", "admin-token",
		"svc-viewer", "svc-engineer", "svc-admin", "fleet-admin"} {
		c := w.c[k]
		rank := c.role.Rank()
		if c.area != "" && c.area != area {
			rank = 0
		}
		// Publisher routes are a provider's; acme is a company.
		if rank < need || want == "platform-admin" || want == "publisher" {
			out = append(out, c)
		}
	}
	return out
}

// checkAcmeIntact: nothing another organisation or a weaker role sent
// changed acme.
func (w *world) checkAcmeIntact(t *testing.T) {
	t.Helper()
	admin := w.c["svc-admin"]
	edges := w.must(t, admin, "GET", "/api/v1/edges", "", 200)["edges"].([]any)
	if len(edges) != 1 || edges[0].(map[string]any)["revoked"] != false || edges[0].(map[string]any)["name"] != "press-line" {
		t.Errorf("acme's edges changed: %v", edges)
	}
	members := w.must(t, admin, "GET", "/api/v1/members", "", 200)["members"].([]any)
	roles := map[string]any{}
	for _, m := range members {
		m := m.(map[string]any)
		roles[m["user"].(string)] = m["role"]
	}
	if len(members) != 4 || roles[w.ids["user"]] != "viewer" {
		t.Errorf("acme's members changed: %v", members)
	}
	for _, path := range []string{"/api/v1/grants", "/api/v1/delegations"} {
		given := w.must(t, admin, "GET", path, "", 200)["given"].([]any)
		if len(given) != 1 || given[0].(map[string]any)["active"] != true {
			t.Errorf("acme's %s changed: %v", path, given)
		}
	}
	if inv := w.must(t, admin, "GET", "/api/v1/invitations", "", 200)["invitations"].([]any); len(inv) != 1 {
		t.Errorf("acme's invitations changed: %v", inv)
	}
	for _, k := range []string{"admin-token", "svc-viewer", "fleet-admin"} {
		if code, b := call(t, w.base, w.c[k], "GET", "/api/v1/whoami", ""); code != 200 && k != "fleet-admin" {
			t.Errorf("acme's token %s stopped working: %d %s", k, code, b)
		}
	}
	if code, _ := call(t, w.base, w.c["admin"], "GET", "/api/v1/me", ""); code != 200 {
		t.Errorf("acme admin's session ended: %d", code)
	}
	if cs := w.must(t, admin, "GET", "/api/v1/notify/channels", "", 200)["channels"].([]any); len(cs) != 1 {
		t.Errorf("acme's channels changed: %v", cs)
	}
	if rs := w.must(t, admin, "GET", "/api/v1/notify/rules", "", 200)["rules"].([]any); len(rs) != 1 || rs[0].(map[string]any)["name"] != "acme-site press" {
		t.Errorf("acme's rules changed: %v", rs)
	}
	ret := w.must(t, admin, "GET", "/api/v1/retention", "", 200)
	if ret["default"] != true {
		t.Errorf("acme's retention changed: %v", ret)
	}
}

// golden reads testdata/routes.golden: "METHOD PATH policy area" a line.
func golden(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "routes.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		pattern := fields[0] + " " + fields[1]
		if fields[0] == "ANY" {
			pattern = fields[1]
		}
		out[pattern] = fields[2]
	}
	return out
}

func routeLine(r api.Route) string {
	m := r.Method
	if m == "" {
		m = "ANY"
	}
	area := r.Area
	if area == "" {
		area = "-"
	}
	return fmt.Sprintf("%-7s %-44s %-15s %s", m, r.Path, r.Auth, area)
}

// checkGolden compares the hub's routes and policies with the reviewed
// list.
func checkGolden(t testing.TB, routes []api.Route) {
	t.Helper()
	var lines []string
	for _, r := range routes {
		lines = append(lines, routeLine(r))
	}
	got := "# Every route the hub serves, its policy and its area for scoped tokens.\n" +
		"# A new route or a changed policy shows here: review it, then go test -run TestRoutePolicies -update.\n" +
		strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "routes.golden")
	// The weakened routers of TestRoutePoliciesCatchAWeakenedPolicy
	// (checked through a recorder) are never written as reviewed.
	if _, weakened := t.(*recorder); *update && !weakened {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for _, l := range gl {
			if !slices.Contains(wl, l) {
				t.Errorf("route not reviewed (or its policy changed): %s", l)
			}
		}
		for _, l := range wl {
			if !slices.Contains(gl, l) {
				t.Errorf("reviewed route gone (or its policy changed): %s", l)
			}
		}
	}
}

// recorder is a testing.TB that keeps the errors it is given instead of
// failing the test: the checks of the enumeration test run against a
// router they must find fault with.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }

// TestRoutePoliciesCatchAWeakenedPolicy shows that the enumeration test
// fails when a route's policy is removed or weakened: a route without a
// policy is refused when it is registered; the hub's own routes, served by
// a router of the hub's authenticators in which one route's policy is
// weaker than reviewed, fail the reviewed list and the calls of
// TestRoutePolicies, while the same route with its own policy passes them.
func TestRoutePoliciesCatchAWeakenedPolicy(t *testing.T) {
	w := newWorld(t)
	policies := golden(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a route without a policy was registered")
			}
		}()
		r := w.Routes()[0]
		r.Auth = api.Access{}
		(&api.Router{}).Handle(r)
	}()
	tests := []struct {
		pattern string
		weaker  api.Access
	}{
		{"GET /api/v1/members", api.Public},            // viewer → anyone
		{"DELETE /api/v1/members/{user}", api.Viewer},  // admin → viewer
		{"POST /api/v1/edges", api.Viewer},             // engineer → viewer
		{"POST /api/v1/users/{user}/erase", api.Admin}, // platform-admin → any organisation's admin
		{"GET /api/v1/me/sessions", api.Viewer},        // person → tokens too
		{"POST /api/v1/uplink", api.Public},            // edge → anyone
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			w := newWorld(t) // a weakened route lets callers change the world
			routes := w.Routes()
			i := slices.IndexFunc(routes, func(r api.Route) bool { return r.Pattern() == tt.pattern })
			if i < 0 {
				t.Fatalf("the hub has no route %s", tt.pattern)
			}
			for _, weaken := range []bool{false, true} {
				served := slices.Clone(routes)
				if weaken {
					served[i].Auth = tt.weaker
				}
				rt := &api.Router{Tokens: w.Auth(), Edges: w.Fleet(), EdgeRequests: w.Fleet(), Sessions: w.Auth()}
				rt.Handle(served...)
				srv := httptest.NewServer(rt)
				list, calls := &recorder{TB: t}, &recorder{TB: t}
				checkGolden(list, served)
				w.checkRoute(calls, srv.URL, served[i], policies[tt.pattern])
				srv.Close()
				switch {
				case weaken && (len(list.errors) == 0 || len(calls.errors) == 0):
					// Both, so that a policy weakened together with the
					// reviewed list is still caught by the calls.
					t.Errorf("weakened to %s: the reviewed list found %q, the calls %q; want faults of both", tt.weaker, list.errors, calls.errors)
				case weaken:
					t.Logf("weakened to %s: %d faults of the calls, first: %s", tt.weaker, len(calls.errors), calls.errors[0])
				case len(list.errors)+len(calls.errors) > 0:
					t.Errorf("with its own policy: %q %q", list.errors, calls.errors)
				}
			}
		})
	}
}
