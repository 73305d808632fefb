package edge

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/molen-io/molen/internal/outbox"
)

// A device that lost its connection sends its unacknowledged publishes
// again on a new one, while the originals may still be on their way to
// disk (acknowledgements are pipelined): such a resend is recognised once
// its original is stored, and not when the original was refused.
func TestResendOfAPublishOnItsWay(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	tab := newResendTable(8)
	id := newResendID("press-1", 7, "acme/press-1/temp", []byte(`{"v":1,"ts":1}`))
	p, err := ob.Enqueue([]byte("record"), 1)
	if err != nil {
		t.Fatal(err)
	}
	tab.queued(p, id)
	// Not settled yet (the connection's writer settles it): the resend
	// waits for the original's outcome.
	if !tab.stored(id) {
		t.Fatal("a resend of a publish on its way to disk, then stored, is not recognised")
	}
	tab.settled(p, id)
	if tab.stored(id) {
		t.Fatal("a publish that was on its way and settled without being added is still known")
	}

	// An original the outbox refuses: its resend must be stored.
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	other := newResendID("press-1", 8, "acme/press-1/temp", []byte(`{"v":2,"ts":2}`))
	if _, err := ob.Enqueue([]byte("record"), 1); err == nil {
		t.Fatal("enqueue on a closed outbox succeeded")
	}
	if tab.stored(other) {
		t.Fatal("a publish never stored is recognised")
	}
}

// The table's index against a model: an identity is remembered while its
// newest addition is among the last size additions. Few distinct
// identities make re-additions, evictions of re-added ones and long probe
// runs (deletions in the middle of them) common.
func TestResendTableAgainstModel(t *testing.T) {
	ids := make([]resendID, 3*200)
	for i := range ids {
		ids[i] = newResendID("c", uint16(i), "f/m/t", []byte(fmt.Sprint(i)))
	}
	for _, size := range []int{1, 3, 64, 200} {
		tab := newResendTable(size)
		newest := map[int]int{} // identity → its newest addition
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		id := func(i int) resendID { return ids[i] }
		distinct := 3 * size
		for n := range 20 * size {
			i := rng.IntN(distinct)
			tab.add(id(i))
			newest[i] = n
			if n%7 != 0 && n != 20*size-1 {
				continue
			}
			want := 0
			for j := range distinct {
				k, ok := newest[j]
				in := ok && k > n-size
				if in {
					want++
				}
				if got := tab.has(id(j)); got != in {
					t.Fatalf("size %d after %d adds: has(%d) = %v, want %v", size, n+1, j, got, in)
				}
			}
			if got := tab.len(); got != want {
				t.Fatalf("size %d after %d adds: len = %d, want %d", size, n+1, got, want)
			}
		}
	}
}
