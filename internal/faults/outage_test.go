package faults

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestFaultsHubOutage stops the hub for longer than the edge's buffer
// bound can hold, under both policies. drop-oldest: the edge keeps
// acknowledging devices and deletes its oldest unsent data; the points
// missing at the hub must be exactly the points the edge counts as
// dropped. reject-new: the edge stops acknowledging, devices keep their
// data, and nothing acknowledged may be lost. Then the hub comes back and
// the test measures how fast the edge forwards its backlog. A third run
// (full suite) catches up over a slow link with drop-oldest, so that the
// edge drops data while batches of it are on their way to the hub.
//
// The outage lasts until the bound has taken effect (some drops, some
// refusals), and in the long variant at least 45 s: the scenario does not
// depend on how fast the machine fills the buffer.
func TestFaultsHubOutage(t *testing.T) {
	parallel(t)
	cases := []struct {
		name, policy string
		slow         time.Duration // the link is slow for this long after the hub returned
		full         bool          // in the full suite only
	}{
		{"drop-oldest", "drop-oldest", 0, false},
		{"reject-new", "reject-new", 0, false},
		{"drop-oldest, slow link while catching up", "drop-oldest", pick(5*time.Second, 20*time.Second), true},
	}
	for _, c := range cases {
		policy := c.policy
		t.Run(c.name, func(t *testing.T) {
			if c.full {
				fullOnly(t)
			}
			parallel(t)
			rate := pick(50.0, 100.0)
			maxBytes := pick(512<<10, 4<<20)
			minOutage := pick(0, 45*time.Second)
			l := newLinkRig(t, rate, rigOpts{flags: []string{"--buffer-max-bytes", strconv.Itoa(maxBytes), "--buffer-full", policy}})
			h, e := l.h, l.e
			s := startSim(t, e.mqtt, rate)
			l.s = s
			l.waitForwarding(t)

			pubAtKill := s.s.Published()
			h.kill()
			killed := time.Now()
			// drop-oldest: data dropped beyond what the forwarder holds
			// (records dropped from a batch on its way are counted once the
			// hub is back); reject-new: refused four times (once per
			// device, say).
			e.waitFor(t, 2*time.Minute, "the buffer bound to take effect while the hub is down", func(st edgeStatus) bool {
				if policy == "drop-oldest" {
					return st.Outbox.DroppedPoints["full"] > 0
				}
				return st.Ingest.Refused["full"] >= 4
			})
			if d := minOutage - time.Since(killed); d > 0 {
				time.Sleep(d) // the long variant's outage: part of the scenario
			}
			down := e.status(t)
			heldByDevices := s.publishedTicks() - s.ackedTicks()
			const slowLink = 16 << 10
			if c.slow > 0 {
				l.p.setSlow(slowLink)
			}
			h.restart(t)
			up := time.Now()
			outage := up.Sub(killed)
			if c.slow > 0 {
				time.Sleep(c.slow) // the slow stretch: part of the scenario
				l.p.setMode(pass)
			}

			// Catch-up: the edge's backlog forwarded, down to what a
			// quarter of a second brings. For reject-new the devices' backlog
			// drains as fast as the edge ingests beyond the live rate, which
			// on a busy machine may be not at all: it is checked once the
			// simulator stops.
			st, at := e.waitFor(t, 5*time.Minute, "forward the backlog after the outage", func(st edgeStatus) bool {
				return st.Outbox.PendingPoints <= l.drainedBelow()
			})
			pubAtCaughtUp := s.s.Published()
			catchUp := at.Sub(up)
			drained := st.Forward.Points - down.Forward.Points
			s.stop(t)
			e.waitDrained(t, time.Minute)
			ta := h.verify(t, s)
			final := e.status(t)
			dropped := final.Outbox.DroppedPoints["full"]

			f := figure{
				Scenario: "4 hub outage, " + c.name,
				Run: fmt.Sprintf("hub down %s, buffer %d KiB, sim %g ticks/s (%s points/s)",
					fmtDur(outage), maxBytes>>10, rate, thousands(int64(rate)*int64(pointsPerTick()))),
				Acked:  ta.points,
				Lost:   ta.lost,
				Dup:    ta.dup,
				Resume: fmt.Sprintf("backlog of %s points forwarded in %s", thousands(down.Outbox.PendingPoints), fmtDur(catchUp)),
				Rate:   perSecond(float64(drained), catchUp) + " points/s forwarded while catching up",
			}
			if c.slow > 0 {
				f.Run += fmt.Sprintf(", then %d KiB/s for %s", slowLink>>10, fmtDur(c.slow))
			}
			if policy == "drop-oldest" {
				f.Lost = 0 // every missing point is a policy drop, checked below
				f.Drops = dropsText(ta.lost, dropped)
			} else {
				f.Drops = fmt.Sprintf("none; %s messages refused, devices held %s points", thousands(final.Ingest.Refused["full"]),
					thousands(heldByDevices*int64(pointsPerTick())/int64(len(machineTopics()))))
			}
			report(t, f)

			if ta.dup != 0 {
				t.Errorf("%d points stored more than once (%d seq points)", ta.dup, ta.dupTicks)
			}
			if ta.unacked != 0 {
				t.Errorf("%d points at the hub of ticks the simulator never had acknowledged", ta.unacked)
			}
			for _, r := range []string{"age", "corrupt"} {
				if n := final.Outbox.DroppedPoints[r]; n != 0 {
					t.Errorf("%d points dropped with reason %s", n, r)
				}
			}
			switch policy {
			case "drop-oldest":
				if ta.lost > dropped {
					t.Errorf("%d points missing at the hub, the edge counts %d dropped: %d lost beyond the policy", ta.lost, dropped, ta.lost-dropped)
				}
				if n := final.Ingest.Refused["full"]; n != 0 {
					t.Errorf("drop-oldest refused %d messages", n)
				}
				// Only data of the outage may be missing: ticks published
				// from shortly before the hub died until the edge caught up.
				for m, seqs := range ta.missingTicks {
					lo, hi := pubAtKill[m]-min(pubAtKill[m], uint64(2*rate)), pubAtCaughtUp[m]
					for _, seq := range seqs {
						if seq <= lo || seq > hi {
							t.Errorf("%s: tick %d missing, outside the outage (ticks %d-%d)", m, seq, lo+1, hi)
							break
						}
					}
				}
				if ta.lost < dropped {
					t.Errorf("%d points counted as dropped, %d missing at the hub: %d counted that reached it (edge's last forwarding error: %q at %v; %d device resends recognised, %d duplicates, %d unacked, %d orphans)",
						dropped, ta.lost, dropped-ta.lost, final.Hub.LastError, final.Hub.LastErrorAt, final.Ingest.ResendsSkipped, ta.dup, ta.unacked, ta.orphans)
				}
			case "reject-new":
				checkNoLoss(t, ta, false)
				if dropped != 0 {
					t.Errorf("reject-new dropped %d points", dropped)
				}
				if final.Outbox.Rejected == 0 {
					t.Errorf("the buffer never refused data: %d appends refused", final.Outbox.Rejected)
				}
				if heldByDevices == 0 {
					t.Errorf("the devices held nothing back at the end of the outage")
				}
			}
		})
	}
}
