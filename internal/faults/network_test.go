package faults

import (
	"fmt"
	"testing"
	"time"
)

// netFault is one kind of network fault between edge and hub.
type netFault struct {
	name   string
	cycles int
	full   bool // in the full suite only
	// inject starts the fault, waits until it has done its damage and ends
	// it; it returns a description of what it did for the table, and an
	// error message if the fault was not really injected.
	inject func(t *testing.T, l *linkRig) (string, string)
}

// linkRig is a hub, a proxy in front of it, an edge that forwards through
// the proxy and the simulator publishing to the edge.
type linkRig struct {
	h    *hub
	p    *proxy
	e    *edge
	s    *simRun
	rate float64
}

// rigOpts configure the edge of a linkRig.
type rigOpts struct {
	dir   string   // data directory; default a new temporary directory
	wrap  []string // command line prefix, e.g. prlimit
	flags []string // more edge flags
}

func newLinkRig(t *testing.T, rate float64, o rigOpts) *linkRig {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	h := startHub(t)
	p := startProxy(t, h.addr)
	e := startEdgeVia(t, o.wrap, o.dir, p.url(), h.createEdge(t, t.Name()), o.flags...)
	e.waitEnrolled(t)
	return &linkRig{h: h, p: p, e: e, rate: rate}
}

// waitForwarding waits until the edge has forwarded points to the hub:
// traffic flows end to end.
func (l *linkRig) waitForwarding(t *testing.T) {
	t.Helper()
	l.e.waitFor(t, time.Minute, "forward the first points to the hub", func(s edgeStatus) bool { return s.Forward.Points > 0 })
}

// drainedBelow is the pending backlog that counts as drained: what the
// simulator publishes in a quarter of a second.
func (l *linkRig) drainedBelow() int64 {
	return max(int64(float64(pointsPerTick())*l.rate/4), 20)
}

