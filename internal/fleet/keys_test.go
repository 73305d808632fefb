package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uplink"
)

// recorder keeps the audit entries the service records.
type recorder struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (r *recorder) Record(_ context.Context, e audit.Entry) (audit.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return e, nil
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.entries {
		out = append(out, e.Action)
	}
	return out
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// signed is a request to the uplink signed by key as edge id at at.
func signed(id string, key ed25519.PrivateKey, at time.Time, body string) *http.Request {
	r := httptest.NewRequest("POST", "/api/v1/uplink", bytes.NewReader([]byte(body)))
	(&uplink.Signer{KeyID: id, Key: key}).Sign(r, []byte(body), at)
	return r
}

func TestEdgeKeys(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		clk := clocktest.New(now)
		s, err := New(ctx, db, nil, clk.Now, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		s.RecordTo(rec)
		e, token, err := s.CreateEdge(ctx, "acme", "press hall")
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t)
		proof := uplink.EncodeKey(ed25519.Sign(key, uplink.EnrollProof(token)))

		// Enrollment needs the key's proof.
		wrong := uplink.EncodeKey(ed25519.Sign(newKey(t), uplink.EnrollProof(token)))
		_, err = s.EnrollKey(ctx, token, pubOf(key), wrong)
		wantErr(t, "enroll with another key's proof", err, api.ErrBadRequest)
		got, err := s.EnrollKey(ctx, token, pubOf(key), proof)
		if err != nil || got.ID != e.ID || got.PublicKey != uplink.EncodeKey(pubOf(key)) || got.CredHash != "" {
			t.Fatalf("EnrollKey = %+v, %v", got, err)
		}
		// A lost answer: the same key and token get the same enrollment;
		// another key with the used token gets nothing.
		if again, err := s.EnrollKey(ctx, token, pubOf(key), proof); err != nil || again.ID != e.ID {
			t.Errorf("enroll again with the same key: %+v, %v", again, err)
		}
		other := newKey(t)
		_, err = s.EnrollKey(ctx, token, pubOf(other), uplink.EncodeKey(ed25519.Sign(other, uplink.EnrollProof(token))))
		wantErr(t, "used token with another key", err, api.ErrUnauthenticated)

		p, err := s.AuthenticateRequest(signed(e.ID, key, now, "batch"))
		if err != nil || p.Edge != e.ID || p.Org != "acme" || p.Role != api.RoleEdge {
			t.Fatalf("signed request: %+v, %v", p, err)
		}
		replayed := signed(e.ID, key, now, "batch")
		if _, err := s.AuthenticateRequest(replayed.Clone(ctx)); err != nil {
			t.Fatal(err)
		}
		replayed.Body = httptest.NewRequest("POST", "/", bytes.NewReader([]byte("batch"))).Body
		_, err = s.AuthenticateRequest(replayed)
		wantErr(t, "the same request again", err, uplink.ErrBadSignature)

		tampered := signed(e.ID, key, now, "batch")
		tampered.Body = httptest.NewRequest("POST", "/", bytes.NewReader([]byte("other batch"))).Body
		_, err = s.AuthenticateRequest(tampered)
		wantErr(t, "a body that is not the signed one", err, uplink.ErrBadSignature)
		moved := signed(e.ID, key, now, "batch")
		moved.URL.Path = "/api/v1/edge/key"
		_, err = s.AuthenticateRequest(moved)
		wantErr(t, "another path", err, uplink.ErrBadSignature)
		_, err = s.AuthenticateRequest(signed(e.ID, other, now, "batch"))
		wantErr(t, "another key", err, uplink.ErrBadSignature)
		_, err = s.AuthenticateRequest(signed("edge-nobody", key, now, "batch"))
		wantErr(t, "an unknown edge", err, api.ErrUnauthenticated)
		for _, skew := range []time.Duration{MaxSkew + time.Second, -MaxSkew - time.Second} {
			_, err = s.AuthenticateRequest(signed(e.ID, key, now.Add(skew), "batch"))
			wantErr(t, "a signature "+skew.String()+" off", err, uplink.ErrBadSignature)
		}
		if _, err := s.AuthenticateRequest(signed(e.ID, key, now.Add(MaxSkew-time.Second), "batch")); err != nil {
			t.Errorf("a signature within the skew: %v", err)
		}

		// Rotation: the new key works at once, the old one for KeyGrace.
		next := newKey(t)
		if err := s.SetKey(ctx, "globex", e.ID, pubOf(next)); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another organisation sets the key: %v, want ErrNotFound", err)
		}
		if err := s.SetKey(ctx, "acme", e.ID, pubOf(next)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetKey(ctx, "acme", e.ID, pubOf(next)); err != nil {
			t.Errorf("setting the same key again: %v", err)
		}
		clk.Add(KeyGrace - time.Second)
		for name, k := range map[string]ed25519.PrivateKey{"new": next, "previous": key} {
			if _, err := s.AuthenticateRequest(signed(e.ID, k, clk.Now(), "batch")); err != nil {
				t.Errorf("%s key within the grace: %v", name, err)
			}
		}
		clk.Add(time.Second)
		_, err = s.AuthenticateRequest(signed(e.ID, key, clk.Now(), "batch"))
		wantErr(t, "previous key after the grace", err, uplink.ErrBadSignature)

		// Revocation: the next request is refused.
		if err := s.Revoke(ctx, "acme", e.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.AuthenticateRequest(signed(e.ID, next, clk.Now(), "batch"))
		wantErr(t, "revoked edge", err, api.ErrRevoked)
		if err := s.SetKey(ctx, "acme", e.ID, pubOf(newKey(t))); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("revoked edge sets a key: %v, want ErrNotFound", err)
		}

		if got, want := rec.actions(), []string{"edge.enrolled", "edge.key_rotated"}; !slices.Equal(got, want) {
			t.Errorf("audit actions %v, want %v", got, want)
		}
	})
}

