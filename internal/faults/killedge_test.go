package faults

import (
	"fmt"
	"math/rand/v2"
	"strconv"
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

// TestFaultsKillEdgeWhileDropping kills the edge with SIGKILL at random
// moments while its buffer overflows: the hub is away (stopped cleanly,
// so that no batch it stored lacks its answer) and drop-oldest deletes the
// oldest data, including records a batch that did not get through holds.
// A drop and its count reach the disk in one step, so after every restart
// the counter holds at least what it did before the kill, and at the end
// the points missing at the hub are exactly the points the edge counts as
// dropped. The seed of the kill moments is logged.
func TestFaultsKillEdgeWhileDropping(t *testing.T) {
	parallel(t)
	n := cycles(t, 3, 20, 100)
	rate := pick(50.0, 100.0)
	maxBytes := pick(512<<10, 4<<20) // four segments
	l := newLinkRig(t, rate, rigOpts{flags: []string{"--buffer-max-bytes", strconv.Itoa(maxBytes), "--buffer-full", "drop-oldest"}})
	h, e := l.h, l.e
	s := startSim(t, e.mqtt, rate)
	l.s = s
	l.waitForwarding(t)

	h.stop(t)
	stopped := time.Now()
	e.waitFor(t, 2*time.Minute, "drop data while the hub is away", func(st edgeStatus) bool { return st.Outbox.DroppedPoints["full"] > 0 })

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill moments: seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var restarts durations
	var whileFull int
	for i := range n {
		// Each kill comes once the buffer is full again (drop-oldest keeps
		// it between three and four segments), after a random number of
		// further device messages (up to about half a second's worth): while
		// the edge writes, drops, or counts. Counting messages rather than
		// time keeps the moments spread on a loaded machine too.
		full, _ := e.waitFor(t, 2*time.Minute, "the buffer full (over three of its four segments) before a kill", func(st edgeStatus) bool {
			return st.Outbox.DiskBytes > int64(maxBytes)*3/4
		})
		more := int64(r.IntN(int(rate)*len(s.s.Machines())/2 + 1))
		e.waitFor(t, 2*time.Minute, fmt.Sprintf("%d more device messages before the kill", more), func(st edgeStatus) bool {
			return st.Ingest.Messages >= full.Ingest.Messages+more
		})
		before := e.status(t)
		if before.Outbox.DiskBytes > int64(maxBytes)*3/4 {
			whileFull++
		}
		e.kill()
		t0 := time.Now()
		e.restart(t)
		restarts = append(restarts, time.Since(t0))
		after := e.status(t)
		if b, a := before.Outbox.DroppedPoints["full"], after.Outbox.DroppedPoints["full"]; a < b {
			t.Errorf("kill %d: the edge counted %d points dropped before it was killed, %d after the restart", i+1, b, a)
		}
		if exited, err := e.exited(); exited {
			t.Fatalf("edge exited after restart %d: %v", i+1, err)
		}
	}
	h.restart(t)
	outage := time.Since(stopped)
	e.waitFor(t, 5*time.Minute, "forward the backlog once the hub is back", func(st edgeStatus) bool {
		return st.Outbox.PendingPoints <= l.drainedBelow()
	})
	s.stop(t)
	e.waitDrained(t, time.Minute)
	ta := h.verify(t, s)
	final := e.status(t)
	dropped := final.Outbox.DroppedPoints["full"]

	report(t, figure{
		Scenario: "1 kill -9 edge while dropping",
		Run: fmt.Sprintf("%d kills (%d with the buffer full) during a %s outage, buffer %d KiB, sim %g ticks/s",
			n, whileFull, fmtDur(outage), maxBytes>>10, rate),
		Acked:  ta.points,
		Dup:    ta.dup,
		Drops:  dropsText(ta.lost, dropped),
		Resume: "edge restart " + restarts.String(),
	})
	if ta.lost != dropped {
		t.Errorf("%d points missing at the hub, the edge counts %d dropped", ta.lost, dropped)
	}
	if ta.dup != 0 {
		t.Errorf("%d points stored more than once (%d seq points)", ta.dup, ta.dupTicks)
	}
	if ta.unacked != 0 {
		t.Errorf("%d points at the hub of ticks the simulator never had acknowledged", ta.unacked)
	}
}
