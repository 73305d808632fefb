package edge_test

import (
	"testing"
)

// TestSecurityFactsReachTheHub starts an edge with --security-facts and
// no devices file (an open listener on loopback) and checks the facts it
// writes through its pipeline to the hub.
func TestSecurityFactsReachTheHub(t *testing.T) {
	v := start(t)
	v.edge.Close()
	v.cfg.SecurityFacts = true
	v.startEdge()
	var got map[string]any
	eventually(t, "the security facts at the hub", func() bool {
		got = v.latest("_edge/security/")
		return len(got) >= 7
	})
	for fact, want := range map[string]any{
		"mqtt_anonymous": true, // no devices file
		"mqtt_public":    false,
		"mqtt_tls":       false,
		"status_public":  false,
		"hub_pinned":     false,
	} {
		if got["_edge/security/"+fact] != want {
			t.Errorf("%s = %v, want %v (all: %v)", fact, got["_edge/security/"+fact], want, got)
		}
	}
	if age, ok := got["_edge/security/credential_age_days"].(float64); !ok || age < 0 || age > 1 {
		t.Errorf("credential_age_days %v: the edge enrolled just now", got["_edge/security/credential_age_days"])
	}
}
