//go:build !edgeonly

package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/programme"
)

// TestAcademyVerify: molen academy verify accepts a credential and a
// passport with the issuer's JWKS from a file after the hub has stopped
// (offline), and refuses a changed credential and another hub's key with
// exit status 1.
func TestAcademyVerify(t *testing.T) {
	ctx := t.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	p := h.Programme()
	dir := t.TempDir()
	write := func(name string, v any) string {
		t.Helper()
		b, ok := v.([]byte)
		if !ok {
			b, _ = json.Marshal(v)
		}
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	keys := map[string]string{}
	var cred string
	for _, id := range []string{"edih-noord", "edih-zuid"} {
		if err := h.Tree(time.Now()).CreateOrg(ctx, id, strings.ToUpper(id), "hub", "platform"); err != nil {
			t.Fatal(err)
		}
		admin := api.Principal{Org: id, OrgKind: "hub", Role: api.RoleAdmin}
		if _, err := p.SetCourse(ctx, admin, programme.Course{ID: "c-" + id, TitleEN: "OT security", TitleNL: "OT-beveiliging", Technology: "cybersecurity",
			Dimensions: []string{"data"}, Hours: 3, Provider: id}, ""); err != nil {
			t.Fatal(err)
		}
		en, err := p.Enrol(ctx, admin, "sanne@example.nl", "Sanne", "c-"+id, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, c, err := p.Complete(ctx, admin, en.ID, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if id == "edih-noord" {
			cred = c
		}
		// The key as published: the public JWKS, fetched over HTTP.
		resp, err := http.Get(h.URL() + "/api/v1/academy/issuers/" + id + "/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		ks, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(ks), `"kty":"OKP"`) {
			t.Fatalf("JWKS of %s: %d %s %v", id, resp.StatusCode, ks, err)
		}
		keys[id] = write(id+".jwks.json", ks)
	}
	pp, err := p.PassportOf(ctx, "sanne@example.nl")
	if err != nil {
		t.Fatal(err)
	}
	passport := write("passport.json", pp)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(cred, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(body, []byte("OT security"), []byte("Rocket science"), 1)) + "." + parts[2]

	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(append([]string{"academy", "verify"}, args...), &out, &out)
		return code, out.String()
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--keys", keys["edih-noord"], write("ok.jwt", []byte(cred))}, 0, `valid    1  "OT security" issued by EDIH-NOORD`},
		{[]string{"--keys", keys["edih-noord"], "--keys", keys["edih-zuid"], passport}, 0, "2 credentials verified"},
		{[]string{"--keys", keys["edih-noord"], passport}, 1, "signed by a key not in the key set"},
		{[]string{"--keys", keys["edih-noord"], write("bad.jwt", []byte(tampered))}, 1, "signature does not match"},
		{[]string{"--keys", keys["edih-zuid"], write("ok2.jwt", []byte(cred))}, 1, "INVALID"},
		{[]string{write("ok3.jwt", []byte(cred))}, 1, "--keys"},
	} {
		code, out := run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("verify %v: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
}
