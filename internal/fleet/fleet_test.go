package fleet

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/secret"
)

// now has nanoseconds, to catch a database that rounds times.
var now = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

func newService(t *testing.T, db *meta.DB) *Service {
	t.Helper()
	s, err := New(t.Context(), db, nil, func() time.Time { return now }, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// norm makes times comparable with ==: UTC, no monotonic reading.
func norm(e Edge) Edge {
	for _, t := range []*time.Time{&e.EnrollExpires, &e.Created, &e.Enrolled, &e.PrevUntil} {
		if !t.IsZero() {
			*t = t.UTC().Round(0)
		}
	}
	return e
}

func checkEdge(t *testing.T, what string, got, want Edge) {
	t.Helper()
	if norm(got) != norm(want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testEdges(now time.Time) []Edge {
	return []Edge{
		{ID: "edge-1", Org: "acme", Name: "press hall", EnrollHash: "enroll-1", EnrollExpires: now.Add(time.Hour), Created: now},
		{ID: "edge-2", Org: "acme", Name: "paint shop", EnrollHash: "enroll-2", EnrollExpires: now.Add(time.Hour), Created: now},
		{ID: "edge-3", Org: "globex", Name: "lathe", EnrollHash: "enroll-3", EnrollExpires: now.Add(time.Hour), Created: now},
	}
}

// withEdges runs test on each database with the edges of testEdges.
func withEdges(t *testing.T, test func(t *testing.T, s *Service, es []Edge)) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		s := newService(t, db)
		es := testEdges(now)
		// Created out of ID order, to check that Edges sorts.
		for _, i := range []int{1, 0, 2} {
			if err := s.Insert(t.Context(), es[i]); err != nil {
				t.Fatalf("Insert(%s): %v", es[i].ID, err)
			}
		}
		test(t, s, es)
	})
}

func TestEdges(t *testing.T) {
	withEdges(t, func(t *testing.T, s *Service, es []Edge) {
		ctx := t.Context()
		got, err := s.Edge(ctx, "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "Edge", got, es[0])

		list, err := s.Edges(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("Edges(acme) = %+v, want edge-1 and edge-2", list)
		}
		checkEdge(t, "Edges(acme)[0]", list[0], es[0])
		checkEdge(t, "Edges(acme)[1]", list[1], es[1])
		if list, err := s.Edges(ctx, "nobody"); err != nil || len(list) != 0 {
			t.Errorf("Edges(nobody) = %+v, %v; want none", list, err)
		}

		dup := es[2]
		dup.Org, dup.EnrollHash = "acme", "enroll-other"
		wantErr(t, "Insert of a taken id in another org", s.Insert(ctx, dup), meta.ErrExists)
		if got, _ := s.Edge(ctx, "globex", "edge-3"); got.EnrollHash != "enroll-3" {
			t.Errorf("a refused Insert changed the edge to %+v", got)
		}
		dup = Edge{ID: "edge-4", Org: "acme", EnrollHash: "enroll-1"}
		wantErr(t, "Insert of a taken enrollment hash", s.Insert(ctx, dup), meta.ErrExists)
		wantErr(t, "Insert with a NUL", s.Insert(ctx, Edge{ID: "edge-5", Org: "acme", Name: "n\x00"}), meta.ErrInvalid)

		_, err = s.Edge(ctx, "globex", "edge-1")
		wantErr(t, "Edge of another org's edge", err, meta.ErrNotFound)
		_, err = s.Edge(ctx, "acme", "edge-9")
		wantErr(t, "Edge of an unknown id", err, meta.ErrNotFound)
		_, err = s.Edge(ctx, "acme", "edge\x00")
		wantErr(t, "Edge of an id with a NUL", err, meta.ErrNotFound)

		wantErr(t, "Revoke of another org's edge", s.Revoke(ctx, "globex", "edge-1"), meta.ErrNotFound)
		wantErr(t, "Revoke of an unknown id", s.Revoke(ctx, "acme", "edge-9"), meta.ErrNotFound)
		wantErr(t, "Revoke of an id with a NUL", s.Revoke(ctx, "acme", "\x00"), meta.ErrNotFound)
		if got, _ := s.Edge(ctx, "acme", "edge-1"); got.Revoked {
			t.Error("Revoke by another org revoked the edge")
		}
		if err := s.Revoke(ctx, "acme", "edge-1"); err != nil {
			t.Fatal(err)
		}
		got, err = s.Edge(ctx, "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		want := es[0]
		want.Revoked = true
		checkEdge(t, "Edge after Revoke", got, want)
		if got, _ := s.Edge(ctx, "acme", "edge-2"); got.Revoked {
			t.Error("Revoke revoked another edge too")
		}
	})
}

func TestEnrollOnce(t *testing.T) {
	withEdges(t, func(t *testing.T, s *Service, es []Edge) {
		ctx := t.Context()
		at := now.Add(time.Minute)
		got, err := s.consume(ctx, "enroll-1", "cred-1", "", at)
		if err != nil {
			t.Fatal(err)
		}
		want := es[0]
		want.EnrollHash, want.CredHash, want.Enrolled = "", "cred-1", at
		checkEdge(t, "consume", got, want)
		if got, _ := s.Edge(ctx, "acme", "edge-1"); norm(got) != norm(want) {
			t.Errorf("Edge after consume = %+v, want %+v", got, want)
		}

		_, err = s.consume(ctx, "enroll-1", "cred-again", "", at)
		wantErr(t, "second consume of the same token", err, meta.ErrNotFound)
		// After enrollment EnrollHash is "": the empty token must not match it.
		_, err = s.consume(ctx, "", "cred-empty", "", at)
		wantErr(t, "consume of an empty token", err, meta.ErrNotFound)
		_, err = s.consume(ctx, "enroll-9", "cred-9", "", at)
		wantErr(t, "consume of an unknown token", err, meta.ErrNotFound)
		_, err = s.consume(ctx, "enroll-2", "cred-1", "", at)
		wantErr(t, "consume with another edge's credential", err, meta.ErrExists)

		got, err = s.edgeByCredHash(ctx, "cred-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "edgeByCredHash", got, want)
		for _, c := range []string{"cred-again", "cred-empty", "cred-9", ""} {
			_, err := s.edgeByCredHash(ctx, c)
			wantErr(t, "edgeByCredHash("+c+")", err, meta.ErrNotFound)
		}
	})
}

func TestEnrollExpired(t *testing.T) {
	withEdges(t, func(t *testing.T, s *Service, es []Edge) {
		ctx := t.Context()
		expires := es[0].EnrollExpires
		for _, at := range []time.Time{expires, expires.Add(time.Nanosecond), expires.Add(24 * time.Hour)} {
			_, err := s.consume(ctx, "enroll-1", "cred-1", "", at)
			wantErr(t, "consume at "+at.Sub(expires).String()+" after expiry", err, meta.ErrNotFound)
		}
		got, err := s.Edge(ctx, "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "Edge after refused enrollments", got, es[0])
		if _, err := s.consume(ctx, "enroll-1", "cred-1", "", expires.Add(-time.Nanosecond)); err != nil {
			t.Errorf("consume just before expiry: %v", err)
		}
	})
}

func TestEnrollRevoked(t *testing.T) {
	withEdges(t, func(t *testing.T, s *Service, es []Edge) {
		ctx := t.Context()
		if err := s.Revoke(ctx, "acme", "edge-2"); err != nil {
			t.Fatal(err)
		}
		_, err := s.consume(ctx, "enroll-2", "cred-2", "", now)
		wantErr(t, "consume for a revoked edge", err, meta.ErrNotFound)
		_, err = s.edgeByCredHash(ctx, "cred-2")
		wantErr(t, "edgeByCredHash after a refused enrollment", err, meta.ErrNotFound)

		// An enrolled edge that is revoked is found, marked revoked.
		if _, err := s.consume(ctx, "enroll-3", "cred-3", "", now); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "globex", "edge-3"); err != nil {
			t.Fatal(err)
		}
		got, err := s.edgeByCredHash(ctx, "cred-3")
		if err != nil || !got.Revoked || got.ID != "edge-3" {
			t.Errorf("edgeByCredHash of a revoked edge = %+v, %v; want edge-3 revoked", got, err)
		}
	})
}

func TestEnrollConcurrent(t *testing.T) {
	withEdges(t, func(t *testing.T, s *Service, _ []Edge) {
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.consume(t.Context(), "enroll-1", "cred-"+string(rune('a'+i)), "", now)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, meta.ErrNotFound):
				t.Errorf("consume: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent enrollments with one token succeeded, want 1", ok, n)
		}
	})
}

// TestAuthenticate turns credentials into principals: an enrolled edge's,
// a revoked edge's (ErrRevoked, so the edge can say why), anything else.
func TestAuthenticate(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		e, token, err := s.CreateEdge(ctx, "acme", "press")
		if err != nil {
			t.Fatal(err)
		}
		_, cred, err := s.Enroll(ctx, token, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Authenticate(ctx, cred)
		if want := (api.Principal{Org: "acme", Role: api.RoleEdge, Name: "press", Edge: e.ID}); err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("Authenticate = %+v, %v; want %+v", p, err, want)
		}
		for _, bad := range []string{"", secret.New(secret.PrefixCredential), secret.New(secret.PrefixToken), token, "mlc_\x00"} {
			if _, err := s.Authenticate(ctx, bad); !errors.Is(err, api.ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
			}
		}
		if err := s.Revoke(ctx, "acme", e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, cred); !errors.Is(err, api.ErrRevoked) {
			t.Errorf("Authenticate of a revoked edge = %v, want ErrRevoked", err)
		}
	})
}

