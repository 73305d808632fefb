//go:build !edgeonly

package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/market/markettest"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
)

// waitDemoSPC waits until the demo's SPC install runs on its edge.
// Building the module on a cold cache takes a minute or more on a loaded
// machine: a long deadline, not a timed assertion.
func waitDemoSPC(t *testing.T, d *Demo) {
	t.Helper()
	waitWithin(t, 5*time.Minute, "the demo's SPC install on its edge", func() bool {
		in, err := d.Hub.Market().Install(t.Context(), hub.DefaultOrg, "spc-spindle")
		return err == nil && len(in.Edges) == 1 && in.Edges[0].State == "installed"
	})
}

// waitDemoCatalogue waits until the demo has filled its marketplace and
// checks that the catalogue a company sees holds molen's eight
// first-party services, released. Building them all on a cold cache takes
// minutes on a loaded machine: a long deadline, not a timed assertion.
func waitDemoCatalogue(t *testing.T, d *Demo) []market.Listing {
	t.Helper()
	select {
	case <-d.marketDone: // the demo has published what it could
	case <-time.After(15 * time.Minute):
		t.Fatal("the demo's marketplace still being filled after 15 minutes")
	}
	ls, err := d.Hub.Market().Catalogue(t.Context(), hub.DefaultOrg, market.Filter{})
	released := 0
	for _, l := range ls {
		if l.Provider == demoProvider && l.Latest != "" {
			released++
		}
	}
	if err != nil || released != len(demoServices) {
		t.Fatalf("the demo's catalogue: %d of %d released (%v)", released, len(demoServices), err)
	}
	return ls
}

// TestDemoInstallsSPC: molen demo, run in a checkout, publishes molen's
// eight first-party services as molen and releases them, and installs
// SPC on the demo edge, which runs it.
func TestDemoInstallsSPC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the SPC module and runs the demo")
	}
	dir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 1, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	waitDemoSPC(t, d)
	l, err := d.Hub.Market().Listing(t.Context(), hub.DefaultOrg, false, "molen-spc")
	if err != nil || l.Latest != "1.0.0" || l.Installs != 1 || l.Provider != "molen" {
		t.Errorf("the catalogue's SPC listing: %+v %v", l, err)
	}
	// The factory's journey holds the install.
	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", d.Hub.URL()+"/api/v1/journey?lang=nl", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Journey struct {
			Timeline []struct{ Kind, What string }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	j := out.Journey
	resp.Body.Close()
	if err != nil || !slices.ContainsFunc(j.Timeline, func(e struct{ Kind, What string }) bool {
		// The listing's name and its provider's, not their ids.
		return e.Kind == "installed" && strings.HasPrefix(e.What, "SPC") && strings.HasSuffix(e.What, " · molen (spc-spindle)")
	}) {
		t.Errorf("the factory's journey: %d %+v %v", resp.StatusCode, j.Timeline, err)
	}
	var got []string
	for _, l := range waitDemoCatalogue(t, d) {
		got = append(got, l.ID)
	}
	slices.Sort(got)
	want := []string{"molen-agvfleet", "molen-energy", "molen-oee", "molen-pdm", "molen-printer", "molen-robotcell", "molen-secure", "molen-spc"}
	if !slices.Equal(got, want) {
		t.Errorf("the demo's catalogue = %v, want %v", got, want)
	}
}

// TestDemoReleasesWhatAnEarlierRunPublished: a demo stopped between
// publishing a service and releasing it releases that version at its
// next start, rather than publishing it again (which the marketplace
// refuses).
func TestDemoReleasesWhatAnEarlierRunPublished(t *testing.T) {
	ctx := t.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: demoProvider, Name: "molen", Kind: auth.Provider, Parent: auth.PlatformOrg}); err != nil {
		t.Fatal(err)
	}
	archive, _, err := svcpack.Pack(svcpacktest.SPC(t, svcpacktest.StandIn, nil))
	if err != nil {
		t.Fatal(err)
	}
	m := h.Market()
	markettest.Published(t, m, demoProvider, archive)
	t.Chdir("../..")
	id, err := publishDemoService(ctx, m, "spc", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := m.Listing(ctx, hub.DefaultOrg, false, id); err != nil || l.Latest != "1.0.0" || len(l.Versions) != 1 {
		t.Errorf("the listing after the next start: %+v %v", l, err)
	}
}
