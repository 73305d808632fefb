package hub_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/market/markettest"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
)

// TestJourneyRecommendsMarketListings: the programme recommends the
// marketplace's released services (the hub's own source of listings): an
// advisor may recommend one only once it is released and no longer once
// it is revoked, and a service installed for the company shows on its
// journey, by the service's and the provider's names.
func TestJourneyRecommendsMarketListings(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	a, _, _ := staff(t, w)
	w.must(t, a, "POST", "/api/v1/programme/customers", `{"org":"gamma","name":"Gamma B.V.","kvk":"30123456","size":"0-49","nace":"C25","nuts":"NL21","consent":true}`, 201)
	const rec = `{"kind":"service","item":"molen-spc","dimension":"data"}`
	recommend := func() int {
		code, _ := call(t, w.base, a, "POST", "/api/v1/programme/customers/gamma/recommendations", rec)
		return code
	}

	// Published and submitted, not yet released: not recommended.
	archive, _, err := svcpack.Pack(svcpacktest.SPC(t, svcpacktest.StandIn, nil))
	if err != nil {
		t.Fatal(err)
	}
	m := w.Market()
	v := markettest.Act(t, m, markettest.Published(t, m, "tools", archive), "provider", "submit")
	if code := recommend(); code != 400 {
		t.Errorf("recommending a service in review: %d, want 400", code)
	}

	// Released: in the listings with its names and dimensions.
	v = markettest.Act(t, m, v, "platform", "release")
	if code := recommend(); code != 201 {
		t.Errorf("recommending the released service: %d, want 201", code)
	}
	var rep struct {
		Journey struct {
			Timeline []struct{ Kind, What string }
		}
	}
	get := func() {
		_, body := call(t, w.base, a, "GET", "/api/v1/programme/customers/gamma?lang=nl", "")
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("the report: %v %.200s", err, body)
		}
	}

	// Installed for the company: on its journey.
	edge, _, err := w.Fleet().CreateEdge(ctx, "gamma", "press")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Installed(ctx, "gamma", "usr_gamma", market.InstallRequest{Name: "spc-press", Service: v.Listing, Scope: "edge", Target: edge.ID, AcceptTerms: true}, false); err != nil {
		t.Fatal(err)
	}
	get()
	var timeline []string
	for _, e := range rep.Journey.Timeline {
		timeline = append(timeline, e.Kind+":"+e.What)
	}
	t.Logf("timeline: %s", timeline)
	if got := strings.Join(timeline, " "); !strings.Contains(got, "installed:SPC — Western Electric-regels · Tools BV (spc-press)") || !strings.Contains(got, "recommended:SPC — Western Electric-regels · Tools BV") {
		t.Errorf("the journey's timeline: %s", got)
	}

	// Revoked: no longer recommended.
	markettest.Act(t, m, v, "platform", "revoke")
	if code := recommend(); code != 400 {
		t.Errorf("recommending a revoked service: %d, want 400", code)
	}
}
