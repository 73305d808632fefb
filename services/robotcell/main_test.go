package main

import (
	"math"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
)

const robot = "demo-factory/hall-a/line-1/robot-cell"

// TestSimulatedCell runs eight hours of the simulated line (whose robot
// cell the simulator serves over Sparkplug B; here its points as the edge
// maps them) and checks each window against the cell's own states and
// counters, counted here from the points the service gets.
func TestSimulatedCell(t *testing.T) {
	const hours = 8
	running := map[int64]float64{} // running seconds by the end of their window
	total := map[int64]float64{}   // parts handled so far, at each hour
	var state string
	src := simfeed.Factory(t, 1)
	rec := func(now time.Time) []uns.Point {
		pts := src(now)
		end := now.Truncate(time.Hour).Add(time.Hour).UnixNano()
		for _, p := range pts {
			switch p.Series {
			case robot + "/state":
				if state == "running" {
					running[end]++ // the second before this point
				}
				state = p.Value.Str()
			case robot + "/good_count", robot + "/scrap_count":
				if now.Minute() == 0 && now.Second() == 0 {
					total[p.TS] += float64(p.Value.Int())
				}
			}
		}
		return pts
	}
	r := simfeed.Run(t, &robotcell{}, `{"window_min": 60, "gripper_min_bar": 5.6}`, rec, hours*3600, "/robot/utilisation", "/robot/handled_per_hour", "/robot/waiting", "/robot/changeover", "/robot/down")
	util := r.Series[robot+"/robot/utilisation"]
	if len(util) != hours-1 {
		t.Fatalf("%d windows, want %d", len(util), hours-1)
	}
	for i, p := range util {
		// A point's second is accounted when the next state point comes;
		// so the window ending at p.TS holds the seconds counted up to
		// its end, shifted by one point at each end.
		if want := running[p.TS] / 3600; math.Abs(p.Value.F-want) > 2.0/3600 {
			t.Errorf("window %d: utilisation %.4f, want %.4f", i, p.Value.F, want)
		}
		sum := p.Value.F
		for _, s := range []string{"waiting", "changeover", "down"} {
			sum += r.Series[robot+"/robot/"+s][i].Value.F
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("window %d: shares add up to %v", i, sum)
		}
		// Parts handled in a full window, within the part the counters'
		// readings at its edges may differ by.
		want := total[p.TS] - total[p.TS-int64(time.Hour)]
		if got := r.Series[robot+"/robot/handled_per_hour"][i].Value.F; math.Abs(got-want) > 1 {
			t.Errorf("window %d: %v handled per hour, want %v", i, got, want)
		}
	}
	if _, ok := r.Last["demo-factory/hall-a/line-1/cnc-mill/robot/utilisation"]; ok {
		t.Error("the cnc mill counted as a robot cell")
	}
	// The gripper's pressure falls with wear from 5.8 bar: a limit of 5.6
	// catches a worn gripper in some windows.
	if r.Kinds()["gripper"] == 0 {
		t.Error("no gripper events")
	}
}

// TestModule checks the built module against the logic on two hours of
// the simulated line.
func TestModule(t *testing.T) {
	servicetest.Agree(t, ".", &robotcell{}, `{"window_min": 15, "gripper_min_bar": 5.6}`, simfeed.Factory(t, 1), 2*3600)
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"window_min": 0}`, `{"cells": " , "}`, `{"gripper_min_bar": -1}`, `[`} {
		if err := (&robotcell{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