// TestFaultsNetwork injects network faults between edge and hub through a
// TCP proxy: the hub unreachable (connections refused, open ones reset),
// connections reset in the middle of a batch or after the hub answered
// (the edge must resend and the hub skip what it has), and in the full
// suite requests that are never answered and a slow link. Each fault runs
// on its own edge and hub; after each, no acknowledged point may be lost
// or stored twice, and the edge must forward again (the table shows how
// soon: within its retry delay, or for a hang its client timeout).
func TestFaultsNetwork(t *testing.T) {
	parallel(t)
	rate := pick(20.0, 50.0)
	faults := []netFault{
		{
			name: "drop", cycles: pick(1, 10),
			inject: func(t *testing.T, l *linkRig) (string, string) {
				d := pick(time.Second, 5*time.Second)
				began := time.Now()
				l.p.down()
				// Once an attempt has failed, no earlier one is still
				// being counted as forwarded.
				failed, _ := l.e.waitFor(t, time.Minute, "fail to forward to the unreachable hub", func(s edgeStatus) bool {
					return s.Hub.LastErrorAt != nil && s.Hub.LastErrorAt.After(began)
				})
				before := failed.Forward.Records
				time.Sleep(d - time.Since(began)) // the rest of the outage
				after := l.e.status(t)
				l.p.up()
				if after.Forward.Records != before {
					return "", fmt.Sprintf("%d records forwarded while the hub was unreachable", after.Forward.Records-before)
				}
				if after.Outbox.PendingRecords == 0 {
					return "", "nothing pending while the hub was unreachable"
				}
				return fmt.Sprintf("refused %s", fmtDur(d)), ""
			},
		},
		{
			name: "hang", cycles: pick(1, 3), full: true,
			inject: func(t *testing.T, l *linkRig) (string, string) {
				d := pick(2*time.Second, 5*time.Second)
				hung := l.p.hung.Load()
				l.p.setMode(hang)
				time.Sleep(d)
				l.p.setMode(pass)
				if l.p.hung.Load() == hung {
					return "", "no request was held"
				}
				return fmt.Sprintf("unanswered %s", fmtDur(d)), ""
			},
		},
		{
			name: "reset mid-request", cycles: pick(1, 10), full: true,
			inject: func(t *testing.T, l *linkRig) (string, string) {
				const k = 3
				n := l.p.midResets.Load()
				l.p.arm(resetMid, k)
				if !waitCounter(&l.p.midResets, n+k, 30*time.Second) {
					return "", fmt.Sprintf("%d of %d resets injected", l.p.midResets.Load()-n, k)
				}
				return fmt.Sprintf("%d RSTs after half the body", k), ""
			},
		},
		{
			name: "reset after answer", cycles: pick(1, 10),
			inject: func(t *testing.T, l *linkRig) (string, string) {
				const k = 3
				n, ok200, dups := l.p.answerResets.Load(), l.p.answers200.Load(), l.h.duplicates()
				l.p.arm(resetAnswer, k)
				if !waitCounter(&l.p.answerResets, n+k, 30*time.Second) {
					return "", fmt.Sprintf("%d of %d answers swallowed", l.p.answerResets.Load()-n, k)
				}
				if l.p.answers200.Load() == ok200 {
					return "", "no swallowed answer was a 200: the hub had stored nothing"
				}
				// The resend of a stored batch reaches the hub after the
				// edge's retry delay.
				deadline := time.Now().Add(time.Minute)
				for l.h.duplicates() == dups {
					if time.Now().After(deadline) {
						return "", "the hub skipped no resent record"
					}
					time.Sleep(20 * time.Millisecond)
				}
				return fmt.Sprintf("%d answers swallowed, RST", k), ""
			},
		},
		{
			name: "slow link", cycles: pick(1, 3), full: true,
			inject: func(t *testing.T, l *linkRig) (string, string) {
				const bw = 8 << 10
				d := pick(5*time.Second, 20*time.Second)
				before, bytes := l.e.status(t).Forward.Points, l.p.slowBytes.Load()
				began := time.Now()
				l.p.setSlow(bw)
				time.Sleep(d)
				l.p.setMode(pass)
				took := time.Since(began)
				fwd, sent := l.e.status(t).Forward.Points-before, l.p.slowBytes.Load()-bytes
				if sent == 0 {
					return "", "no bytes went through the slow link"
				}
				if got := float64(sent) / took.Seconds(); got > 1.25*bw {
					return "", fmt.Sprintf("%.0f B/s through a link of %d B/s", got, bw)
				}
				return fmt.Sprintf("%d KiB/s for %s: %s points/s forwarded", bw>>10, fmtDur(d), perSecond(float64(fwd), took)), ""
			},
		},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			if f.full {
				fullOnly(t)
			}
			parallel(t)
			l := newLinkRig(t, rate, rigOpts{})
			l.s = startSim(t, l.e.mqtt, rate)
			l.waitForwarding(t)
			var resumes, drains durations
			var what string
			for i := range f.cycles {
				desc, bad := f.inject(t, l)
				end := time.Now()
				if bad != "" {
					t.Fatalf("cycle %d: fault not injected: %s", i+1, bad)
				}
				what = desc
				st, _ := l.e.waitFor(t, 2*time.Minute, "forward after the fault", func(s edgeStatus) bool { return s.contactAfter(end) })
				resumes = append(resumes, st.Hub.LastContact.Sub(end))
				_, at := l.e.waitFor(t, 2*time.Minute, "drain the backlog", func(s edgeStatus) bool { return s.Outbox.PendingPoints <= l.drainedBelow() })
				drains = append(drains, at.Sub(end))
			}
			l.s.stop(t)
			l.e.waitDrained(t, time.Minute)
			ta := l.h.verify(t, l.s)
			report(t, figure{
				Scenario: "3 network: " + f.name,
				Run:      fmt.Sprintf("%d × %s, sim %g ticks/s", f.cycles, what, rate),
				Acked:    ta.points,
				Lost:     ta.lost,
				Dup:      ta.dup,
				Resume:   "forwarding " + resumes.String() + "; backlog drained " + drains.String(),
				Rate:     thousands(int64(l.h.duplicates())) + " records resent and skipped by the hub",
			})
			checkNoLoss(t, ta, false)
		})
	}
}
