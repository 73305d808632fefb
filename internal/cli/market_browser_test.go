//go:build !edgeonly

package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
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
	waitDemoSPC(t, d)
	// A draft of the demo's provider DataWorks, for its page and the
	// review (a stand-in module: it is reviewed, not run).
	pkg := svcpacktest.SPC(t, svcpacktest.StandIn, func(b []byte) []byte {
		return bytes.Replace(b, []byte("id: molen-spc"), []byte("id: dataworks-spc"), 1)
	})
	archive, _, err := svcpack.Pack(pkg)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := sign.GenerateKey()
	pem, _ := sign.EncodePublicKey(pub)
	if _, err := d.Hub.Market().AddKey(t.Context(), "dataworks", "ci", string(pem), "system"); err != nil {
		t.Fatal(err)
	}
	env, _, err := svcpack.Sign(key, archive, "dataworks")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Hub.Market().Publish(t.Context(), "dataworks", "system", archive, env); err != nil {
		t.Fatal(err)
	}
	const publisher = "tim.degroot@dataworks.demo"
	runBrowserScript(t, node, script, d, dataDir, browser, "MOLEN_PUB_EMAIL="+publisher, "MOLEN_PUB_PASSWORD="+demoPassword(t, dataDir, publisher))
}

// TestMarketDoneInABrowser is the marketplace's whole path, run by
// web/test/market-done.mjs in a real headless Chromium against the demo
// (in the checkout, so that it fills its catalogue with molen's eight
// first-party services): a new service made with the real `molen service
// init` and `build` (Go, wasip1) and signed with `molen service keygen`
// and `sign` is uploaded by DataWorks' publisher in the browser, released
// by the platform, installed by the factory on the demo edge, which runs
// it (its pipeline shows in the edge's status) and whose events reach the
// factory's views; then revoked, which takes it off the edge. Screenshots
// go to $MOLEN_SCREENSHOTS (else a temporary folder).
func TestMarketDoneInABrowser(t *testing.T) {
	browser := chromium(t)
	node, script := browserScript(t)
	script = filepath.Join(filepath.Dir(script), "market-done.mjs")
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	const id = "limit-watch"
	src := filepath.Join(work, id)
	for _, args := range [][]string{
		{"service", "init", src, "--sdk", repo},
		{"service", "build", src},
		{"service", "keygen", filepath.Join(work, "release")},
		{"service", "sign", src, "--key", filepath.Join(work, "release.key"), "--provider", "dataworks", "-o", work},
	} {
		if code, out, errOut := runMolen(t, args...); code != 0 {
			t.Fatalf("molen %s: %s%s", strings.Join(args, " "), out, errOut)
		}
	}
	pkg := filepath.Join(work, id+"-0.1.0"+svcpack.Ext)
	// The same package with one byte changed after signing, beside the
	// same signature.
	archive, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), filepath.Base(pkg))
	archive[len(archive)/2] ^= 0xff
	sig, _ := os.ReadFile(pkg + ".dsse.json")
	if err := errors.Join(os.WriteFile(bad, archive, 0o644), os.WriteFile(bad+".dsse.json", sig, 0o644)); err != nil {
		t.Fatal(err)
	}

	dataDir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 5, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	waitDemoCatalogue(t, d)

	// Whether the edge ran the install, seen in its status while the
	// script goes on (the install runs from its fetch until the
	// revocation's: many of these looks).
	var ran atomic.Bool
	ctx, stop := context.WithCancel(t.Context())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if runsInstall(d, id) {
				ran.Store(true)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	const publisher = "tim.degroot@dataworks.demo"
	runBrowserScript(t, node, script, d, dataDir, browser, "MOLEN_PUB_EMAIL="+publisher, "MOLEN_PUB_PASSWORD="+demoPassword(t, dataDir, publisher),
		"MOLEN_SVC="+id, "MOLEN_PKG="+pkg, "MOLEN_BAD_PKG="+bad, "MOLEN_KEY_PUB="+filepath.Join(work, "release.pub"))
	stop()
	<-watched
	if !ran.Load() {
		t.Error("the edge's status never showed the install running")
	}
	waitFor(t, "the revoked install off the edge", func() bool { return !runsInstall(d, id) })
}

// runsInstall reports whether the demo edge's status shows a pipeline of
// the service install name.
func runsInstall(d *Demo, name string) bool {
	st := d.Edge.Status()
	if st.Pipeline == nil {
		return false
	}
	return slices.ContainsFunc(st.Pipeline.Stats.Pipelines, func(p pipeline.PipelineStats) bool { return strings.Contains(p.Name, name) })
}
