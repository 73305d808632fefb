//go:build !edgeonly

package cli

import "testing"

// TestAcademyInABrowser runs web/test/academy.mjs in a real headless
// Chromium against the demo: EDIH Noord's owner adds a course (a 7-hour
// one refused) and a learning route, its advisor enrols the factory's
// engineer and marks the completion by keyboard and downloads the
// credential, and the engineer's skills passport (completions at two
// hubs) is exported and a credential checked, valid and changed, in
// English and Dutch, with axe-core finding no serious or critical
// violation. Screenshots go to $MOLEN_SCREENSHOTS (else a temporary
// folder).
func TestAcademyInABrowser(t *testing.T) {
	const hubOwner = "anouk.devries@edih-noord.demo"
	const hubAdvisor = "ruben.smit@edih-noord.demo"
	scriptInDemo(t, "academy.mjs", func(dataDir string) []string {
		return []string{"MOLEN_HUB_EMAIL=" + hubOwner, "MOLEN_HUB_PASSWORD=" + demoPassword(t, dataDir, hubOwner),
			"MOLEN_ADVISOR_EMAIL=" + hubAdvisor, "MOLEN_ADVISOR_PASSWORD=" + demoPassword(t, dataDir, hubAdvisor),
			"MOLEN_LEARNER_EMAIL=" + demoEngineer, "MOLEN_LEARNER_PASSWORD=" + demoPassword(t, dataDir, demoEngineer)}
	})
}
