//go:build !edgeonly

package cli

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
)

// TestMarketInABrowser runs web/test/market.mjs in a real headless
// Chromium against the demo, started in the checkout so that it
// publishes, releases and installs the SPC service: the catalogue, the
// service's page and its install form, the installs with their state per
// edge, in English and Dutch, and the platform's review, with axe-core
// finding no serious or critical violation. Screenshots go to
// $MOLEN_SCREENSHOTS (else a temporary folder).
func TestMarketInABrowser(t *testing.T) {
	browser := chromium(t)
	node, script := browserScript(t)
	script = filepath.Join(filepath.Dir(script), "market.mjs")
	dataDir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 3, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The SPC module is built when the demo starts: a long deadline on a
	// loaded machine, not a timed assertion.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		in, err := d.Hub.Market().Install(t.Context(), hub.DefaultOrg, "spc-spindle")
		if err == nil && len(in.Edges) == 1 && in.Edges[0].State == "installed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's SPC install: %+v %v", in, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	runBrowserScript(t, node, script, d, dataDir, browser)
}
