package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

// Peer is a real server of the protocol, run in-process on an ephemeral
// port of 127.0.0.1 (never a standard port).
type Peer interface {
	// Stop makes the peer unreachable: it stops listening and drops its
	// connections, as a device that is switched off.
	Stop() error
	// Start brings a stopped peer back on the same address.
	Start() error
}

// Harness is what a connector's test gives the suite.
type Harness struct {
	// NewPeer starts a fresh peer and arranges its cleanup with t.Cleanup.
	NewPeer func(t *testing.T) Peer
	// NewInput builds an input reading from p. Unless slow, configure it to
	// poll and back off fast (milliseconds), or the suite is slow; nothing
	// in the suite depends on how fast. If slow, make every interval the
	// input waits (poll interval, back-off) an hour or more: the close tests
	// use it to show that Run does not wait them out when its context ends.
	NewInput func(t *testing.T, p Peer, slow bool) connector.Input
	// Produce makes p produce known values from now on and returns them as
	// the input must deliver them (series → value). Every call must change
	// every value; round counts from 1.
	Produce func(t *testing.T, p Peer, round int) map[string]uns.Value
	// Bad makes p send one bad frame or bad value and returns the key under
	// which the input counts it in Status.Rejected. Nil if the protocol
	// gives no way to; the bad_data subtest is skipped.
	Bad func(t *testing.T, p Peer) (reason string)
	// Listens is set for an input that is a server its peers connect to
	// (http): it has no connection of its own to lose, so peer_restart and
	// close/peer_down do not apply and are skipped; Stop and Start of its
	// Peer are not called.
	Listens bool
	// Redelivery is what the input does with points the sink refused.
	Redelivery Redelivery
	// Wait bounds every wait for a condition (default 10 s). It is a limit
	// for a hung input, not a performance requirement.
	Wait time.Duration
	// GoroutineSlack is how many more goroutines may run once an input
	// stopped than before it was built (default 0): raise it only for a
	// peer that starts goroutines of its own in the background.
	GoroutineSlack int
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.NewPeer == nil || h.NewInput == nil || h.Produce == nil {
		t.Fatal("connectortest: Harness needs NewPeer, NewInput and Produce")
	}
	if h.Wait <= 0 {
		h.Wait = 10 * time.Second
	}
	t.Run("read", func(t *testing.T) { testRead(t, h) })
	t.Run("sink_refuses", func(t *testing.T) { testSinkRefuses(t, h) })
	t.Run("peer_restart", func(t *testing.T) {
		if h.Listens {
			t.Skip("the input listens: it has no connection to a peer to lose")
		}
		testPeerRestart(t, h)
	})
	t.Run("bad_data", func(t *testing.T) {
		if h.Bad == nil {
			t.Skip("the harness gives no way to send bad data")
		}
		testBadData(t, h)
	})
	t.Run("close", func(t *testing.T) {
		t.Run("connected", func(t *testing.T) { testClose(t, h, closeConnected) })
		t.Run("peer_down", func(t *testing.T) {
			if h.Listens {
				t.Skip("the input listens: it has no peer to be down")
			}
			testClose(t, h, closePeerDown)
		})
		t.Run("sink_blocked", func(t *testing.T) { testClose(t, h, closeSinkBlocked) })
	})
}

// run is one Run of an input under test.
type run struct {
	h      Harness
	in     connector.Input
	sink   *Sink
	cancel context.CancelFunc
	done   chan error
	err    error
	over   bool
}

func start(t *testing.T, h Harness, p Peer, slow bool) *run {
	t.Helper()
	in := h.NewInput(t, p, slow)
	checkStatus(t, "before Run", in.Status())
	ctx, cancel := context.WithCancel(t.Context())
	r := &run{h: h, in: in, sink: NewSink(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, r.sink) }()
	t.Cleanup(func() {
		if r.over {
			return
		}
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(h.Wait):
			t.Errorf("Run did not return within %v after its context ended", h.Wait)
		}
	})
	return r
}

// stop cancels Run's context and waits for it to return; it then checks
// the final status.
func (r *run) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case r.err = <-r.done:
		r.over = true
	case <-time.After(r.h.Wait):
		t.Fatalf("Run did not return within %v after its context ended", r.h.Wait)
	}
	if r.err != nil {
		t.Errorf("Run returned %v after its context ended; want nil", r.err)
	}
	st := r.in.Status()
	checkStatus(t, "after Run", st)
	if st.State != connector.Stopped {
		t.Errorf("after Run: state %q, want %q", st.State, connector.Stopped)
	}
	if got, want := st.Points, int64(r.sink.Len()); got != want {
		t.Errorf("after Run: status points %d, sink accepted %d", got, want)
	}
}

// waitFor polls cond until it holds or h.Wait passes.
func (r *run) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(r.h.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; status %+v", r.h.Wait, what, r.in.Status())
		}
		checkStatus(t, "while waiting for "+what, r.in.Status())
		time.Sleep(2 * time.Millisecond)
	}
}

// produce makes the peer produce round's values and waits until the input
// delivered all of them.
func (r *run) produce(t *testing.T, p Peer, round int) {
	t.Helper()
	from := r.sink.Len()
	want := r.h.Produce(t, p, round)
	if len(want) == 0 {
		t.Fatal("Produce returned no values")
	}
	var left []string
	r.waitFor(t, fmt.Sprintf("round %d values", round), func() bool {
		left = unseen(want, r.sink.Points()[from:])
		return len(left) == 0
	})
}

