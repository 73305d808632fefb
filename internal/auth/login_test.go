package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// server is the auth domain's routes behind a router, as the hub serves
// them.
type server struct {
	*httptest.Server
	s   *auth.Service
	clk *clocktest.Clock
	reg *prometheus.Registry
}

const pw = "a password of some length"

func newServer(t *testing.T, db *meta.DB, cfg auth.Config) *server {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	cfg.DB, cfg.Now, cfg.Registry, cfg.Argon2 = db, clk.Now, reg, testArgon2
	s, err := auth.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := &api.Router{Tokens: s, Sessions: s, Audit: s.Audit()}
	rt.Handle(s.Routes()...)
	rt.Handle(s.Audit().Routes()...)
	rt.Handle(s.Pages()...)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	for _, o := range []auth.Org{{ID: auth.PlatformOrg, Kind: auth.Platform}, {ID: "hub-a", Kind: auth.Hub, Parent: auth.PlatformOrg},
		{ID: "acme", Name: "Acme", Kind: auth.Company, Parent: "hub-a"}} {
		if err := s.CreateOrg(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	return &server{Server: srv, s: s, clk: clk, reg: reg}
}

// person makes a person with role in org.
func (sv *server) person(t *testing.T, email, org string, role api.Role) auth.User {
	t.Helper()
	u, err := sv.s.CreateUser(t.Context(), email, "Person", pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := sv.s.AddMember(t.Context(), u.ID, org, role); err != nil {
		t.Fatal(err)
	}
	return u
}

type answer struct {
	code    int
	body    map[string]any
	raw     string
	header  http.Header
	session string // the session cookie it set, if any
}

type req struct {
	method, path, body string
	cookie, csrf       string
	header             map[string]string
}

func (sv *server) do(t *testing.T, r req) answer {
	t.Helper()
	hr, err := http.NewRequest(r.method, sv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: r.cookie})
	}
	if r.csrf != "" {
		hr.Header.Set(api.CSRFHeader, r.csrf)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, raw: string(b), header: resp.Header}
	_ = json.Unmarshal(b, &a.body)
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie && c.MaxAge >= 0 {
			a.session = c.Value
		}
	}
	return a
}

func (sv *server) login(t *testing.T, email, password string) answer {
	t.Helper()
	return sv.do(t, req{method: "POST", path: "/api/v1/auth/login", body: fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)})
}

// session is a signed-in person's cookie and CSRF token.
type session struct{ cookie, csrf string }

func (sv *server) signIn(t *testing.T, email string) session {
	t.Helper()
	a := sv.login(t, email, pw)
	if a.code != 200 || a.session == "" {
		t.Fatalf("sign-in of %s: %d %s", email, a.code, a.raw)
	}
	return session{a.session, a.body["csrf"].(string)}
}

func (sv *server) as(t *testing.T, s session, method, path, body string) answer {
	t.Helper()
	return sv.do(t, req{method: method, path: path, body: body, cookie: s.cookie, csrf: s.csrf})
}

// TestLoginNoEnumeration: a wrong password and an unknown email get the
// same answer, and each costs one password hash; so does a person without
// a password.
func TestLoginNoEnumeration(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{})
	sv.person(t, "known@acme.test", "acme", api.RoleViewer)
	if _, err := sv.s.CreateUser(t.Context(), "nopass@acme.test", "No password", ""); err != nil {
		t.Fatal(err)
	}
	var hashes atomic.Int64
	sv.s.CountHashes(func() { hashes.Add(1) })
	var answers []string
	for _, email := range []string{"known@acme.test", "unknown@acme.test", "nopass@acme.test", "KNOWN@acme.test"} {
		hashes.Store(0)
		a := sv.login(t, email, "wrong password, long enough")
		if a.code != 401 || hashes.Load() != 1 {
			t.Errorf("%s: %d %s after %d hashes, want 401 after 1", email, a.code, a.raw, hashes.Load())
		}
		answers = append(answers, a.raw)
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("answers differ: %q and %q", answers[0], a)
		}
	}
	if got := testutil.ToFloat64(metric(t, sv.reg, "molen_hub_logins_total", "failed")); got != 4 {
		t.Errorf("failed logins counted: %v, want 4", got)
	}
	if a := sv.login(t, "Known@Acme.test", pw); a.code != 200 {
		t.Errorf("sign-in with the email in other case: %d %s", a.code, a.raw)
	}
}

