package uplink

import (
	"testing"
	"time"
)

func TestMaintenanceOpen(t *testing.T) {
	m, err := ParseMaintenance([]byte(`["sat 02:00-06:00", "mon-fri 22:00-01:00", "daily 12:00-12:30"]`))
	if err != nil {
		t.Fatal(err)
	}
	// 2026-12-05 is a Saturday.
	at := func(day, h, min int) time.Time { return time.Date(2026, 12, day, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{at(5, 1, 59), false},
		{at(5, 2, 0), true},
		{at(5, 5, 59), true},
		{at(5, 6, 0), false},
		{at(5, 12, 10), true}, // daily
		{at(4, 23, 0), true},  // Friday night
		{at(5, 0, 30), true},  // after Friday's midnight
		{at(6, 0, 30), false}, // Sunday: Saturday has no night window
		{at(7, 0, 30), false}, // Monday early: Sunday has none
		{at(7, 22, 30), true}, // Monday night
		{at(8, 0, 59), true},  // Tuesday early, Monday's window
		{at(8, 1, 0), false},
	} {
		if got := m.Open(tc.t); got != tc.want {
			t.Errorf("Open(%s) = %v, want %v", tc.t.Format("Mon 15:04"), got, tc.want)
		}
	}
	if !Maintenance(nil).Open(at(5, 1, 0)) {
		t.Error("no windows: always open")
	}
	for _, bad := range []string{`"sat 02:00-06:00"`, `["sat"]`, `["someday 02:00-03:00"]`, `["sat 2-3"]`, `["mon-xyz 01:00-02:00"]`} {
		if _, err := ParseMaintenance([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
