package edge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim"
)

// TestFirstPartyServicesInTheEdge runs two first-party services in a real
// edge's pipeline: OEE on two minutes of the simulated line published by
// an MQTT device (its state and counters, with the simulator's times),
// and the security self-check on the facts the edge writes about itself
// (--security-facts). Their figures and findings reach the hub.
func TestFirstPartyServicesInTheEdge(t *testing.T) {
	oee := servicetest.Package(t, "../../services/oee")
	secure := servicetest.Package(t, "../../services/secure")
	v := start(t)
	v.cfg.SecurityFacts = true
	spec := fmt.Sprintf(`pipelines:
  - name: oee
    match: "demo-factory/hall-a/line-1/+/+"
    stages:
      - service: {package: %q, params: {window_min: 1}}
  - name: security
    match: "_edge/security/+"
    stages:
      - service: {package: %q}
`, oee.Dir, secure.Dir)
	v.restartWithPipeline(spec)

	// A default test edge: no devices file (anonymous devices) and no
	// pinned hub: 100 - 30 - 5.
	eventually(t, "the security score at the hub", func() bool {
		return v.latest("_edge/security/score")["_edge/security/score"] == 65.0
	})
	var findings hubEvents
	eventually(t, "the open findings at the hub", func() bool {
		v.getJSON("/api/v1/events?kind=security&from=-2h", &findings)
		return len(findings.Events) == 2
	})
	for _, e := range findings.Events {
		if e.End != 0 || (e.Attrs["check"] != "anonymous_access" && e.Attrs["check"] != "hub_not_pinned") {
			t.Errorf("finding %+v", e)
		}
	}

	dev := v.device(4)
	f := sim.NewFactory(1)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := range 125 {
		for _, m := range f.Tick(t0.Add(time.Duration(i) * time.Second)) {
			switch m.Topic[strings.LastIndexByte(m.Topic, '/')+1:] {
			case "state", "good_count", "scrap_count", "cycle_time_s":
				publish(t, dev, m.Topic, m.Payload)
			}
		}
	}
	mill := "demo-factory/hall-a/line-1/cnc-mill"
	eventually(t, "the first minute's OEE of each machine at the hub", func() bool {
		got := v.latest("demo-factory/hall-a/line-1/")
		for _, m := range f.Machines() {
			if _, ok := got[m+"/oee/availability"]; !ok {
				return false
			}
		}
		return true
	})
	eventually(t, "every state point of the mill at the hub (the service passes them on)", func() bool {
		return v.count(mill+"/state") == 125
	})
	if a := v.latest(mill + "/oee/")[mill+"/oee/availability"].(float64); a < 0 || a > 1 {
		t.Errorf("availability %v", a)
	}
}
