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
// the test measures how fast the backlog drains. A third run catches up
// over a slow link with drop-oldest, so that the edge drops data while
// batches of it are on their way to the hub.
func TestFaultsHubOutage(t *testing.T) {
	parallel(t)
	cases := []struct {
		name, policy string
		slow         time.Duration // the link is slow for this long after the hub returned
	}{
		{"drop-oldest", "drop-oldest", 0},
		{"reject-new", "reject-new", 0},
		{"drop-oldest, slow link while catching up", "drop-oldest", pick(5*time.Second, 20*time.Second)},
	}
	for _, c := range cases {
		policy := c.policy
		t.Run(c.name, func(t *testing.T) {
			parallel(t)
			rate := pick(50.0, 100.0)
			maxBytes := pick(1<<20, 4<<20)
			outage := pick(8*time.Second, 45*time.Second)
			l := newLinkRig(t, rate, rigOpts{flags: []string{"--buffer-max-bytes", strconv.Itoa(maxBytes), "--buffer-full", policy}})
			h, e := l.h, l.e
			s := startSim(t, e.mqtt, rate)
			l.s = s
			time.Sleep(time.Second)

			pubAtKill := s.s.Published()
			h.kill()
			time.Sleep(outage)
			down := e.status(t)
			heldByDevices := s.publishedTicks() - s.ackedTicks()
			const slowLink = 16 << 10
			if c.slow > 0 {
				l.p.setSlow(slowLink)
			}
			h.restart(t)
			up := time.Now()
			if c.slow > 0 {
				time.Sleep(c.slow)
				l.p.setMode(pass)
			}

			// Catch-up: the edge's backlog, and for reject-new the devices'
			// too, drained to what a quarter of a second brings.
			live := max(int64(float64(pointsPerTick())*rate/4), 20)
			st, at := e.waitFor(t, 5*time.Minute, "catch up after the outage", func(st edgeStatus) bool {
				return st.Outbox.PendingPoints <= live && (s.publishedTicks()-s.ackedTicks())*int64(pointsPerTick())/int64(len(machineTopics())) <= live
			})
			pubAtCaughtUp := s.s.Published()
			catchUp := at.Sub(up)
			drained := st.Forward.Points - down.Forward.Points
			time.Sleep(time.Second)
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
				Resume: fmt.Sprintf("backlog of %s points drained in %s", thousands(down.Outbox.PendingPoints+heldByDevices*int64(pointsPerTick())/int64(len(machineTopics()))), fmtDur(catchUp)),
				Rate:   perSecond(float64(drained), catchUp) + " points/s forwarded while catching up",
			}
			if c.slow > 0 {
				f.Run += fmt.Sprintf(", then %d KiB/s for %s", slowLink>>10, fmtDur(c.slow))
			}
			if policy == "drop-oldest" {
				f.Lost = 0 // every missing point is a policy drop, checked below
				f.Drops = dropsText(ta.lost, dropped)
			} else {
				f.Drops = fmt.Sprintf("none; %s messages refused", thousands(final.Ingest.Refused["full"]))
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
				if dropped == 0 {
					t.Fatalf("the buffer never overflowed: nothing dropped (disk %d bytes at the end of the outage)", down.Outbox.DiskBytes)
				}
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
				if final.Ingest.Refused["full"] == 0 || final.Outbox.Rejected == 0 {
					t.Errorf("the buffer never refused data: refused %d messages, %d appends", final.Ingest.Refused["full"], final.Outbox.Rejected)
				}
				if heldByDevices == 0 {
					t.Errorf("the devices held nothing back at the end of the outage")
				}
			}
		})
	}
}
