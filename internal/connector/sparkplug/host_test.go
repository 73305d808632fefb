package sparkplug

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// The host's seq and rebirth logic, with the times given: what the input
// tests over a broker cannot make happen at exact moments.

const reorder = time.Second

func testHost(t *testing.T) (*host, *[]int) {
	t.Helper()
	cfg := NewConfig()
	cfg.URL = "tcp://127.0.0.1:1883"
	cfg.Groups = []Group{{Group: "g"}}
	groups, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(groups, reorder, true)
	var lost []int
	h.lost = func(n int, _ string) { lost = append(lost, n) }
	return h, &lost
}

// temp is an NBIRTH (seq 0) declaring metric "t" as alias 1, or an NDATA of
// it by alias with seq.
func temp(birth bool, seq uint64, v float64) []byte {
	m := Metric{Alias: 1, HasAlias: true, Field: DoubleValue, Bits: math.Float64bits(v)}
	if birth {
		m.Name, m.Datatype = "t", Double
	}
	p := Payload{Timestamp: 1763700000000 + seq, Seq: seq, HasSeq: true, Metrics: []Metric{m}}
	return p.Append(nil)
}

const (
	nbirth = "spBv1.0/g/NBIRTH/n"
	ndata  = "spBv1.0/g/NDATA/n"
)

func at(d time.Duration) int64 { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(d).UnixNano() }

// sent returns the nodes h sends rebirth requests to now.
func sent(h *host, now int64) []string {
	var out []string
	h.sendRebirths(now, func(k nodeKey) { out = append(out, k.group+"/"+k.node) })
	return out
}

func values(pts []uns.Point) []float64 {
	var out []float64
	for _, p := range pts {
		out = append(out, p.Value.Float64())
	}
	return out
}

// TestLateMessageFillsGap: a message that arrives after a later one, but
// within reorder_timeout, closes the gap: both are written, nothing is
// lost, no rebirth is asked for.
func TestLateMessageFillsGap(t *testing.T) {
	h, lost := testHost(t)
	var pts []uns.Point
	pts = h.handle(pts, nbirth, temp(true, 0, 0), at(0))
	pts = h.handle(pts, ndata, temp(false, 2, 2), at(10*time.Millisecond))
	pts = h.handle(pts, ndata, temp(false, 1, 1), at(reorder/3))
	h.expire(at(3 * reorder))
	if got := values(pts); !slices.Equal(got, []float64{0, 2, 1}) {
		t.Errorf("values %v, want 0, 2, 1", got)
	}
	if len(*lost) != 0 || len(h.pending) != 0 {
		t.Errorf("lost %v, rebirths pending %d; want none", *lost, len(h.pending))
	}
}

// TestGapAsksOnce: a gap still open after reorder_timeout counts what it
// lost and asks for one rebirth; the birth that answers closes the matter.
func TestGapAsksOnce(t *testing.T) {
	h, lost := testHost(t)
	h.handle(nil, nbirth, temp(true, 0, 0), at(0))
	pts := h.handle(nil, ndata, temp(false, 3, 3), at(time.Second))
	if got := values(pts); !slices.Equal(got, []float64{3}) {
		t.Errorf("values %v: data after a gap is written at once", got)
	}
	h.expire(at(time.Second + reorder - 1))
	if len(*lost) != 0 {
		t.Fatalf("gap closed before reorder_timeout: lost %v", *lost)
	}
	h.expire(at(time.Second + reorder))
	if !slices.Equal(*lost, []int{2}) {
		t.Errorf("lost %v, want the 2 messages of the gap", *lost)
	}
	if got := sent(h, at(3*time.Second)); !slices.Equal(got, []string{"g/n"}) {
		t.Errorf("rebirth requests %v, want one to g/n", got)
	}
	// The node answers; time passes; nothing more is asked.
	h.handle(nil, nbirth, temp(true, 0, 4), at(3*time.Second))
	h.handle(nil, ndata, temp(false, 1, 5), at(3*time.Second+time.Millisecond))
	h.expire(at(10 * reorder))
	if got := sent(h, at(10*reorder)); len(got) != 0 || len(*lost) != 1 {
		t.Errorf("after the rebirth: requests %v, lost %v; want none more", got, *lost)
	}
}

// TestRebirthHeldUntilSent: data without a birth asks for a rebirth. Until
// the request is sent, more such data does not queue another, and no time
// is recorded for it: once sent, the next request waits reorder_timeout.
// A birth that arrives before the request is sent makes it moot.
func TestRebirthHeldUntilSent(t *testing.T) {
	h, _ := testHost(t)
	h.handle(nil, ndata, temp(false, 5, 5), at(0))
	h.handle(nil, ndata, temp(false, 6, 6), at(time.Millisecond))
	if len(h.pending) != 1 {
		t.Fatalf("%d requests queued, want 1", len(h.pending))
	}
	// Sent only now (the input could not publish before): the limit runs
	// from here.
	if got := sent(h, at(reorder)); !slices.Equal(got, []string{"g/n"}) {
		t.Fatalf("sent %v, want g/n", got)
	}
	h.handle(nil, ndata, temp(false, 7, 7), at(2*reorder-1))
	if len(h.pending) != 0 {
		t.Errorf("a request queued %v after the last one was sent; want none within reorder_timeout", time.Duration(at(2*reorder-1)-at(reorder)))
	}
	h.handle(nil, ndata, temp(false, 8, 8), at(2*reorder))
	if len(h.pending) != 1 {
		t.Errorf("%d requests queued reorder_timeout after the last was sent, want 1", len(h.pending))
	}
	// The node is born before the request could be sent.
	h.handle(nil, nbirth, temp(true, 0, 9), at(2*reorder+1))
	if got := sent(h, at(2*reorder+2)); len(got) != 0 {
		t.Errorf("sent %v after the node's birth, want nothing", got)
	}
}
