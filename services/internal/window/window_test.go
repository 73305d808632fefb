package window

import (
	"testing"
)

// TestWindows accounts a machine's states and a counter across three
// windows of 10 ns: time split at the windows' ends, a window closed by
// a tick without points, a counter reset, and a late point.
func TestWindows(t *testing.T) {
	type closed struct {
		start, end        int64
		running, down     int64
		parts, observedNS int64
	}
	var got []closed
	tr := Tracker{Len: 10, Close: func(a *Asset, w *Totals) {
		got = append(got, closed{w.Start, w.End, w.Time["running"], w.Time["down"], int64(w.Sum["parts"]), w.Observed()})
	}}
	a := tr.Asset("site/line/m1")
	tr.SetState(a, 2, "running")
	tr.Counter(a, 2, "parts", 100) // sets the start
	tr.Counter(a, 5, "parts", 103)
	if prev, since := tr.SetState(a, 8, "down"); prev != "running" || since != 2 {
		t.Errorf("SetState returned %q since %d", prev, since)
	}
	tr.Counter(a, 12, "parts", 2) // a reset: counts 2
	tr.SetState(a, 14, "running")
	tr.SetState(a, 6, "down") // late: accounts nothing, but sets the state
	tr.SetState(a, 15, "running")
	tr.Tick(31)
	want := []closed{
		{0, 10, 6, 2, 3, 8},   // 2–8 running, 8–10 down
		{10, 20, 5, 5, 2, 10}, // 10–14 down, 14–15 down (the late point's state), 15–20 running
		{20, 30, 10, 0, 0, 10},
	}
	if len(got) != len(want) {
		t.Fatalf("closed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if tr.Asset("site/line/m1") != a || len(tr.Assets()) != 1 {
		t.Error("the asset is not kept once")
	}
	if asset, tag := Split("site/line/m1/state"); asset != "site/line/m1" || tag != "state" {
		t.Errorf("Split: %q %q", asset, tag)
	}
}
