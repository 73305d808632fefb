package fleet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/blob"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

func signedRelease(t *testing.T, key ed25519.PrivateKey, bin []byte, rel uplink.Release) sign.Envelope {
	t.Helper()
	sum := sha256.Sum256(bin)
	env, err := sign.SignStatement(key, "molen", hex.EncodeToString(sum[:]), uplink.ReleasePredicate, rel)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A release is stored only when a trusted key signed a statement about
// exactly its binary; a software part resolves per edge to the release of
// the platform it reported; a layer naming a version never released is
// refused.
func TestReleases(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		if _, err := s.AddRelease(ctx, sign.Envelope{}, strings.NewReader("x"), "ops"); !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("a hub without release keys: %v, want a bad request", err)
		}
		pub, key, _ := sign.GenerateKey()
		_, other, _ := sign.GenerateKey()
		bs, err := blob.New(ctx, t.TempDir(), db)
		if err != nil {
			t.Fatal(err)
		}
		s.SetReleases(ReleaseStore{Blobs: bs, Keys: []ed25519.PublicKey{pub}})
		amd, arm := []byte("molen 1.5.0 for amd64"), []byte("molen 1.5.0 for arm64")
		for _, tt := range []struct {
			name string
			env  sign.Envelope
			bin  []byte
			want error
		}{
			{"another key", signedRelease(t, other, amd, uplink.Release{Version: "1.5.0", OS: "linux", Arch: "amd64"}), amd, api.ErrBadRequest},
			{"another binary", signedRelease(t, key, arm, uplink.Release{Version: "1.5.0", OS: "linux", Arch: "amd64"}), amd, api.ErrBadRequest},
			{"no platform", signedRelease(t, key, amd, uplink.Release{Version: "1.5.0"}), amd, api.ErrBadRequest},
			{"amd64", signedRelease(t, key, amd, uplink.Release{Version: "1.5.0", OS: "linux", Arch: "amd64"}), amd, nil},
			{"arm64", signedRelease(t, key, arm, uplink.Release{Version: "1.5.0", OS: "linux", Arch: "arm64"}), arm, nil},
			{"amd64 again", signedRelease(t, key, amd, uplink.Release{Version: "1.5.0", OS: "linux", Arch: "amd64"}), amd, meta.ErrExists},
		} {
			_, err := s.AddRelease(ctx, tt.env, bytes.NewReader(tt.bin), "ops")
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		rels, err := s.Releases(ctx)
		if err != nil || len(rels) != 2 || rels[0].Signer != sign.KeyID(pub) {
			t.Fatalf("releases: %+v, %v", rels, err)
		}

		e, _, err := s.CreateEdge(ctx, "acme", "press hall")
		if err != nil {
			t.Fatal(err)
		}
		l := Layer{Org: "acme", Scope: ScopeEdge, Target: e.ID, Software: map[string]json.RawMessage{"molen": raw(`"1.6.0"`)}}
		if err := s.PutLayer(ctx, &l); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "software.molen") {
			t.Fatalf("a version never released: %v", err)
		}
		l.Software = map[string]json.RawMessage{"firmware": raw(`"1.5.0"`)}
		if err := s.PutLayer(ctx, &l); !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("unknown software: %v", err)
		}
		l.Software = map[string]json.RawMessage{"molen": raw(`"1.5.0"`)}
		if err := s.PutLayer(ctx, &l); err != nil {
			t.Fatal(err)
		}
		part := func() uplink.Software {
			t.Helper()
			d, err := s.Desired(ctx, "acme", e.ID)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := d.Manifest.Part("software/molen")
			if !ok {
				t.Fatalf("no software part in %+v", d.Manifest)
			}
			sw, err := uplink.ParseSoftware(p.Content)
			if err != nil {
				t.Fatal(err)
			}
			return sw
		}
		if sw := part(); sw.Error == "" || sw.URL != "" {
			t.Errorf("an edge that never reported: %+v, want no release and the reason", sw)
		}
		if err := s.StoreReport(ctx, "acme", e.ID, uplink.Report{Version: "1.4.0", OS: "linux", Arch: "arm64"}); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(arm)
		sw := part()
		if sw.SHA256 != hex.EncodeToString(sum[:]) || sw.Arch != "arm64" || sw.Envelope == nil || sw.URL != "/api/v1/edge/releases/"+sw.SHA256 {
			t.Errorf("software part of an arm64 edge: %+v", sw)
		}
		f, rel, err := s.openRelease(ctx, sw.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if rel.Arch != "arm64" {
			t.Errorf("release opened: %+v", rel)
		}
		if _, _, err := s.openRelease(ctx, "../"+sw.SHA256[3:]); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("a path that is not a digest: %v", err)
		}
		if err := s.StoreReport(ctx, "acme", e.ID, uplink.Report{Version: "1.4.0", OS: "linux", Arch: "riscv64"}); err != nil {
			t.Fatal(err)
		}
		if sw := part(); !strings.Contains(sw.Error, "no release of molen 1.5.0 for linux/riscv64") {
			t.Errorf("software part of a riscv64 edge: %+v", sw)
		}
	})
}
