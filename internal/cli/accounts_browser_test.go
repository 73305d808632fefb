//go:build !edgeonly

package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestAccountsInABrowser runs web/test/accounts.mjs in a real headless
// Chromium against the demo: invite a person and accept in a second
// browser, change their role, create an API token, turn on a second factor
// and sign in with it, share data and give an advisor consent and revoke
// both, download your data, page through, export and verify the audit log, with axe-core finding no serious or critical
// violation on any screen. Screenshots go to $MOLEN_SCREENSHOTS (else a
// temporary folder).
func TestAccountsInABrowser(t *testing.T) {
	const company = "bram@vandijk.demo" // owner of a company below the hub edih-noord
	scriptInDemo(t, "accounts.mjs", func(dataDir string) []string {
		return []string{"MOLEN_COMPANY_EMAIL=" + company, "MOLEN_COMPANY_PASSWORD=" + demoPassword(t, dataDir, company), "MOLEN_COMPANY_HUB=edih-noord",
			"MOLEN_ADVISOR_EMAIL=ruben.smit@edih-noord.demo"}
	})
}

// scriptInDemo runs the browser test script web/test/<name> against a new
// demo (seed 3, rate 1) with the environment env gives for its data
// directory.
func scriptInDemo(t *testing.T, name string, env func(dataDir string) []string) {
	t.Helper()
	scriptInDemoWhen(t, name, nil, env)
}

// scriptInDemoWhen is scriptInDemo that runs the demo from the
// checkout's root (where it finds the first-party services to publish)
// and waits for ready(demo) before it runs the script; ready nil: as
// scriptInDemo.
func scriptInDemoWhen(t *testing.T, name string, ready func(*testing.T, *Demo), env func(dataDir string) []string) {
	t.Helper()
	scriptInDemoThen(t, name, ready, env, nil)
}

// scriptInDemoThen is scriptInDemoWhen that calls then(demo), when not
// nil, after the script passed: to check through Go what the script did.
func scriptInDemoThen(t *testing.T, name string, ready func(*testing.T, *Demo), env func(dataDir string) []string, then func(*testing.T, *Demo)) {
	t.Helper()
	browser := chromium(t)
	node, script := browserScript(t)
	script = filepath.Join(filepath.Dir(script), name)
	dataDir := t.TempDir()
	if ready != nil {
		t.Chdir("../..")
	}
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 3, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ready != nil {
		ready(t, d)
	}
	runBrowserScript(t, node, script, d, dataDir, browser, env(dataDir)...)
	if then != nil {
		then(t, d)
	}
}

// runBrowserScript runs a browser test script against the demo d, signed
// in as the demo's admin in the organisation default, with env added; it
// fails the test unless the script ends with PASS, and answers its output.
// Screenshots go to $MOLEN_SCREENSHOTS (else a temporary folder).
func runBrowserScript(t *testing.T, node, script string, d *Demo, dataDir, browser string, env ...string) string {
	t.Helper()
	shots := os.Getenv("MOLEN_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"MOLEN_URL="+d.Hub.URL(), "MOLEN_EMAIL="+DemoAdmin, "MOLEN_PASSWORD="+demoPassword(t, dataDir, DemoAdmin),
		"MOLEN_ORG=default", "MOLEN_CHROMIUM="+browser, "MOLEN_SCREENSHOTS="+shots)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s (screenshots in %s):\n%s", filepath.Base(script), shots, out)
	if err != nil {
		// What the demo's goroutines were doing when the script gave up:
		// a page waiting on an answer that never comes shows here.
		dump := filepath.Join(shots, strings.TrimSuffix(filepath.Base(script), ".mjs")+"-goroutines.txt")
		if f, ferr := os.Create(dump); ferr == nil {
			pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
			t.Logf("the demo's goroutines when the script failed: %s", dump)
		}
		t.Fatalf("%s: %v", filepath.Base(script), err)
	}
	if !strings.Contains(string(out), "\nPASS") {
		t.Fatalf("%s ended without PASS", filepath.Base(script))
	}
	return string(out)
}
