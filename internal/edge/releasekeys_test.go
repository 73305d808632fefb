package edge

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// An update is staged only when a key the edge trusts signed it: the keys
// the hub named at the edge's enrollment (kept in its credential), or
// --release-key's, which replace them. (The hub serving the binary is an
// httptest server here; internal/e2e TestSoftwareUpdate runs the real one.)
func TestReleaseKeysPinned(t *testing.T) {
	pinnedPub, pinned, _ := sign.GenerateKey()
	otherPub, other, _ := sign.GenerateKey()
	bin := []byte("#!/bin/sh\nexit 0\n")
	sum := sha256.Sum256(bin)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(bin) }))
	defer srv.Close()
	signed := func(key ed25519.PrivateKey) uplink.Software {
		env, err := sign.SignStatement(key, "molen", hex.EncodeToString(sum[:]), uplink.ReleasePredicate,
			uplink.Release{Version: "9.9.9", OS: runtime.GOOS, Arch: runtime.GOARCH})
		if err != nil {
			t.Fatal(err)
		}
		return uplink.Software{Version: "9.9.9", OS: runtime.GOOS, Arch: runtime.GOARCH, URL: "/api/v1/edge/releases/" + hex.EncodeToString(sum[:]),
			SHA256: hex.EncodeToString(sum[:]), Envelope: &env}
	}
	for _, tt := range []struct {
		name    string
		pinned  []string            // the credential's keys, from the enrollment
		flag    []ed25519.PublicKey // --release-key
		signer  ed25519.PrivateKey
		refused string // "" staged
	}{
		{"signed by the key pinned at enrollment", []string{uplink.EncodeKey(pinnedPub)}, nil, pinned, ""},
		{"signed by a key the hub offers later", []string{uplink.EncodeKey(pinnedPub)}, nil, other, "does not verify"},
		{"no key pinned, none given", nil, nil, pinned, "trusts no release key"},
		{"--release-key overrides the pinned key", []string{uplink.EncodeKey(pinnedPub)}, []ed25519.PublicKey{otherPub}, other, ""},
		{"--release-key overrides: the pinned key no longer counts", []string{uplink.EncodeKey(pinnedPub)}, []ed25519.PublicKey{otherPub}, pinned, "does not verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &Edge{cfg: Config{DataDir: t.TempDir(), ReleaseKeys: tt.flag}, log: slog.New(slog.DiscardHandler)}
			e.fwd.identity = credential{ReleaseKeys: tt.pinned}
			dir := filepath.Join(e.cfg.DataDir, SoftwareDir)
			err := e.stageUpdate(t.Context(), &uplink.Client{URL: srv.URL}, dir, signed(tt.signer))
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("got %v, want refused with %q", err, tt.refused)
			}
			st, err := LoadSoftwareState(dir)
			if err != nil {
				t.Fatal(err)
			}
			if staged := st.Trial != nil; staged != (tt.refused == "") {
				t.Errorf("staged %v, want %v", staged, tt.refused == "")
			}
		})
	}
}
