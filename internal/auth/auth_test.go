package auth_test

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/secret"
)

// now has nanoseconds, to catch a database that rounds times.
var now = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// testArgon2 are cheap parameters: tests hash many passwords.
var testArgon2 = auth.Argon2{Time: 1, Memory: 64, Threads: 1}

func newService(t *testing.T, db *meta.DB) *auth.Service {
	t.Helper()
	s, err := auth.New(t.Context(), auth.Config{DB: db, Now: func() time.Time { return now }, Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func TestOrgs(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		o := auth.Org{ID: "acme", Name: "ACME Metaal B.V.", Kind: auth.Company, Created: now}
		for _, org := range []auth.Org{{ID: "edih-east", Name: "EDIH East", Kind: auth.Hub, Created: now}, o} {
			if err := s.CreateOrg(ctx, org); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Org(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if got != o {
			t.Errorf("Org = %+v, want %+v", got, o)
		}
		wantErr(t, "CreateOrg of a taken id", s.CreateOrg(ctx, auth.Org{ID: "acme", Name: "other", Kind: auth.Hub}), meta.ErrExists)
		if got, _ := s.Org(ctx, "acme"); got.Name != o.Name {
			t.Errorf("a refused CreateOrg changed the organisation to %+v", got)
		}
		wantErr(t, "CreateOrg with a NUL", s.CreateOrg(ctx, auth.Org{ID: "o", Name: "bad\x00name"}), meta.ErrInvalid)
		for _, id := range []string{"nobody", "\x00", "\xff"} {
			_, err = s.Org(ctx, id)
			wantErr(t, "Org of "+id, err, meta.ErrNotFound)
		}
		orgs, err := s.Orgs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 2 || orgs[0].ID != "acme" || orgs[1].ID != "edih-east" || orgs[0] != o {
			t.Errorf("Orgs = %+v, want acme and edih-east by ID", orgs)
		}
	})
}

func TestTokens(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		tok := auth.Token{Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Org: "acme", Role: api.RoleViewer, Name: "dashboard", Created: now}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatal(err)
		}
		tok.ID, tok.Scopes = "tok_"+tok.Hash[:20], "read"
		if got != tok {
			t.Errorf("TokenByHash = %+v, want %+v", got, tok)
		}
		dup := tok
		dup.Org, dup.Role = "other", api.RoleAdmin
		wantErr(t, "CreateToken of a taken hash", s.CreateToken(ctx, dup), meta.ErrExists)
		if got, _ := s.TokenByHash(ctx, tok.Hash); got.Org != tok.Org || got.Role != tok.Role {
			t.Errorf("a refused CreateToken changed the token to %+v", got)
		}
		for _, h := range []string{"", "9f86d081", tok.Hash + "0", "\x00"} {
			_, err := s.TokenByHash(ctx, h)
			wantErr(t, "TokenByHash("+h+")", err, meta.ErrNotFound)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		if err := s.CreateOrg(ctx, auth.Org{ID: "acme", Kind: auth.Company}); err != nil {
			t.Fatal(err)
		}
		sec, err := s.NewToken(ctx, "acme", api.RoleAdmin, "ops")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Authenticate(ctx, sec)
		if want := (api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleAdmin, Name: "ops", Token: p.Token, Scopes: "admin"}); err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("Authenticate = %+v, %v; want %+v", p, err, want)
		}
		for _, bad := range []string{"", secret.New(secret.PrefixToken), secret.New(secret.PrefixCredential), "mlt_\x00", sec + "x"} {
			if _, err := s.Authenticate(ctx, bad); !errors.Is(err, api.ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
			}
		}
	})
}

// TestBootstrap creates the first organisation and admin token once; a
// failing keep leaves nothing behind.
func TestBootstrap(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		org := auth.Org{ID: "default", Name: "Default organisation", Kind: auth.Company, Created: now}
		failed := errors.New("disk full")
		_, err := s.Bootstrap(ctx, org, func(string) error { return failed })
		wantErr(t, "Bootstrap with a failing keep", err, failed)
		if _, err := s.Org(ctx, "default"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("organisation after a failed Bootstrap: %v, want none", err)
		}

		var kept string
		sec, err := s.Bootstrap(ctx, org, func(s string) error { kept = s; return nil })
		if err != nil || sec == "" || sec != kept {
			t.Fatalf("Bootstrap = %q, %v; kept %q", sec, err, kept)
		}
		if p, err := s.Authenticate(ctx, sec); err != nil || p.Role != api.RoleAdmin || p.Org != "default" {
			t.Errorf("the first admin token: %+v, %v", p, err)
		}
		again, err := s.Bootstrap(ctx, org, func(string) error { t.Error("keep called again"); return nil })
		if err != nil || again != "" {
			t.Errorf("second Bootstrap = %q, %v; want nothing to do", again, err)
		}
	})
}

// TestBootstrapConcurrently bootstraps from several hubs on one fresh
// PostgreSQL schema at once: all succeed, one makes the organisation and
// its token, and that token works.
func TestBootstrapConcurrently(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	const hubs = 4
	secrets := make([]string, hubs)
	errs := make([]error, hubs)
	svcs := make([]*auth.Service, hubs)
	var wg sync.WaitGroup
	for i := range hubs {
		wg.Go(func() {
			db, err := meta.OpenPostgres(t.Context(), dsn, schema)
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(func() { db.Close() })
			if svcs[i], err = auth.New(t.Context(), auth.Config{DB: db, Argon2: testArgon2}); err != nil {
				errs[i] = err
				return
			}
			secrets[i], errs[i] = svcs[i].Bootstrap(t.Context(), auth.Org{ID: "default", Kind: auth.Company, Created: now}, func(string) error { return nil })
		})
	}
	wg.Wait()
	var made []string
	for i, err := range errs {
		if err != nil {
			t.Fatalf("hub %d: %v", i, err)
		}
		if secrets[i] != "" {
			made = append(made, secrets[i])
		}
	}
	if len(made) != 1 {
		t.Fatalf("%d hubs made an admin token, want 1", len(made))
	}
	orgs, err := svcs[0].Orgs(t.Context())
	if err != nil || len(orgs) != 2 {
		t.Errorf("Orgs = %+v, %v; want the platform and the default organisation", orgs, err)
	}
	for i, s := range svcs {
		if _, err := s.Authenticate(t.Context(), made[0]); err != nil {
			t.Errorf("hub %d: the admin token: %v", i, err)
		}
	}
}

func TestWhoami(t *testing.T) {
	s := newService(t, metatest.SQLite(t))
	if err := s.CreateOrg(t.Context(), auth.Org{ID: "acme", Kind: auth.Company}); err != nil {
		t.Fatal(err)
	}
	sec, err := s.NewToken(t.Context(), "acme", api.RoleViewer, "wall")
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Serve(t, s, nil, s.Routes())
	code, body := srv.Do("GET", "/api/v1/whoami", sec, nil)
	if code != 200 || body["org"] != "acme" || body["role"] != "viewer" || body["name"] != "wall" {
		t.Errorf("whoami = %d %v", code, body)
	}
	if code, body := srv.Do("GET", "/api/v1/whoami", strings.Replace(sec, "mlt_", "mlc_", 1), nil); code != 401 {
		t.Errorf("whoami with an edge credential's prefix = %d %v, want 401", code, body)
	}
}
