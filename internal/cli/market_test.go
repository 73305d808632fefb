//go:build !edgeonly

package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
)

// TestServiceKeygenSignPublish walks the publishing half of
// docs/services.md against a real hub: a provider makes a key and
// registers it, packs and signs a package, and publishes it for review;
// a changed byte is refused.
func TestServiceKeygenSignPublish(t *testing.T) {
	ctx := t.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: "tools", Name: "Tools", Kind: auth.Provider, Parent: auth.PlatformOrg}); err != nil {
		t.Fatal(err)
	}
	token, err := h.Auth().NewToken(ctx, "tools", api.RolePublisher, "ci")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOLEN_TOKEN", token)
	pkg := svcpacktest.SPC(t, svcpacktest.StandIn, nil)
	out := t.TempDir()
	key := filepath.Join(out, "tools")
	if code, stdout, stderr := runMolen(t, "service", "keygen", key, "--hub", h.URL()); code != 0 || !strings.Contains(stdout, "registered to tools") {
		t.Fatalf("keygen: %d %s %s", code, stdout, stderr)
	}
	if code, stdout, stderr := runMolen(t, "service", "sign", pkg, "--key", key+".key", "--provider", "tools", "-o", out); code != 0 || !strings.Contains(stdout, "signed molen-spc 1.0.0 for tools") {
		t.Fatalf("sign: %d %s %s", code, stdout, stderr)
	}
	archive := filepath.Join(out, "molen-spc-1.0.0.molen")
	good, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(string(good))
	bad[len(bad)-5] ^= 1
	if err := os.WriteFile(archive, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runMolen(t, "service", "publish", archive, "--hub", h.URL()); code == 0 || !strings.Contains(stderr, "400") {
		t.Errorf("publish of a changed archive: code %d, %s", code, stderr)
	}
	if err := os.WriteFile(archive, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runMolen(t, "service", "publish", archive, "--hub", h.URL(), "--submit"); code != 0 || !strings.Contains(stdout, "published molen-spc 1.0.0") || !strings.Contains(stdout, "in-review") {
		t.Fatalf("publish: %d %s %s", code, stdout, stderr)
	}
	rev, err := h.Market().Review(ctx)
	if err != nil || len(rev) != 1 || rev[0].Provider != "tools" {
		t.Errorf("review queue: %+v %v", rev, err)
	}
}
