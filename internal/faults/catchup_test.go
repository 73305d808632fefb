package faults

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestFaultsCatchUp stops the hub for a long outage that the edge's buffer
// holds whole, with the simulator publishing on, then starts the hub again
// and measures how long the edge takes to catch up while live data keeps
// coming: the time from the hub's return until the edge's backlog is down
// to what a quarter of a second brings, and the rate it forwards at
// meanwhile. Nothing acknowledged may be lost or stored twice.
//
// The outage and the rate are MOLEN_FAULTS_OUTAGE (a duration) and
// MOLEN_FAULTS_RATE (simulator ticks per second, 42 points a tick); the
// full suite runs 5 s at 100 ticks/s, the long variant 5 minutes at 240
// ticks/s (10,080 points/s). Setting MOLEN_FAULTS_OUTAGE runs it outside
// the full suite too. The edge fsyncs every 10 ms
// (--buffer-sync-interval) so that the simulator's four connections can
// publish 10,000 points/s: with an fsync before every PUBACK they reach
// about 5,000 (docs/benchmarks.md); forwarding does not depend on it.
func TestFaultsCatchUp(t *testing.T) {
	if os.Getenv("MOLEN_FAULTS_OUTAGE") == "" {
		fullOnly(t)
	}
	parallel(t)
	outage := pick(5*time.Second, 5*time.Minute)
	if s := os.Getenv("MOLEN_FAULTS_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("MOLEN_FAULTS_OUTAGE=%q: want a positive duration", s)
		}
		outage = d
	}
	rate := pick(100.0, 240.0)
	if s := os.Getenv("MOLEN_FAULTS_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			t.Fatalf("MOLEN_FAULTS_RATE=%q: want a positive number of ticks per second", s)
		}
		rate = r
	}
	l := newLinkRig(t, rate, rigOpts{flags: []string{"--buffer-sync-interval", "10ms", "--buffer-max-bytes", strconv.Itoa(64 << 30)}})
	h, e := l.h, l.e
	s := startSim(t, e.mqtt, rate)
	l.s = s
	l.waitForwarding(t)
	e.waitFor(t, time.Minute, "keep up before the outage", func(st edgeStatus) bool {
		return st.Outbox.PendingPoints <= l.drainedBelow()
	})

	h.kill()
	killed := time.Now()
	before := s.ackedTicks()
	time.Sleep(outage)
	down := e.status(t)
	offered := float64(s.ackedTicks()-before) * float64(pointsPerTick()) / float64(len(machineTopics())) / time.Since(killed).Seconds()
	h.restart(t)
	up := time.Now()

	first, resumed := e.waitFor(t, time.Minute, "forward again", func(st edgeStatus) bool { return st.contactAfter(up) })
	st, at := e.waitFor(t, 2*outage+5*time.Minute, "catch up after the outage", func(st edgeStatus) bool {
		return st.Outbox.PendingPoints <= l.drainedBelow()
	})
	catchUp := at.Sub(up)
	forwarded := st.Forward.Points - first.Forward.Points
	s.stop(t)
	e.waitDrained(t, 5*time.Minute)
	ta := h.verify(t, s)
	final := e.status(t)

	report(t, figure{
		Scenario: "7 catch-up after a long outage",
		Run: fmt.Sprintf("hub down %s, sim %g ticks/s (%s points/s acknowledged during the outage), edge fsync every 10 ms",
			fmtDur(outage), rate, thousands(int64(offered))),
		Acked: ta.points,
		Lost:  ta.lost,
		Dup:   ta.dup,
		Resume: fmt.Sprintf("backlog of %s points (%s MiB) caught up %s after the hub returned (forwarding again after %s), live data arriving meanwhile",
			thousands(down.Outbox.PendingPoints), thousands(down.Outbox.PendingBytes>>20), fmtDur(catchUp), fmtDur(resumed.Sub(up))),
		Rate: perSecond(float64(forwarded), at.Sub(resumed)) + " points/s forwarded while catching up",
	})
	checkNoLoss(t, ta, false)
	for r, n := range final.Outbox.DroppedPoints {
		if n != 0 {
			t.Errorf("%d points dropped with reason %s", n, r)
		}
	}
	if down.Outbox.PendingPoints < int64(offered*outage.Seconds()/2) {
		t.Errorf("backlog of %d points at the end of a %s outage at %.0f points/s: the outage did not hold data back", down.Outbox.PendingPoints, outage, offered)
	}
}