// serve serves the domain's routes on SQLite, with admin tokens of orgs a
// and b and a viewer of a.
func serve(t *testing.T) (*apitest.Server, *Service) {
	s := newService(t, metatest.SQLite(t))
	return apitest.Serve(t, apitest.Secrets{
		"token-a": {Org: "a", Role: api.RoleAdmin, Name: "aadmin"},
		"token-b": {Org: "b", Role: api.RoleAdmin, Name: "badmin"},
		"view-a":  {Org: "a", Role: api.RoleViewer, Name: "aviewer"},
	}, s, s.Routes()), s
}

func TestEnrollOnceAndRevoke(t *testing.T) {
	srv, s := serve(t)
	code, created := srv.Do("POST", "/api/v1/edges", "token-a", strings.NewReader(`{"name":"line-1"}`))
	if code != 201 {
		t.Fatalf("create edge: %d %v", code, created)
	}
	token := created["enroll_token"].(string)
	code, en := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(`{"token":"`+token+`"}`))
	if code != 200 || !strings.HasPrefix(en["credential"].(string), secret.PrefixCredential) || en["org"] != "a" {
		t.Fatalf("enroll: %d %v", code, en)
	}
	if code, _ := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(`{"token":"`+token+`"}`)); code != 401 {
		t.Errorf("second enrollment with the same token: %d, want 401", code)
	}
	cred := en["credential"].(string)
	if _, err := s.Authenticate(t.Context(), cred); err != nil {
		t.Fatalf("fresh credential: %v", err)
	}
	id := en["edge_id"].(string)
	if code, _ := srv.Do("POST", "/api/v1/edges/"+id+"/revoke", "token-b", nil); code != 404 {
		t.Errorf("org b revoking org a's edge: %d, want 404", code)
	}
	if code, _ := srv.Do("POST", "/api/v1/edges/"+id+"/revoke", "view-a", nil); code != 403 {
		t.Errorf("a viewer revoking an edge: %d, want 403", code)
	}
	code, revoked := srv.Do("POST", "/api/v1/edges/"+id+"/revoke", "token-a", nil)
	if code != 200 || revoked["revoked"] != true || revoked["enrolled"] == nil {
		t.Fatalf("revoke: %d %v", code, revoked)
	}
	if _, err := s.Authenticate(t.Context(), cred); !errors.Is(err, api.ErrRevoked) {
		t.Errorf("credential after revocation: %v, want ErrRevoked", err)
	}
	if code, _ := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(`{}`)); code != 400 {
		t.Errorf("enroll without token: %d, want 400", code)
	}
	_, list := srv.Do("GET", "/api/v1/edges", "token-b", nil)
	if edges := list["edges"].([]any); len(edges) != 0 {
		t.Errorf("org b lists org a's edge: %v", list)
	}
	for _, body := range []string{`{"name":""}`, `{"name":"x","org":"b"}`, `{"name":"` + strings.Repeat("x", 101) + `"}`, `{"name":"nul\u0000"}`} {
		if code, _ := srv.Do("POST", "/api/v1/edges", "token-a", strings.NewReader(body)); code != 400 {
			t.Errorf("create edge with %s: %d, want 400", body, code)
		}
	}
}

