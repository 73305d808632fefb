//go:build !edgeonly

package cli

import "testing"

// TestFleetInABrowser runs web/test/fleet.mjs in a real headless Chromium
// against the demo, whose edge follows the hub's desired state: the
// inventory and its filters, the edge's parts, explain and diff, an
// invalid pipeline refused and a valid one installed by the edge, in
// English and Dutch, with axe-core finding no serious or critical
// violation on any screen. Screenshots go to $MOLEN_SCREENSHOTS (else a
// temporary folder).
func TestFleetInABrowser(t *testing.T) {
	scriptInDemo(t, "fleet.mjs", func(string) []string { return nil })
}

// TestRolloutsInABrowser runs web/test/rollouts.mjs in a real headless
// Chromium against the demo: the rollout wizard refusing a bad plan, a
// rollout of the demo edge's group paused, resumed and completed, one
// whose canary (the demo edge) rolls a change with an input that cannot
// connect back by itself and so aborts it, one aborted by a person, in
// English and Dutch, with axe-core finding no serious or critical
// violation on any screen.
func TestRolloutsInABrowser(t *testing.T) {
	scriptInDemo(t, "rollouts.mjs", func(string) []string { return nil })
}

// TestFleetDiagnosticsInABrowser drives web/test/diagnostics.mjs: an
// edge's diagnostics panel against the demo, whose edge long-polls the hub.
func TestFleetDiagnosticsInABrowser(t *testing.T) {
	scriptInDemo(t, "diagnostics.mjs", func(string) []string { return nil })
}