// metric finds a counter of a vector in reg by name and label value.
func metric(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == label {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no metric %s{%s}", name, label)
	return nil
}

// TestLockout: failures lock a name — known or not, alike — with a
// growing back-off, answered as a rate limit with Retry-After; the right
// password does not get through a lock; it ends with time.
func TestLockout(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{LockAfter: 3, LockFor: time.Minute, LockMax: 10 * time.Minute})
	sv.person(t, "known@acme.test", "acme", api.RoleViewer)
	for _, email := range []string{"known@acme.test", "unknown@acme.test"} {
		for i := range 3 {
			if a := sv.login(t, email, "wrong password, long enough"); a.code != 401 {
				t.Fatalf("%s: failure %d: %d %s", email, i+1, a.code, a.raw)
			}
		}
		a := sv.login(t, email, pw)
		if a.code != 429 || a.header.Get("Retry-After") != "60" {
			t.Errorf("%s after 3 failures: %d %s Retry-After %q, want 429 for 60 s", email, a.code, a.raw, a.header.Get("Retry-After"))
		}
	}
	sv.clk.Add(61 * time.Second)
	// One more failure doubles the lock.
	sv.login(t, "known@acme.test", "wrong password, long enough")
	if a := sv.login(t, "known@acme.test", pw); a.code != 429 || a.header.Get("Retry-After") != "120" {
		t.Errorf("after a 4th failure: %d Retry-After %q, want 120 s", a.code, a.header.Get("Retry-After"))
	}
	sv.clk.Add(121 * time.Second)
	if a := sv.login(t, "known@acme.test", pw); a.code != 200 {
		t.Errorf("after the lock: %d %s", a.code, a.raw)
	}
	if a := sv.login(t, "known@acme.test", "wrong password, long enough"); a.code != 401 {
		t.Errorf("a success resets the count: %d", a.code)
	}
	if got := testutil.ToFloat64(metric(t, sv.reg, "molen_hub_logins_total", "locked")); got < 3 {
		t.Errorf("locked attempts counted: %v", got)
	}
}

// TestSessions: a session works with its CSRF token, ends when idle or at
// its absolute end, and a sign-in never keeps a session ID the browser
// brought (fixation).
func TestSessions(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{SessionIdle: 30 * time.Minute, SessionMax: 2 * time.Hour})
	sv.person(t, "p@acme.test", "acme", api.RoleAdmin)

	// Fixation: a cookie planted before sign-in is not the session after.
	planted := "mls_" + strings.Repeat("A", 43)
	a := sv.do(t, req{method: "POST", path: "/api/v1/auth/login", body: fmt.Sprintf(`{"email":"p@acme.test","password":%q}`, pw), cookie: planted})
	if a.code != 200 || a.session == "" || a.session == planted {
		t.Fatalf("sign-in with a planted cookie: %d, session %q", a.code, a.session)
	}
	if b := sv.do(t, req{method: "GET", path: "/api/v1/me", cookie: planted}); b.code != 401 {
		t.Errorf("the planted cookie after sign-in: %d", b.code)
	}
	s := session{a.session, a.body["csrf"].(string)}
	if b := sv.as(t, s, "GET", "/api/v1/me", ""); b.code != 200 || b.body["org"] != "acme" || b.body["csrf"] != s.csrf {
		t.Errorf("me: %d %s", b.code, b.raw)
	}
	// Idle: 29 minutes keep it, 31 end it.
	sv.clk.Add(29 * time.Minute)
	if b := sv.as(t, s, "GET", "/api/v1/whoami", ""); b.code != 200 {
		t.Errorf("after 29 idle minutes: %d", b.code)
	}
	sv.clk.Add(31 * time.Minute)
	if b := sv.as(t, s, "GET", "/api/v1/whoami", ""); b.code != 401 {
		t.Errorf("after 31 idle minutes: %d, want 401", b.code)
	}
	// Absolute: used every 20 minutes, it still ends after 2 hours.
	s = sv.signIn(t, "p@acme.test")
	for i := range 5 {
		sv.clk.Add(20 * time.Minute)
		if b := sv.as(t, s, "GET", "/api/v1/whoami", ""); b.code != 200 {
			t.Fatalf("in use, after %d min: %d", (i+1)*20, b.code)
		}
	}
	sv.clk.Add(21 * time.Minute)
	if b := sv.as(t, s, "GET", "/api/v1/whoami", ""); b.code != 401 {
		t.Errorf("after the absolute end: %d, want 401", b.code)
	}
	// Sign-out ends it.
	s = sv.signIn(t, "p@acme.test")
	if b := sv.as(t, s, "POST", "/api/v1/auth/logout", ""); b.code != 200 {
		t.Fatalf("logout: %d %s", b.code, b.raw)
	}
	if b := sv.as(t, s, "GET", "/api/v1/whoami", ""); b.code != 401 {
		t.Errorf("after logout: %d", b.code)
	}
	// The list shows the live ones; one can end another.
	s1, s2 := sv.signIn(t, "p@acme.test"), sv.signIn(t, "p@acme.test")
	list := sv.as(t, s1, "GET", "/api/v1/me/sessions", "").body["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions: %v", list)
	}
	var other string
	for _, x := range list {
		if x := x.(map[string]any); x["current"] == false {
			other = x["id"].(string)
		}
	}
	if b := sv.as(t, s1, "DELETE", "/api/v1/me/sessions/"+other, ""); b.code != 200 {
		t.Errorf("end the other session: %d %s", b.code, b.raw)
	}
	if b := sv.as(t, s2, "GET", "/api/v1/whoami", ""); b.code != 401 {
		t.Errorf("the ended session: %d", b.code)
	}
	if c := sv.do(t, req{method: "GET", path: "/api/v1/me"}); c.code != 401 {
		t.Errorf("me without a session: %d", c.code)
	}
}

