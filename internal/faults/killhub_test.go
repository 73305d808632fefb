package faults

import (
	"fmt"
	"testing"
	"time"
)

// TestFaultsKillHub kills the hub with SIGKILL again and again while it
// ingests, preferably while a batch is on its way (the test watches the
// traffic through a proxy and kills the hub when a request has reached it
// and its answer has not left), and restarts it on the same data directory
// and port. The edge must resume (the table shows how soon: its retry
// delay is at most 5 s ± 20 %); the hub's watermarks must keep storage free
// of duplicates although the edge resends the batches whose answers were
// lost.
func TestFaultsKillHub(t *testing.T) {
	parallel(t)
	n := cycles(t, 3, 10, 30)
	rate := pick(20.0, 50.0)
	h := startHub(t)
	p := startProxy(t, h.addr)
	e := startEdge(t, t.TempDir(), p.url(), h.createEdge(t, "kill-hub"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, rate)

	began := time.Now()
	var resumes, outages durations
	var inflight, orphaned, pendingWhileDown int
	var hubDups float64
	for i := range n {
		time.Sleep(time.Duration(400+200*(i%4)) * time.Millisecond)
		hubDups += h.duplicates()
		orphans := p.orphaned.Load()
		if p.waitInflight(2 * time.Second) {
			inflight++
		}
		killed := time.Now()
		h.kill()
		time.Sleep(time.Duration(150+150*(i%3)) * time.Millisecond)
		if st := e.status(t); st.Outbox.PendingRecords > 0 && !st.contactAfter(killed) {
			pendingWhileDown++
		}
		h.restart(t)
		up := time.Now()
		st, _ := e.waitFor(t, time.Minute, "forward after the hub restarted", func(s edgeStatus) bool { return s.contactAfter(up) })
		resumes = append(resumes, st.Hub.LastContact.Sub(up))
		outages = append(outages, st.Hub.LastContact.Sub(killed))
		// The proxy counts a request orphaned before it resets the edge's
		// connection, and the edge forwards again only after that reset.
		orphaned += int(p.orphaned.Load() - orphans)
	}
	s.stop(t)
	e.waitDrained(t, 60*time.Second)
	hubDups += h.duplicates()
	ta := h.verify(t, s)

	report(t, figure{
		Scenario: "2 kill -9 hub",
		Run: fmt.Sprintf("%d kills in %s (%d with a batch in flight, %d answers lost), sim %g ticks/s × %d machines",
			n, fmtDur(time.Since(began)), inflight, orphaned, rate, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "after hub restart " + resumes.String() + "; outage seen by the edge " + outages.String(),
		Rate:   thousands(int64(hubDups)) + " records resent and skipped by the hub",
	})
	checkNoLoss(t, ta, false)
	// The faults were real: the hub was killed while the edge had data
	// for it, and at least once while a batch was on its way.
	if pendingWhileDown == 0 {
		t.Errorf("the edge never had pending data while the hub was down")
	}
	if orphaned == 0 {
		t.Errorf("no kill hit a batch in flight (%d kills, %d seen in flight)", n, inflight)
	}
}
