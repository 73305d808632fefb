package main

import (
	"math"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

const press = "demo-factory/hall-a/line-1/injection-press"

// TestSimulatedLine runs eight hours of the simulated line through the
// service and checks each machine's windows against its downtime events
// and its own counters.
func TestSimulatedLine(t *testing.T) {
	const hours = 8
	var first, last map[string]float64 // good_count at the start and end of each window span
	src := simfeed.Factory(t, 1)
	count := func(now time.Time) []uns.Point {
		pts := src(now)
		for _, p := range pts {
			if p.Series == press+"/good_count" {
				if first == nil {
					first = map[string]float64{}
				}
				if _, ok := first["start"]; !ok {
					first["start"] = float64(p.Value.Int())
				}
				if now.Equal(simfeed.Start.Add(hours*time.Hour - time.Hour - time.Second)) {
					last = map[string]float64{"end": float64(p.Value.Int())}
				}
			}
		}
		return pts
	}
	r := simfeed.Run(t, &oee{}, `{"window_min": 60}`, count, hours*3600,
		press+"/oee/availability", press+"/oee/oee", press+"/oee/good_parts")

	avail := r.Series[press+"/oee/availability"]
	if len(avail) != hours-1 {
		t.Fatalf("%d windows of the press, want %d", len(avail), hours-1)
	}
	var good float64
	for i, p := range avail {
		if p.TS != simfeed.Start.Add(time.Duration(i+1)*time.Hour).UnixNano() {
			t.Errorf("window %d ends at %v", i, time.Unix(0, p.TS).UTC())
		}
		// Availability is the running time over the window: the window
		// minus the press's stops that overlap it.
		var stopped int64
		for _, e := range r.Events {
			if e.Asset == press {
				stopped += max(0, min(e.End, p.TS)-max(e.Start, p.TS-int64(time.Hour)))
			}
		}
		if want := 1 - float64(stopped)/float64(time.Hour); math.Abs(p.Value.F-want) > 0.01 {
			t.Errorf("window %d: availability %.3f, want %.3f from the downtime events", i, p.Value.F, want)
		}
		if o := r.Series[press+"/oee/oee"][i].Value.F; o < 0 || o > p.Value.F {
			t.Errorf("window %d: oee %.3f outside 0..availability", i, o)
		}
		good += r.Series[press+"/oee/good_parts"][i].Value.F
	}
	// The first window starts with the first point; the last closed one
	// ends an hour before the run does.
	if want := last["end"] - first["start"]; good != want {
		t.Errorf("good parts in the windows: %v, want %v from the press's counter", good, want)
	}
	reasons := map[string]int{}
	for _, e := range r.Events {
		reasons[e.Attrs["reason"]]++
		if e.Kind != "downtime" || e.End <= e.Start {
			t.Errorf("event %+v", e)
		}
	}
	if reasons["breakdown"] == 0 || reasons["changeover"] == 0 || reasons["starved-or-blocked"] == 0 {
		t.Errorf("reasons %v: want breakdowns, changeovers and idle stops in eight hours of a line", reasons)
	}
}

// TestReasonCode: a machine's own reason code, published while it is
// stopped, wins over the state's default.
func TestReasonCode(t *testing.T) {
	s := &oee{}
	if err := s.Init([]byte(`{"window_min": 60, "reasons": "down=breakdown"}`)); err != nil {
		t.Fatal(err)
	}
	var out molensvc.Output
	s.Process([]molensvc.Point{
		{Series: "a/m/state", TS: 1e9, Value: molensvc.String("running")},
		{Series: "a/m/state", TS: 2e9, Value: molensvc.String("down")},
		{Series: "a/m/reason_code", TS: 3e9, Value: molensvc.Int(17)},
		{Series: "a/m/state", TS: 9e9, Value: molensvc.String("running")},
		{Series: "a/m/state", TS: 10e9, Value: molensvc.String("down")},
		{Series: "a/m/state", TS: 12e9, Value: molensvc.String("running")},
	}, &out)
	if len(out.Events) != 2 || out.Events[0].Attrs["reason"] != "17" || out.Events[0].Start != 2e9 || out.Events[0].End != 9e9 ||
		out.Events[1].Attrs["reason"] != "breakdown" || out.Events[1].Attrs["duration_s"] != "2" {
		t.Fatalf("events %+v", out.Events)
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"window_min": 0}`, `{"reasons": "down"}`, `{"ideal_cycle_s": -1}`, `[`} {
		if err := (&oee{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}

// TestModule runs the built module as an edge does and checks that it
// emits what the logic does, on two hours of the simulated line.
func TestModule(t *testing.T) {
	out := servicetest.Agree(t, ".", &oee{}, `{"window_min": 30}`, simfeed.Factory(t, 1), 2*3600)
	if len(out.Events) == 0 {
		t.Error("no downtime in two hours of the line")
	}
}
