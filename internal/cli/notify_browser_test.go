//go:build !edgeonly

package cli

import (
	"io"
	"path/filepath"
	"testing"
)

// TestNotifyInABrowser runs web/test/notify.mjs in a real headless Chromium
// against the demo: its rules and channels, a Slack-format channel made
// (its key shown once) and tested until the log shows it sent, a rule for
// a machine down made by keyboard, changed and deleted, and the screens in
// Dutch, with axe-core finding no serious or critical violation on any
// screen. Screenshots go to $MOLEN_SCREENSHOTS (else a temporary folder).
func TestNotifyInABrowser(t *testing.T) {
	browser := chromium(t)
	node, script := browserScript(t)
	script = filepath.Join(filepath.Dir(script), "notify.mjs")
	dataDir := t.TempDir()
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 3, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	runBrowserScript(t, node, script, d, dataDir, browser, "MOLEN_HOOK_URL="+d.Notify.url)
}
