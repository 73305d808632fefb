//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
)

// demoProvider is the provider organisation that publishes molen's own
// services in the demo's marketplace.
const demoProvider = "molen"

// demoSPC is where the SPC service's source is, relative to a checkout
// of molen (the demo run from one builds it).
const demoSPC = "services/spc"

// seedDemoMarket publishes the SPC service as molen (a provider), has the
// platform release it and installs it on the demo edge: its events on
// the CNC mill's spindle temperature. The module is built from the
// source of a checkout (the working directory); without one, or without
// the go tool, the marketplace stays empty and the error says why. A
// second start finds it there and changes nothing.
func seedDemoMarket(ctx context.Context, h *hub.Hub, edgeID, workDir string) error {
	m := h.Market()
	if _, err := m.Listing(ctx, demoProvider, true, "molen-spc"); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(demoSPC, "main.go")); err != nil {
		return fmt.Errorf("the SPC service's source is not here (%s: run molen demo in a checkout of molen): %w", demoSPC, err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("the go tool builds the SPC service: %w", err)
	}
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: demoProvider, Name: "molen", Kind: auth.Provider, Parent: auth.PlatformOrg}); err != nil && !errors.Is(err, meta.ErrExists) {
		return err
	}
	dir := filepath.Join(workDir, "spc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"margo.yaml", "LICENSE", "TERMS.md", "icon.svg"} {
		b, err := os.ReadFile(filepath.Join(demoSPC, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			return err
		}
	}
	if err := service.BuildGo(ctx, demoSPC, filepath.Join(dir, "spc.wasm")); err != nil {
		return err
	}
	archive, _, err := svcpack.Pack(dir)
	if err != nil {
		return err
	}
	pub, key, err := sign.GenerateKey()
	if err != nil {
		return err
	}
	pem, _ := sign.EncodePublicKey(pub)
	if _, err := m.AddKey(ctx, demoProvider, "demo", string(pem), "system"); err != nil {
		return err
	}
	env, _, err := svcpack.Sign(key, archive, demoProvider)
	if err != nil {
		return err
	}
	v, err := m.Publish(ctx, demoProvider, "system", archive, env)
	if err != nil {
		return err
	}
	for _, a := range []struct{ as, action string }{{"provider", "submit"}, {"platform", "release"}} {
		if _, err := m.Act(ctx, a.as, demoProvider, v.Listing, v.Version, a.action, "", "system"); err != nil {
			return err
		}
	}
	if edgeID == "" {
		return nil
	}
	_, err = m.Installed(ctx, hub.DefaultOrg, "system", market.InstallRequest{Name: "spc-spindle", Service: v.Listing, Scope: "edge", Target: edgeID,
		Params: map[string]any{"baseline": 60}, Match: []string{"demo-factory/+/+/cnc-mill/spindle_temp_c"}, Output: "drop", AcceptTerms: true}, false)
	return err
}
