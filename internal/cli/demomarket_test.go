//go:build !edgeonly

package cli

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
)

// waitDemoSPC waits until the demo's SPC install runs on its edge.
// Building the module on a cold cache takes a minute or more on a loaded
// machine: a long deadline, not a timed assertion.
func waitDemoSPC(t *testing.T, d *Demo) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		in, err := d.Hub.Market().Install(t.Context(), hub.DefaultOrg, "spc-spindle")
		if err == nil && len(in.Edges) == 1 && in.Edges[0].State == "installed" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's SPC install: %+v %v", in, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDemoInstallsSPC: molen demo, run in a checkout, publishes the SPC
// service as molen, releases it and installs it on the demo edge, which
// runs it.
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
}