// TestCSRF: a request with a session cookie that changes something needs
// the session's CSRF token and must not come from another site; reads do
// not.
func TestCSRF(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{})
	sv.person(t, "p@acme.test", "acme", api.RoleAdmin)
	s := sv.signIn(t, "p@acme.test")
	body := `{"name":"t","scopes":"read"}`
	for name, r := range map[string]req{
		"no token":    {cookie: s.cookie},
		"wrong token": {cookie: s.cookie, csrf: strings.Repeat("0", 64)},
		"other site":  {cookie: s.cookie, csrf: s.csrf, header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"other origin": {cookie: s.cookie, csrf: s.csrf, header: map[string]string{"Origin": "https://evil.example",
			"Host": "hub.example"}},
	} {
		r.method, r.path, r.body = "POST", "/api/v1/tokens", body
		if a := sv.do(t, r); a.code != 403 {
			t.Errorf("%s: %d %s, want 403", name, a.code, a.raw)
		}
	}
	if a := sv.do(t, req{method: "GET", path: "/api/v1/tokens", cookie: s.cookie}); a.code != 200 {
		t.Errorf("a read without the token: %d", a.code)
	}
	if a := sv.as(t, s, "POST", "/api/v1/tokens", body); a.code != 201 {
		t.Errorf("with the token: %d %s", a.code, a.raw)
	}
}

