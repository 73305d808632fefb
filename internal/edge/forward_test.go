package edge

import (
	"testing"
	"time"
)

// TestLingerAfter: a trickle of records waits longer before the next
// forwarding request than a busier link; a full batch does not wait (the
// caller's rule).
func TestLingerAfter(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{
		{0, trickleLinger},
		{trickleRecords - 1, trickleLinger},
		{trickleRecords, forwardLinger},
		{batchRecords/2 - 1, forwardLinger},
	} {
		if got := lingerAfter(c.n); got != c.want {
			t.Errorf("lingerAfter(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}
