package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
)

// norm makes times comparable with ==: UTC, no monotonic reading, and the
// zero time as it is. Backends may return times in any location.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

func normEdge(e store.Edge) store.Edge {
	e.EnrollExpires, e.Created, e.Enrolled = norm(e.EnrollExpires), norm(e.Created), norm(e.Enrolled)
	return e
}

func checkEdge(t *testing.T, what string, got, want store.Edge) {
	t.Helper()
	if normEdge(got) != normEdge(want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testMeta(t *testing.T, open Opener) {
	// now has nanoseconds, to catch backends that round times.
	now := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

	t.Run("Orgs", func(t *testing.T) {
		s := newStore(t, open)
		o := store.Org{ID: "acme", Name: "ACME Metaal B.V.", Kind: store.Company, Created: now}
		if err := s.CreateOrg(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateOrg(t.Context(), store.Org{ID: "edih-east", Name: "EDIH East", Kind: store.Hub, Created: now}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Org(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if got.Created = norm(got.Created); got != o {
			t.Errorf("Org = %+v, want %+v", got, o)
		}
		err = s.CreateOrg(t.Context(), store.Org{ID: "acme", Name: "other", Kind: store.Hub, Created: now})
		wantErr(t, "CreateOrg of a taken id", err, store.ErrExists)
		if got, _ := s.Org(t.Context(), "acme"); got.Name != o.Name {
			t.Errorf("a refused CreateOrg changed the organisation to %+v", got)
		}
		_, err = s.Org(t.Context(), "nobody")
		wantErr(t, "Org of an unknown id", err, store.ErrNotFound)
	})

	t.Run("Tokens", func(t *testing.T) {
		s := newStore(t, open)
		tok := store.Token{Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Org: "acme", Role: store.Viewer, Name: "dashboard", Created: now}
		if err := s.CreateToken(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(t.Context(), tok.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Created = norm(got.Created); got != tok {
			t.Errorf("TokenByHash = %+v, want %+v", got, tok)
		}
		dup := tok
		dup.Org, dup.Role = "other", store.Admin
		wantErr(t, "CreateToken of a taken hash", s.CreateToken(t.Context(), dup), store.ErrExists)
		if got, _ := s.TokenByHash(t.Context(), tok.Hash); got.Org != tok.Org || got.Role != tok.Role {
			t.Errorf("a refused CreateToken changed the token to %+v", got)
		}
		for _, h := range []string{"", "9f86d081", tok.Hash + "0"} {
			_, err := s.TokenByHash(t.Context(), h)
			wantErr(t, "TokenByHash("+h+")", err, store.ErrNotFound)
		}
	})

	edges := func(now time.Time) []store.Edge {
		return []store.Edge{
			{ID: "edge-1", Org: "acme", Name: "press hall", EnrollHash: "enroll-1", EnrollExpires: now.Add(time.Hour), Created: now},
			{ID: "edge-2", Org: "acme", Name: "paint shop", EnrollHash: "enroll-2", EnrollExpires: now.Add(time.Hour), Created: now},
			{ID: "edge-3", Org: "globex", Name: "lathe", EnrollHash: "enroll-3", EnrollExpires: now.Add(time.Hour), Created: now},
		}
	}
	withEdges := func(t *testing.T) (store.Store, []store.Edge) {
		s := newStore(t, open)
		es := edges(now)
		// Created out of ID order, to check that Edges sorts.
		for _, i := range []int{1, 0, 2} {
			if err := s.CreateEdge(t.Context(), es[i]); err != nil {
				t.Fatalf("CreateEdge(%s): %v", es[i].ID, err)
			}
		}
		return s, es
	}

	t.Run("Edges", func(t *testing.T) {
		s, es := withEdges(t)
		got, err := s.Edge(t.Context(), "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "Edge", got, es[0])

		list, err := s.Edges(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("Edges(acme) = %+v, want edge-1 and edge-2", list)
		}
		checkEdge(t, "Edges(acme)[0]", list[0], es[0])
		checkEdge(t, "Edges(acme)[1]", list[1], es[1])
		if list, err := s.Edges(t.Context(), "nobody"); err != nil || len(list) != 0 {
			t.Errorf("Edges(nobody) = %+v, %v; want none", list, err)
		}

		dup := es[2]
		dup.Org, dup.EnrollHash = "acme", "enroll-other"
		wantErr(t, "CreateEdge of a taken id in another org", s.CreateEdge(t.Context(), dup), store.ErrExists)
		if got, _ := s.Edge(t.Context(), "globex", "edge-3"); got.EnrollHash != "enroll-3" {
			t.Errorf("a refused CreateEdge changed the edge to %+v", got)
		}

		_, err = s.Edge(t.Context(), "globex", "edge-1")
		wantErr(t, "Edge of another org's edge", err, store.ErrNotFound)
		_, err = s.Edge(t.Context(), "acme", "edge-9")
		wantErr(t, "Edge of an unknown id", err, store.ErrNotFound)

		wantErr(t, "RevokeEdge of another org's edge", s.RevokeEdge(t.Context(), "globex", "edge-1"), store.ErrNotFound)
		wantErr(t, "RevokeEdge of an unknown id", s.RevokeEdge(t.Context(), "acme", "edge-9"), store.ErrNotFound)
		if got, _ := s.Edge(t.Context(), "acme", "edge-1"); got.Revoked {
			t.Error("RevokeEdge by another org revoked the edge")
		}
		if err := s.RevokeEdge(t.Context(), "acme", "edge-1"); err != nil {
			t.Fatal(err)
		}
		got, err = s.Edge(t.Context(), "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		want := es[0]
		want.Revoked = true
		checkEdge(t, "Edge after RevokeEdge", got, want)
		if got, _ := s.Edge(t.Context(), "acme", "edge-2"); got.Revoked {
			t.Error("RevokeEdge revoked another edge too")
		}
	})

	t.Run("EnrollOnce", func(t *testing.T) {
		s, es := withEdges(t)
		at := now.Add(time.Minute)
		got, err := s.Enroll(t.Context(), "enroll-1", "cred-1", at)
		if err != nil {
			t.Fatal(err)
		}
		want := es[0]
		want.EnrollHash, want.CredHash, want.Enrolled = "", "cred-1", at
		checkEdge(t, "Enroll", got, want)
		if got, _ := s.Edge(t.Context(), "acme", "edge-1"); normEdge(got) != normEdge(want) {
			t.Errorf("Edge after Enroll = %+v, want %+v", got, want)
		}

		_, err = s.Enroll(t.Context(), "enroll-1", "cred-again", at)
		wantErr(t, "second Enroll with the same token", err, store.ErrNotFound)
		// After enrollment EnrollHash is "": the empty token must not match it.
		_, err = s.Enroll(t.Context(), "", "cred-empty", at)
		wantErr(t, "Enroll with an empty token", err, store.ErrNotFound)
		_, err = s.Enroll(t.Context(), "enroll-9", "cred-9", at)
		wantErr(t, "Enroll with an unknown token", err, store.ErrNotFound)

		got, err = s.EdgeByCredential(t.Context(), "cred-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "EdgeByCredential", got, want)
		for _, c := range []string{"cred-again", "cred-empty", "cred-9", ""} {
			_, err := s.EdgeByCredential(t.Context(), c)
			wantErr(t, "EdgeByCredential("+c+")", err, store.ErrNotFound)
		}
	})

	t.Run("EnrollExpired", func(t *testing.T) {
		s, es := withEdges(t)
		expires := es[0].EnrollExpires
		for _, at := range []time.Time{expires, expires.Add(time.Nanosecond), expires.Add(24 * time.Hour)} {
			_, err := s.Enroll(t.Context(), "enroll-1", "cred-1", at)
			wantErr(t, "Enroll at "+at.Sub(expires).String()+" after expiry", err, store.ErrNotFound)
		}
		got, err := s.Edge(t.Context(), "acme", "edge-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEdge(t, "Edge after refused enrollments", got, es[0])
		if _, err := s.Enroll(t.Context(), "enroll-1", "cred-1", expires.Add(-time.Nanosecond)); err != nil {
			t.Errorf("Enroll just before expiry: %v", err)
		}
	})

	t.Run("EnrollRevoked", func(t *testing.T) {
		s, _ := withEdges(t)
		if err := s.RevokeEdge(t.Context(), "acme", "edge-2"); err != nil {
			t.Fatal(err)
		}
		_, err := s.Enroll(t.Context(), "enroll-2", "cred-2", now)
		wantErr(t, "Enroll of a revoked edge", err, store.ErrNotFound)
		_, err = s.EdgeByCredential(t.Context(), "cred-2")
		wantErr(t, "EdgeByCredential after a refused enrollment", err, store.ErrNotFound)
	})

	t.Run("EdgeByCredentialRevoked", func(t *testing.T) {
		s, _ := withEdges(t)
		if _, err := s.Enroll(t.Context(), "enroll-3", "cred-3", now); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeEdge(t.Context(), "globex", "edge-3"); err != nil {
			t.Fatal(err)
		}
		got, err := s.EdgeByCredential(t.Context(), "cred-3")
		if err != nil {
			t.Fatalf("EdgeByCredential of a revoked edge: %v (want the edge, marked revoked)", err)
		}
		if !got.Revoked || got.ID != "edge-3" {
			t.Errorf("EdgeByCredential = %+v, want edge-3 revoked", got)
		}
	})

	t.Run("EnrollConcurrent", func(t *testing.T) {
		s, _ := withEdges(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.Enroll(t.Context(), "enroll-1", "cred-"+string(rune('a'+i)), now)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("Enroll: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent enrollments with one token succeeded, want 1", ok, n)
		}
	})
}