// TestSecondFactor: with TOTP a sign-in is pending until a right code; a
// pending session opens nothing; wrong codes count towards the lockout; a
// code works once.
func TestSecondFactor(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{LockAfter: 3})
	sv.person(t, "p@acme.test", "acme", api.RoleAdmin)
	s := sv.signIn(t, "p@acme.test")
	begin := sv.as(t, s, "POST", "/api/v1/me/totp", "")
	key, _ := begin.body["secret"].(string)
	if begin.code != 200 || key == "" || !strings.HasPrefix(begin.body["uri"].(string), "otpauth://totp/") {
		t.Fatalf("begin: %d %s", begin.code, begin.raw)
	}
	// The QR code is a PNG for the page (browser-tested: it reads as the
	// otpauth link).
	qr, _ := begin.body["qr"].(string)
	pngData, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Fatalf("qr %.40q: %v", qr, err)
	}
	if img, err := png.Decode(bytes.NewReader(pngData)); err != nil || img.Bounds().Dx() != 200 {
		t.Errorf("qr: not a 200 pixel PNG: %v", err)
	}
	code := func() string {
		c, err := totp.GenerateCode(key, sv.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if a := sv.as(t, s, "POST", "/api/v1/me/totp/confirm", `{"code":"000000"}`); a.code != 400 {
		t.Errorf("confirm with a wrong code: %d", a.code)
	}
	if a := sv.as(t, s, "POST", "/api/v1/me/totp/confirm", `{"code":"`+code()+`"}`); a.code != 200 {
		t.Fatalf("confirm: %d %s", a.code, a.raw)
	}
	sv.clk.Add(30 * time.Second)

	a := sv.login(t, "p@acme.test", pw)
	if a.code != 200 || a.body["second_factor"] != true || a.session == "" || a.body["csrf"] != nil {
		t.Fatalf("sign-in with a second factor: %d %s", a.code, a.raw)
	}
	pending := a.session
	if b := sv.do(t, req{method: "GET", path: "/api/v1/me", cookie: pending}); b.code != 401 {
		t.Errorf("a pending session opens /me: %d", b.code)
	}
	if b := sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"123456"}`, cookie: pending}); b.code != 401 {
		t.Errorf("a wrong code: %d %s", b.code, b.raw)
	}
	c := code()
	b := sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"` + c + `"}`, cookie: pending})
	if b.code != 200 || b.session == "" || b.session == pending {
		t.Fatalf("the right code: %d %s", b.code, b.raw)
	}
	if x := sv.do(t, req{method: "GET", path: "/api/v1/me", cookie: b.session}); x.code != 200 {
		t.Errorf("the completed session: %d", x.code)
	}
	// The same code again, in the same 30 s: refused.
	a = sv.login(t, "p@acme.test", pw)
	if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"` + c + `"}`, cookie: a.session}); x.code != 401 {
		t.Errorf("a code used twice: %d", x.code)
	}
	// Wrong codes lock the name: this is the third.
	sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"111111"}`, cookie: a.session})
	sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"222222"}`, cookie: a.session})
	if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/totp", body: `{"code":"` + code() + `"}`, cookie: a.session}); x.code != 429 {
		t.Errorf("after 3 wrong codes: %d %s, want 429", x.code, x.raw)
	}
}

// TestInvitationAndReset: links work once, not after they expire or are
// revoked; a reset ends the person's sessions.
func TestInvitationAndReset(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		sv := newServer(t, db, auth.Config{})
		sv.person(t, "owner@acme.test", "acme", api.RoleOwner)
		owner := sv.signIn(t, "owner@acme.test")
		inv := sv.as(t, owner, "POST", "/api/v1/invitations", `{"email":"New@Acme.test","role":"engineer"}`)
		if inv.code != 201 {
			t.Fatalf("invite: %d %s", inv.code, inv.raw)
		}
		tok := inv.body["link"].(string)[strings.Index(inv.body["link"].(string), "token=")+6:]
		look := sv.do(t, req{method: "POST", path: "/api/v1/auth/invitation", body: `{"token":"` + tok + `"}`})
		if look.code != 200 || look.body["email"] != "new@acme.test" || look.body["role"] != "engineer" || look.body["has_account"] != false {
			t.Errorf("lookup: %d %s", look.code, look.raw)
		}
		acc := sv.do(t, req{method: "POST", path: "/api/v1/auth/invitation/accept", body: `{"token":"` + tok + `","name":"New Person","password":"` + pw + `"}`})
		if acc.code != 200 || acc.session == "" || acc.body["org"] != "acme" {
			t.Fatalf("accept: %d %s", acc.code, acc.raw)
		}
		if again := sv.do(t, req{method: "POST", path: "/api/v1/auth/invitation/accept", body: `{"token":"` + tok + `","name":"X","password":"` + pw + `"}`}); again.code != 401 {
			t.Errorf("the invitation again: %d %s", again.code, again.raw)
		}
		members := sv.as(t, owner, "GET", "/api/v1/members", "").body["members"].([]any)
		if len(members) != 2 {
			t.Errorf("members: %v", members)
		}
		// Expired and revoked invitations.
		late := sv.as(t, owner, "POST", "/api/v1/invitations", `{"email":"late@acme.test","role":"viewer","days":1}`)
		gone := sv.as(t, owner, "POST", "/api/v1/invitations", `{"email":"gone@acme.test","role":"viewer"}`)
		if x := sv.as(t, owner, "DELETE", "/api/v1/invitations/"+gone.body["id"].(string), ""); x.code != 200 {
			t.Fatalf("revoke: %d %s", x.code, x.raw)
		}
		sv.clk.Add(25 * time.Hour)
		for name, link := range map[string]string{"expired": late.body["link"].(string), "revoked": gone.body["link"].(string)} {
			tok := link[strings.Index(link, "token=")+6:]
			if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/invitation/accept", body: `{"token":"` + tok + `","name":"X","password":"` + pw + `"}`}); x.code != 401 {
				t.Errorf("%s invitation: %d %s", name, x.code, x.raw)
			}
		}
		// A reset link: the new password works, the old does not, the
		// person's sessions ended, the link works once.
		newcomer := sv.signIn(t, "new@acme.test")
		owner = sv.signIn(t, "owner@acme.test")
		var id string
		for _, m := range sv.as(t, owner, "GET", "/api/v1/members", "").body["members"].([]any) {
			if m := m.(map[string]any); m["role"] == "engineer" {
				id = m["user"].(string)
			}
		}
		rs := sv.as(t, owner, "POST", "/api/v1/members/"+id+"/reset", "")
		if rs.code != 201 {
			t.Fatalf("reset link: %d %s", rs.code, rs.raw)
		}
		rtok := rs.body["link"].(string)[strings.Index(rs.body["link"].(string), "token=")+6:]
		if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/reset", body: `{"token":"` + rtok + `","password":"short"}`}); x.code != 400 {
			t.Errorf("a short password: %d", x.code)
		}
		if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/reset", body: `{"token":"` + rtok + `","password":"the brand new password"}`}); x.code != 200 {
			t.Fatalf("reset: %d %s", x.code, x.raw)
		}
		if x := sv.do(t, req{method: "POST", path: "/api/v1/auth/reset", body: `{"token":"` + rtok + `","password":"yet another password"}`}); x.code != 401 {
			t.Errorf("the reset link again: %d", x.code)
		}
		if x := sv.as(t, newcomer, "GET", "/api/v1/me", ""); x.code != 401 {
			t.Errorf("a session from before the reset: %d", x.code)
		}
		if x := sv.login(t, "new@acme.test", pw); x.code != 401 {
			t.Errorf("the old password: %d", x.code)
		}
		if x := sv.login(t, "new@acme.test", "the brand new password"); x.code != 200 {
			t.Errorf("the new password: %d", x.code)
		}
	})
}

// TestResetAcrossOrganisations: an admin of one organisation cannot reset
// the password of a person who also belongs to another.
func TestResetAcrossOrganisations(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{})
	sv.person(t, "admin@acme.test", "acme", api.RoleAdmin)
	u := sv.person(t, "both@acme.test", "acme", api.RoleViewer)
	if err := sv.s.AddMember(t.Context(), u.ID, "hub-a", api.RoleAdvisor); err != nil {
		t.Fatal(err)
	}
	admin := sv.signIn(t, "admin@acme.test")
	if a := sv.as(t, admin, "POST", "/api/v1/members/"+u.ID+"/reset", ""); a.code != 403 {
		t.Errorf("reset of a person in two organisations: %d %s, want 403", a.code, a.raw)
	}
}

// TestConfirmLocks: steps that ask for the password again (a new
// password, removing the second factor, erasure, joining with an existing
// account) are under the same lockout as sign-ins.
func TestConfirmLocks(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{LockAfter: 3})
	sv.person(t, "p@acme.test", "acme", api.RoleAdmin)
	s := sv.signIn(t, "p@acme.test")
	for i := range 3 {
		if a := sv.as(t, s, "POST", "/api/v1/me/password", `{"current":"guess number one two","new":"a brand new password"}`); a.code != 403 {
			t.Fatalf("guess %d: %d %s", i+1, a.code, a.raw)
		}
	}
	if a := sv.as(t, s, "DELETE", "/api/v1/me", `{"password":"`+pw+`"}`); a.code != 429 {
		t.Errorf("erasure with the right password while locked: %d %s, want 429", a.code, a.raw)
	}
	if a := sv.login(t, "p@acme.test", pw); a.code != 429 {
		t.Errorf("sign-in while locked: %d", a.code)
	}
}
