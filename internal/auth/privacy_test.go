package auth_test

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// TestExportAndErase: a person gets everything the hub keeps about them;
// erased, they are gone — profile, memberships, sessions, tokens — while
// the audit logs keep their ID as a pseudonym and still verify. The last
// owner of an organisation is not erased.
func TestExportAndErase(t *testing.T) {
	sv := newServer(t, metatest.SQLite(t), auth.Config{})
	owner := sv.person(t, "owner@acme.test", "acme", api.RoleOwner)
	u := sv.person(t, "leaving@acme.test", "acme", api.RoleAdmin)
	s := sv.signIn(t, "leaving@acme.test")
	tok := sv.as(t, s, "POST", "/api/v1/tokens", `{"name":"mine","scopes":"read"}`)
	if tok.code != 201 {
		t.Fatalf("token: %d %s", tok.code, tok.raw)
	}
	exp := sv.as(t, s, "GET", "/api/v1/me/export", "")
	if exp.code != 200 || !strings.Contains(exp.raw, "leaving@acme.test") || !strings.Contains(exp.raw, `"Action":"login"`) && !strings.Contains(exp.raw, `"action":"login"`) ||
		!strings.Contains(exp.raw, tok.body["id"].(string)) || strings.Contains(exp.raw, "argon2") {
		t.Errorf("export: %d %.500s", exp.code, exp.raw)
	}
	if a := sv.as(t, s, "DELETE", "/api/v1/me", `{"password":"not it at all, sorry"}`); a.code != 403 {
		t.Errorf("erase with a wrong password: %d", a.code)
	}
	if a := sv.as(t, s, "DELETE", "/api/v1/me", `{"password":"`+pw+`"}`); a.code != 200 {
		t.Fatalf("erase: %d %s", a.code, a.raw)
	}
	if _, err := sv.s.User(t.Context(), u.ID); err == nil {
		t.Error("the profile is still there")
	}
	if a := sv.as(t, s, "GET", "/api/v1/me", ""); a.code != 401 {
		t.Errorf("the session after erasure: %d", a.code)
	}
	if a := sv.do(t, req{method: "GET", path: "/api/v1/whoami", header: map[string]string{"Authorization": "Bearer " + tok.body["token"].(string)}}); a.code != 401 {
		t.Errorf("the token after erasure: %d", a.code)
	}
	if a := sv.login(t, "leaving@acme.test", pw); a.code != 401 {
		t.Errorf("sign-in after erasure: %d", a.code)
	}
	entries, err := sv.s.Audit().ByActor(t.Context(), u.ID, 100)
	if err != nil || len(entries) < 2 {
		t.Errorf("the audit keeps %d entries under the pseudonym (%v)", len(entries), err)
	}
	for _, e := range entries {
		if strings.Contains(e.Target+e.Actor+strings.Join(values(e.Detail), " "), "leaving@") {
			t.Errorf("an audit entry names the person: %+v", e)
		}
	}
	reps, err := sv.s.Audit().VerifyAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if !r.OK {
			t.Errorf("audit log of %s after erasure: %s", r.Org, r.Problem)
		}
	}
	// The last owner stays.
	so := sv.signIn(t, "owner@acme.test")
	if a := sv.as(t, so, "DELETE", "/api/v1/me", `{"password":"`+pw+`"}`); a.code != 400 {
		t.Errorf("erase of the last owner: %d %s, want 400", a.code, a.raw)
	}
	_ = owner
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
