package fleet

import (
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uplink"
)

// An edge counts as offline after three of its report intervals, and never
// sooner than after three of the default's.
func TestOfflineAfterThreeReportIntervals(t *testing.T) {
	for _, tc := range []struct {
		every float64 // the edge's report interval in seconds, 0 if it does not say
		want  time.Duration
	}{
		{0, Offline},
		{10, Offline},
		{30, Offline},
		{300, 15 * time.Minute},
	} {
		if got := offline(uplink.Report{ReportSeconds: tc.every}); got != tc.want {
			t.Errorf("reporting every %gs: offline after %v, want %v", tc.every, got, tc.want)
		}
	}
}