func TestEnrollAgainAfterALostAnswer(t *testing.T) {
	srv, _ := serve(t)
	_, created := srv.Do("POST", "/api/v1/edges", "token-a", strings.NewReader(`{"name":"line-2"}`))
	token := created["enroll_token"].(string)
	cred := secret.New(secret.PrefixCredential)
	body := `{"token":"` + token + `","credential":"` + cred + `"}`
	code, first := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(body))
	if code != 200 || first["credential"] != cred {
		t.Fatalf("enroll with a proposed credential: %d %v", code, first)
	}
	// The answer was lost; the edge asks again with the same token and credential.
	code, again := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(body))
	if code != 200 || again["edge_id"] != first["edge_id"] {
		t.Fatalf("asking again: %d %v, want the same enrollment %v", code, again, first)
	}
	// Someone else with the used token but another credential gets nothing.
	other := `{"token":"` + token + `","credential":"` + secret.New(secret.PrefixCredential) + `"}`
	if code, _ := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(other)); code != 401 {
		t.Errorf("used token with another credential: %d, want 401", code)
	}
	if code, _ := srv.Do("POST", "/api/v1/enroll", "", strings.NewReader(`{"token":"`+token+`","credential":"mlc_weak"}`)); code != 400 {
		t.Errorf("malformed proposed credential: %d, want 400", code)
	}
}
