//go:build !edgeonly

package cli

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

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