// An edge enrolled with a credential moves to a key: the credential stops
// working, the key works.
func TestCredentialEdgeMovesToKey(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		rec := &recorder{}
		s.RecordTo(rec)
		_, token, err := s.CreateEdge(ctx, "acme", "old edge")
		if err != nil {
			t.Fatal(err)
		}
		e, cred, err := s.Enroll(ctx, token, secret.New(secret.PrefixCredential))
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t)
		if err := s.SetKey(ctx, "acme", e.ID, pubOf(key)); err != nil {
			t.Fatal(err)
		}
		_, err = s.Authenticate(ctx, cred)
		wantErr(t, "credential after the move to a key", err, api.ErrUnauthenticated)
		if _, err := s.AuthenticateRequest(signed(e.ID, key, now, "x")); err != nil {
			t.Errorf("key after the move: %v", err)
		}
		if got, want := rec.actions(), []string{"edge.enrolled", "edge.key_registered"}; !slices.Equal(got, want) {
			t.Errorf("audit actions %v, want %v", got, want)
		}
	})
}

func TestKeyRoutes(t *testing.T) {
	s := newService(t, metatest.SQLite(t))
	rec := &recorder{}
	s.RecordTo(rec)
	rt := &api.Router{Tokens: apitest.Secrets{"token-a": {Org: "a", Role: api.RoleAdmin, Name: "aadmin"}},
		Edges: s, EdgeRequests: s}
	rt.Handle(s.Routes()...)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	do := func(req *http.Request) int {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	_, token, err := s.CreateEdge(t.Context(), "a", "line")
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	c := &uplink.Client{URL: srv.URL, Now: func() time.Time { return now }}
	en, err := c.EnrollKey(t.Context(), token, key)
	if err != nil || en.Credential != "" || en.Org != "a" {
		t.Fatalf("EnrollKey = %+v, %v", en, err)
	}
	c.Signer = func() *uplink.Signer { return &uplink.Signer{KeyID: en.EdgeID, Key: key} }
	next := newKey(t)
	if err := c.RegisterKey(t.Context(), en.EdgeID, next); err != nil {
		t.Fatalf("register the next key: %v", err)
	}
	// A proof of another key is refused.
	body := []byte(`{"public_key":"` + uplink.EncodeKey(pubOf(next)) + `","proof":"` +
		uplink.EncodeKey(ed25519.Sign(key, uplink.KeyProof(en.EdgeID, pubOf(next)))) + `"}`)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/edge/key", bytes.NewReader(body))
	(&uplink.Signer{KeyID: en.EdgeID, Key: next}).Sign(req, body, now)
	if code := do(req); code != 400 {
		t.Errorf("key change with a wrong proof: %d, want 400", code)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/api/v1/edges/"+en.EdgeID+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer token-a")
	if code := do(req); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	c.Signer = func() *uplink.Signer { return &uplink.Signer{KeyID: en.EdgeID, Key: next} }
	if err := c.RegisterKey(t.Context(), en.EdgeID, newKey(t)); !errors.Is(err, uplink.ErrUnauthorized) {
		t.Errorf("key change of a revoked edge: %v, want ErrUnauthorized", err)
	}
	if got, want := rec.actions(), []string{"edge.enrolled", "edge.key_rotated", "edge.revoked"}; !slices.Equal(got, want) {
		t.Errorf("audit actions %v, want %v", got, want)
	}
}
