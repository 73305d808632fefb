//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// demoServices are molen's first-party services (services/<name> in a
// checkout), in the order the demo builds and publishes them: SPC first,
// as the demo edge runs it.
var demoServices = []string{"spc", "oee", "energy", "pdm", "robotcell", "agvfleet", "printer", "secure"}

// seedDemoMarket publishes molen's first-party services as molen (a
// provider), has the platform release each, and installs SPC on the demo
// edge: its events on the CNC mill's spindle temperature. Each module is
// built from the source of a checkout (the working directory), one after
// the other, and appears in the catalogue as soon as it is released; one
// that fails is logged and the others go on. Without a checkout or the
// go tool the marketplace stays empty and the error says why. A second
// start finds the released ones there and changes nothing for them.
func seedDemoMarket(ctx context.Context, h *hub.Hub, edgeID, workDir string, log *slog.Logger) error {
	if _, err := os.Stat(filepath.Join("services", "spc", "main.go")); err != nil {
		return fmt.Errorf("the first-party services' source is not here (services/: run molen demo in a checkout of molen): %w", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("the go tool builds the first-party services: %w", err)
	}
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: demoProvider, Name: "molen", Kind: auth.Provider, Parent: auth.PlatformOrg}); err != nil && !errors.Is(err, meta.ErrExists) {
		return err
	}
	for _, name := range demoServices {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		id, err := publishDemoService(ctx, h.Market(), name, workDir)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn("the demo's marketplace lacks a first-party service", "service", name, "err", err)
			continue
		}
		if name != "spc" || edgeID == "" {
			continue
		}
		if _, err := h.Market().Install(ctx, hub.DefaultOrg, "spc-spindle"); err == nil {
			continue
		}
		if _, err := h.Market().Installed(ctx, hub.DefaultOrg, "system", market.InstallRequest{Name: "spc-spindle", Service: id, Scope: "edge", Target: edgeID,
			Params: map[string]any{"baseline": 60}, Match: []string{"demo-factory/+/+/cnc-mill/spindle_temp_c"}, Output: "drop", AcceptTerms: true}, false); err != nil {
			log.Warn("the demo edge runs no SPC service", "err", err)
		}
	}
	return nil
}

// publishDemoService builds services/<name> into workDir/<name>, packs,
// signs and publishes it as molen and has it released; it returns the
// listing's ID. One released already is left as it is; one an earlier
// run published and stopped before releasing is released.
func publishDemoService(ctx context.Context, m *market.Service, name, workDir string) (string, error) {
	src := filepath.Join("services", name)
	pkg, err := service.LoadPackage(src)
	if err != nil {
		return "", err
	}
	id := pkg.Manifest.Metadata.ID
	if l, err := m.Listing(ctx, demoProvider, true, id); err == nil {
		if l.Latest != "" {
			return id, nil
		}
		return id, releaseDemoService(ctx, m, l.Versions[0])
	}
	dir := filepath.Join(workDir, name)
	if _, err := service.BuildInto(ctx, src, dir); err != nil {
		return "", err
	}
	archive, _, err := svcpack.Pack(dir)
	if err != nil {
		return "", err
	}
	pub, key, err := sign.GenerateKey()
	if err != nil {
		return "", err
	}
	pem, _ := sign.EncodePublicKey(pub)
	if _, err := m.AddKey(ctx, demoProvider, "demo-"+name, string(pem), "system"); err != nil {
		return "", err
	}
	env, _, err := svcpack.Sign(key, archive, demoProvider)
	if err != nil {
		return "", err
	}
	v, err := m.Publish(ctx, demoProvider, "system", archive, env)
	if err != nil {
		return "", err
	}
	return v.Listing, releaseDemoService(ctx, m, v)
}

// releaseDemoService takes v through review to released: molen submits
// it, the platform releases it.
func releaseDemoService(ctx context.Context, m *market.Service, v market.Version) error {
	if v.State == market.Draft {
		if _, err := m.Act(ctx, "provider", demoProvider, v.Listing, v.Version, "submit", "", "system"); err != nil {
			return err
		}
	}
	_, err := m.Act(ctx, "platform", demoProvider, v.Listing, v.Version, "release", "", "system")
	return err
}
