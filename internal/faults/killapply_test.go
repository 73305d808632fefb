package faults

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultsKillEdgeWhileApplying kills the edge with SIGKILL while a
// manifest from the hub is on trial (applied, its health window running),
// with the simulator publishing. The restarted edge is in a consistent
// state, the one before (its local configuration), reports the version
// rolled back, does not take that version again (anti-rollback), takes the
// next one (pipelines on another site's series, so that the check below
// counts every point the simulator had acknowledged); and no acknowledged device message is lost or stored twice.
func TestFaultsKillEdgeWhileApplying(t *testing.T) {
	parallel(t)
	h := startHub(t)
	e := startEdge(t, t.TempDir(), h.url, h.createEdge(t, "kill-apply"), "--manifest-poll=200ms", "--health-window=10m")
	s := startSim(t, e.mqtt, 20)
	e.waitEnrolled(t)
	put := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", h.url+"/api/v1/fleet/layers/org", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("put layer: %d", resp.StatusCode)
		}
	}
	installing := func(st edgeStatus) bool {
		return len(st.Desired.Parts) == 1 && st.Desired.Parts[0].State == "installing"
	}
	put(`{"pipelines":{"energy":{"match":["another-site/#"],"stages":[{"deadband":{"absolute":0.5}}]}}}`)
	st, _ := e.waitFor(t, time.Minute, "the manifest on trial", installing)
	offered := st.Desired.Offered
	acked := s.ackedTicks()
	waitUntil(t, time.Minute, "ticks acknowledged while the manifest is on trial", func() bool { return s.ackedTicks() > acked })
	e.kill()
	e.restart(t)
	st = e.status(t)
	if st.Desired.Version != 0 || !st.Desired.RolledBack || !strings.Contains(st.Desired.Error, "stopped within its health window") {
		t.Errorf("after a kill on trial: version %d, rolled back %v, error %q; want the local state, rolled back",
			st.Desired.Version, st.Desired.RolledBack, st.Desired.Error)
	}
	// The hub still offers the same version: not tried again; the next is.
	put(`{"pipelines":{"energy":{"match":["another-site/#"],"stages":[{"deadband":{"absolute":1}}]}}}`)
	e.waitFor(t, time.Minute, "the next version on trial", func(st edgeStatus) bool {
		return installing(st) && st.Desired.Offered > offered
	})
	s.stop(t)
	e.waitDrained(t, time.Minute)
	ta := h.verify(t, s)
	checkNoLoss(t, ta, false)
	if ta.dup != 0 {
		t.Errorf("%d ticks stored twice", ta.dup)
	}
}
