package fleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uplink"
)

// Secrets apply in the layers' order; each edge's manifest holds the value
// sealed for its key only, the same until the value or the key changes;
// the layers name secrets without their values; another organisation's
// edges get none; the hub's key file is needed to seal.
func TestSecretsInLayers(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		if err := s.PutSecret(ctx, "acme", ScopeOrg, "", "pw", "x"); err == nil {
			t.Fatal("a secret set without a secrets key")
		}
		keyFile := filepath.Join(t.TempDir(), "secrets.key")
		if err := s.SetSecretsKey(keyFile); err != nil {
			t.Fatal(err)
		}
		e1, _, _ := s.CreateEdge(ctx, "acme", "press hall")
		e2, _, _ := s.CreateEdge(ctx, "acme", "paint shop")
		other, _, _ := s.CreateEdge(ctx, "beta", "elsewhere")
		keys := map[string]ed25519.PrivateKey{}
		for _, e := range []Edge{e1, e2, other} {
			pub, key, _ := ed25519.GenerateKey(rand.Reader)
			if err := s.SetKey(ctx, e.Org, e.ID, pub); err != nil {
				t.Fatal(err)
			}
			keys[e.ID] = key
		}
		for _, c := range []struct{ scope, target, name, value string }{
			{ScopeOrg, "", "broker", "org-value"},
			{ScopeEdge, e1.ID, "broker", "edge-value"},
		} {
			if err := s.PutSecret(ctx, "acme", c.scope, c.target, c.name, c.value); err != nil {
				t.Fatal(err)
			}
		}
		for _, bad := range []struct{ scope, target, name, value string }{
			{ScopeOrg, "", "Broker", "v"}, {ScopeOrg, "", "ok", ""}, {ScopeEdge, "nope", "ok", "v"}, {ScopeEdge, other.ID, "ok", "v"},
		} {
			err := s.PutSecret(ctx, "acme", bad.scope, bad.target, bad.name, bad.value)
			if !errors.Is(err, api.ErrBadRequest) && !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("secret %+v: %v, want refused", bad, err)
			}
		}
		opened := func(e Edge) (string, Desired) {
			t.Helper()
			d, err := s.Desired(ctx, e.Org, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := d.Manifest.Part("secret/broker")
			if !ok {
				return "", d
			}
			var sealed uplink.SealedSecret
			_ = json.Unmarshal(p.Content, &sealed)
			v, err := uplink.OpenSealed(keys[e.ID], sealed.Sealed)
			if err != nil {
				t.Fatalf("%s cannot open its secret: %v", e.Name, err)
			}
			for id, k := range keys {
				if _, err := uplink.OpenSealed(k, sealed.Sealed); id != e.ID && err == nil {
					t.Errorf("%s's secret opens with another edge's key", e.Name)
				}
			}
			return string(v), d
		}
		// Computed at once, several times: one sealed value, one version.
		digests := make(chan string, 4)
		for range 4 {
			go func() {
				d, err := s.Desired(ctx, "acme", e2.ID)
				if err != nil {
					digests <- err.Error()
					return
				}
				digests <- d.Manifest.Digest + " " + strconv.FormatUint(d.Manifest.Version, 10)
			}()
		}
		first := <-digests
		for range 3 {
			if d := <-digests; d != first {
				t.Errorf("concurrent computations: %s and %s", first, d)
			}
		}
		v1, d1 := opened(e1)
		v2, _ := opened(e2)
		vo, _ := opened(other)
		if v1 != "edge-value" || v2 != "org-value" || vo != "" {
			t.Errorf("secrets: press hall %q, paint shop %q, another organisation %q", v1, v2, vo)
		}
		if o := d1.Explain[0]; o.Part != "secret/broker" || o.Layer != "edge" || strings.Join(o.Overridden, ",") != "org" {
			t.Errorf("explain: %+v", d1.Explain)
		}
		if _, again := opened(e1); again.Manifest.Version != d1.Manifest.Version || again.Manifest.Digest != d1.Manifest.Digest {
			t.Errorf("the same secret and key: version %d, want %d", again.Manifest.Version, d1.Manifest.Version)
		}
		// A new key seals anew: a new version, which the new key opens.
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		if err := s.SetKey(ctx, "acme", e1.ID, pub); err != nil {
			t.Fatal(err)
		}
		keys[e1.ID] = key
		if v, d := opened(e1); v != "edge-value" || d.Manifest.Version != d1.Manifest.Version+1 {
			t.Errorf("after a new key: %q version %d, want version %d", v, d.Manifest.Version, d1.Manifest.Version+1)
		}
		// A hub started again reads its key from the file.
		s2 := newService(t, db)
		if err := s2.SetSecretsKey(keyFile); err != nil {
			t.Fatal(err)
		}
		if err := s2.PutSecret(ctx, "acme", ScopeEdge, e1.ID, "broker", "replaced"); err != nil {
			t.Fatal(err)
		}
		if v, _ := opened(e1); v != "replaced" {
			t.Errorf("replaced secret: %q", v)
		}
		ls, err := s.Layers(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ls)
		if !strings.Contains(string(b), `"name":"broker"`) || strings.Contains(string(b), "value") || strings.Contains(string(b), "replaced") {
			t.Errorf("layers: %s", b)
		}
		if err := s.DeleteSecret(ctx, "acme", ScopeEdge, e1.ID, "broker"); err != nil {
			t.Fatal(err)
		}
		if v, _ := opened(e1); v != "org-value" {
			t.Errorf("after deleting the edge's secret: %q, want the organisation's", v)
		}
		if err := s.DeleteSecret(ctx, "beta", ScopeOrg, "", "broker"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another organisation deletes acme's secret: %v", err)
		}
	})
}
