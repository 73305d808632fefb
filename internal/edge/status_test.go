package edge

import (
	"fmt"
	"testing"
	"time"
)

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(1_000_000, 0)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	m.add(at(0.2), 2, 100)
	m.add(at(0.9), 1, 50)
	m.add(at(3.5), 4, 200)
	tests := []struct {
		now                  float64
		wantRecords, wantPts float64
	}{
		{0.95, 0, 0},    // the second in progress is left out
		{1.0, 0.3, 15},  // second 0 complete
		{4.0, 0.7, 35},  // seconds 0 and 3
		{10.9, 0.7, 35}, // second 0 is still one of the last ten
		{11.0, 0.4, 20}, // second 0 left the window
		{14.0, 0, 0},
	}
	for _, tt := range tests {
		r, p := m.rates(at(tt.now))
		if fmt.Sprintf("%.3f %.3f", r, p) != fmt.Sprintf("%.3f %.3f", tt.wantRecords, tt.wantPts) {
			t.Errorf("at %.2fs: %.3f records/s, %.3f points/s; want %.3f, %.3f", tt.now, r, p, tt.wantRecords, tt.wantPts)
		}
	}
	// Second 11 takes the bucket of second 0.
	m.add(at(11.5), 1, 1)
	if r, p := m.rates(at(15)); r != 0.1 || p != 0.1 {
		t.Errorf("after reuse of a bucket: %v, %v; want 0.1, 0.1", r, p)
	}
}
