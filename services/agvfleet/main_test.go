package main

import (
	"math"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
)

const (
	fleet = "demo-factory/hall-a/agv"
	agv1  = fleet + "/molen-agv-1"
)

// TestSimulatedFleet runs three simulated AGVs (the simulator's model, its
// state messages decoded by the edge's vda5050 input) for four hours and
// checks the windows against what the vehicles reported: the time
// driving and charging, the distance between positions, the loads put
// down; and the fleet's counts.
func TestSimulatedFleet(t *testing.T) {
	const hours = 4
	driving := map[int64]float64{} // seconds, by the end of their window
	dist := map[int64]float64{}
	delivered := map[int64]float64{}
	var x, y float64
	var loads int64
	first := true
	src := simfeed.AGVs(t, 3, 7)
	rec := func(now time.Time) []uns.Point {
		pts := src(now)
		end := now.Truncate(15 * time.Minute).Add(15 * time.Minute).UnixNano()
		var nx, ny float64
		for _, p := range pts {
			switch p.Series {
			case agv1 + "/driving":
				if p.Value.Bool() {
					driving[end]++
				}
			case agv1 + "/position_x":
				nx = p.Value.Float64()
			case agv1 + "/position_y":
				ny = p.Value.Float64()
			case agv1 + "/load_count":
				if n := p.Value.Int(); n < loads {
					delivered[end] += float64(loads - n)
				}
				loads = p.Value.Int()
			}
		}
		if !first {
			dist[end] += math.Hypot(nx-x, ny-y)
		}
		x, y, first = nx, ny, false
		return pts
	}
	r := simfeed.Run(t, &agvfleet{}, `{"window_min": 15, "low_battery_pct": 32}`, rec, hours*3600,
		agv1+"/fleet/driving", agv1+"/fleet/charging", agv1+"/fleet/distance_m", agv1+"/fleet/delivered", fleet+"/fleet/vehicles", fleet+"/fleet/driving")
	drv := r.Series[agv1+"/fleet/driving"]
	if len(drv) != hours*4-1 {
		t.Fatalf("%d windows, want %d", len(drv), hours*4-1)
	}
	var charging, delivered1 float64
	for i, p := range drv {
		// A state counts from its point to the next, so a window's time
		// may differ by the tick at each of its edges.
		if want := driving[p.TS] / 900; math.Abs(p.Value.F-want) > 2.0/900 {
			t.Errorf("window %d: driving %.4f, want %.4f", i, p.Value.F, want)
		}
		if got, want := r.Series[agv1+"/fleet/distance_m"][i].Value.F, dist[p.TS]; math.Abs(got-want) > 1.6 {
			t.Errorf("window %d: %.1f m, want %.1f", i, got, want)
		}
		got := r.Series[agv1+"/fleet/delivered"][i].Value.F
		if want := delivered[p.TS]; got != want {
			t.Errorf("window %d: %v delivered, want %v", i, got, want)
		}
		delivered1 += got
		charging += r.Series[agv1+"/fleet/charging"][i].Value.F
	}
	if delivered1 == 0 || charging == 0 {
		t.Errorf("delivered %v, charging %v: in four hours an AGV delivers and charges", delivered1, charging)
	}
	for i, p := range r.Series[fleet+"/fleet/vehicles"] {
		if p.Value.F != 3 || r.Series[fleet+"/fleet/driving"][i].Value.F > 3 {
			t.Errorf("fleet window %d: %v vehicles", i, p.Value.F)
		}
	}
	if len(r.Series[fleet+"/fleet/vehicles"]) != hours*4-1 {
		t.Errorf("%d fleet counts", len(r.Series[fleet+"/fleet/vehicles"]))
	}
	// The simulated AGV charges when it passes its charger below 30 %.
	if n := r.Kinds()["agv_battery"]; n == 0 {
		t.Error("no low-battery events")
	}
}

// TestStates checks the state a vehicle's flags give.
func TestStates(t *testing.T) {
	for _, tc := range []struct {
		v    vehicle
		want string
	}{
		{vehicle{online: false, driving: true}, "offline"},
		{vehicle{online: true, estop: true, driving: true}, "error"},
		{vehicle{online: true, fatal: true}, "error"},
		{vehicle{online: true, charging: true}, "charging"},
		{vehicle{online: true, paused: true, driving: true}, "paused"},
		{vehicle{online: true, driving: true}, "driving"},
		{vehicle{online: true}, "idle"},
	} {
		if got := tc.v.state(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.v, got, tc.want)
		}
	}
}

// TestModule checks the built module against the logic on an hour of
// three AGVs.
func TestModule(t *testing.T) {
	servicetest.Agree(t, ".", &agvfleet{}, `{"window_min": 5, "low_battery_pct": 32}`, simfeed.AGVs(t, 3, 7), 3600)
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"window_min": 0}`, `{"low_battery_pct": 101}`, `[`} {
		if err := (&agvfleet{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
