package edge

import (
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
