//go:build !edgeonly

package cli

import "testing"

// TestProgrammeInABrowser runs web/test/programme.mjs in a real headless
// Chromium against the demo: the simulated factory's T0 and T1 with the
// radar and the change, a company's owner filling in T1 with one mistake
// marked at its question and corrected, the new result and the comparison
// in English and Dutch, and a hub's owner setting the intervals, with
// axe-core finding no serious or critical violation on any screen.
// Screenshots go to $MOLEN_SCREENSHOTS (else a temporary folder).
func TestProgrammeInABrowser(t *testing.T) {
	const company = "bram@vandijk.demo"              // owner of van-dijk-kunststof: a T0 only
	const hubOwner = "anouk.devries@edih-noord.demo" // owner of the hub above it
	const hubAdvisor = "ruben.smit@edih-noord.demo"  // its advisor
	scriptInDemo(t, "programme.mjs", func(dataDir string) []string {
		return []string{"MOLEN_COMPANY_EMAIL=" + company, "MOLEN_COMPANY_PASSWORD=" + demoPassword(t, dataDir, company),
			"MOLEN_HUB_EMAIL=" + hubOwner, "MOLEN_HUB_PASSWORD=" + demoPassword(t, dataDir, hubOwner),
			"MOLEN_ADVISOR_EMAIL=" + hubAdvisor, "MOLEN_ADVISOR_PASSWORD=" + demoPassword(t, dataDir, hubAdvisor)}
	})
}

// TestJourneyInABrowser runs web/test/journey.mjs in a real headless
// Chromium against the demo: a hub's advisor sees a customer's next steps
// with their reasons, recommends a marketplace service (one the demo
// released: it waits for the eight first-party ones), in English and
// Dutch; the company sees it in its journey; axe-core finds no serious or
// critical violation.
func TestJourneyInABrowser(t *testing.T) {
	const company = "bram@vandijk.demo"             // owner of van-dijk-kunststof: a T0 only
	const hubAdvisor = "ruben.smit@edih-noord.demo" // the advisor of the hub above it
	ready := func(t *testing.T, d *Demo) { waitDemoCatalogue(t, d) }
	scriptInDemoWhen(t, "journey.mjs", ready, func(dataDir string) []string {
		return []string{"MOLEN_COMPANY_EMAIL=" + company, "MOLEN_COMPANY_PASSWORD=" + demoPassword(t, dataDir, company),
			"MOLEN_ADVISOR_EMAIL=" + hubAdvisor, "MOLEN_ADVISOR_PASSWORD=" + demoPassword(t, dataDir, hubAdvisor)}
	})
}

// TestProgrammeDoneInABrowser runs web/test/done.mjs: one company's whole
// path through the programme in a real browser — made, registered, T0 by
// the hub's advisor under its consent, a fieldlab's service, a
// recommendation of a marketplace service that the company installs on
// its enrolled edge from the recommendation, two employees enrolled, T1 —
// and its report (the install on its journey and in its evidence), KPIs
// and EDIH export showing the change; and the programme office's library
// screen. It waits for the demo's released services, one of which the
// advisor recommends; after the script, the install is in the desired
// state of the company's edge.
func TestProgrammeDoneInABrowser(t *testing.T) {
	const hubAdvisor = "ruben.smit@edih-noord.demo"
	const company = "deventer-draaiwerk" // made by the script
	ready := func(t *testing.T, d *Demo) { waitDemoCatalogue(t, d) }
	installed := func(t *testing.T, d *Demo) {
		ctx := t.Context()
		ins, err := d.Hub.Market().Installs(ctx, company)
		if err != nil || len(ins) != 1 {
			t.Fatalf("the company's installs: %+v %v, want the one made in the browser", ins, err)
		}
		edges, err := d.Hub.Fleet().Edges(ctx, company)
		if err != nil || len(edges) != 1 || edges[0].Enrolled.IsZero() {
			t.Fatalf("the company's edges: %+v %v, want one enrolled", edges, err)
		}
		desired, err := d.Hub.Fleet().Desired(ctx, company, edges[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := desired.Manifest.Part("service/" + ins[0].Name); !ok {
			t.Errorf("install %s (%s) is not in the desired state of edge %s: %+v", ins[0].Name, ins[0].Service, edges[0].ID, desired.Explain)
		}
	}
	scriptInDemoThen(t, "done.mjs", ready, func(dataDir string) []string {
		return []string{"MOLEN_ADVISOR_EMAIL=" + hubAdvisor, "MOLEN_ADVISOR_PASSWORD=" + demoPassword(t, dataDir, hubAdvisor)}
	}, installed)
}
