//go:build !edgeonly

package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
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
	// A draft of the demo's provider DataWorks, for its page and the
	// review (a stand-in module: it is reviewed, not run).
	pkg := t.TempDir()
	for _, f := range []string{"margo.yaml", "LICENSE", "TERMS.md", "icon.svg"} {
		b, err := os.ReadFile(filepath.Join("services/spc", f))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("id: molen-spc"), []byte("id: dataworks-spc"), 1)
		if err := os.WriteFile(filepath.Join(pkg, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pkg, "spc.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
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