func (r *run) waitState(t *testing.T, s connector.State) connector.Status {
	t.Helper()
	var st connector.Status
	r.waitFor(t, "state "+string(s), func() bool {
		st = r.in.Status()
		return st.State == s
	})
	return st
}

func checkStatus(t *testing.T, when string, st connector.Status) {
	t.Helper()
	for _, b := range insane(st) {
		t.Errorf("status %s: %s", when, b)
	}
}

func testRead(t *testing.T, h Harness) {
	p := h.NewPeer(t)
	r := start(t, h, p, false)
	r.produce(t, p, 1)
	r.produce(t, p, 2)
	st := r.waitState(t, connector.Connected)
	if st.Connects != 1 {
		t.Errorf("connects %d after one connection, want 1", st.Connects)
	}
	if st.Points < 1 {
		t.Errorf("points %d after delivering, want > 0", st.Points)
	}
	for _, pt := range r.sink.Points() {
		if err := uns.ValidatePath(pt.Series); err != nil {
			t.Errorf("delivered series %q: %v", pt.Series, err)
		}
		if pt.TS <= 0 || pt.Value.Kind() == uns.KindInvalid {
			t.Errorf("delivered point %+v: want a timestamp and a value", pt)
		}
	}
	r.stop(t)
}

func testSinkRefuses(t *testing.T, h Harness) {
	const refusals = 3
	p := h.NewPeer(t)
	r := start(t, h, p, false)
	r.produce(t, p, 1)
	r.sink.FailNext(refusals)
	r.produce(t, p, 2) // so it is delivered after the refusals
	r.waitFor(t, "the refused writes", func() bool { return r.sink.Failing() == 0 })
	r.produce(t, p, 3)
	refused := r.sink.Refused()
	if len(refused) == 0 {
		t.Fatal("the sink refused no points")
	}
	if st := r.in.Status(); st.LastError == "" {
		t.Error("no last_error after the sink refused writes")
	}
	r.stop(t)
	if lost := missing(h.Redelivery, refused, r.sink.Points()); len(lost) > 0 {
		t.Errorf("%d of %d refused points never delivered (redelivery %v), e.g. %+v", len(lost), len(refused), h.Redelivery, lost[0])
	}
}

func testPeerRestart(t *testing.T, h Harness) {
	p := h.NewPeer(t)
	r := start(t, h, p, false)
	r.produce(t, p, 1)
	if st := r.waitState(t, connector.Connected); st.Connects != 1 {
		t.Fatalf("connects %d before the restart, want 1", st.Connects)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop peer: %v", err)
	}
	st := r.waitState(t, connector.Disconnected)
	if st.LastError == "" {
		t.Error("disconnected without last_error")
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start peer: %v", err)
	}
	r.produce(t, p, 2)
	st = r.waitState(t, connector.Connected)
	if st.Connects != 2 {
		t.Errorf("connects %d after one restart, want 2", st.Connects)
	}
	r.stop(t)
}

func testBadData(t *testing.T, h Harness) {
	p := h.NewPeer(t)
	r := start(t, h, p, false)
	r.produce(t, p, 1)
	before := r.in.Status().Rejected
	reason := h.Bad(t, p)
	r.waitFor(t, fmt.Sprintf("rejected[%q] to count the bad data", reason), func() bool {
		return r.in.Status().Rejected[reason] > before[reason]
	})
	if st := r.in.Status(); st.LastError == "" {
		t.Error("no last_error after bad data")
	}
	r.produce(t, p, 2) // reading goes on
	r.stop(t)
}

type closeCase uint8

const (
	closeConnected closeCase = iota
	closePeerDown
	closeSinkBlocked
)

func testClose(t *testing.T, h Harness, c closeCase) {
	p := h.NewPeer(t)
	if c == closePeerDown {
		// Down from the start: the slow input fails to connect and
		// backs off for an hour.
		if err := p.Stop(); err != nil {
			t.Fatalf("stop peer: %v", err)
		}
	}
	base := runtime.NumGoroutine()
	// Slow, except where the test needs a second delivery.
	r := start(t, h, p, c != closeSinkBlocked)
	switch c {
	case closeConnected:
		// A slow polling input may have read before this round: any
		// delivery shows it connected and working.
		if len(h.Produce(t, p, 1)) == 0 {
			t.Fatal("Produce returned no values")
		}
		r.waitFor(t, "a first delivery", func() bool { return r.sink.Len() > 0 })
	case closePeerDown:
		r.waitState(t, connector.Disconnected)
	case closeSinkBlocked:
		r.produce(t, p, 1)
		blocked := r.sink.Block()
		h.Produce(t, p, 2)
		select {
		case <-blocked:
		case <-time.After(h.Wait):
			t.Fatalf("no write reached the blocked sink within %v", h.Wait)
		}
	}
	r.stop(t)
	// Connections the peer served end a moment after the input closed
	// them; wait for the count to settle rather than sample it once.
	deadline := time.Now().Add(h.Wait)
	for n := runtime.NumGoroutine(); n > base+h.GoroutineSlack; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines %v after Run returned, %d before the input was built (slack %d):\n%s",
				n, h.Wait, base, h.GoroutineSlack, strings.TrimSpace(buf.String()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
