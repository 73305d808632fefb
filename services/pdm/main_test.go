package main

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// cycle is a machine's run from a repair to its next failure, as the
// simulator's states show it.
type cycle struct {
	asset      string
	start, end int64   // the repair, the failure
	running    float64 // running hours in between
}

// TestPredictsFailures runs a day of the simulated line, whose machines
// wear while running, drift in vibration with the square of their wear,
// and fail more often the more worn they are, and checks the estimates
// against the failures that followed: most failures come after a
// warning, and the running hours the estimate foresaw for a cycle are of
// the order of those it ran.
func TestPredictsFailures(t *testing.T) {
	src := simfeed.Factory(t, 1)
	var cycles []cycle
	open := map[string]*cycle{}
	state := map[string]string{}
	rec := func(now time.Time) []uns.Point {
		pts := src(now)
		for _, p := range pts {
			asset, ok := strings.CutSuffix(p.Series, "/state")
			if !ok {
				continue
			}
			s := p.Value.Str()
			if c := open[asset]; c != nil && state[asset] == "running" {
				c.running += 1.0 / 3600
			}
			switch {
			case s == "down" && state[asset] != "down":
				if c := open[asset]; c != nil {
					c.end = p.TS
					cycles = append(cycles, *c)
				}
				open[asset] = nil
			case s == "running" && state[asset] == "down":
				open[asset] = &cycle{asset: asset, start: p.TS}
			}
			state[asset] = s
		}
		return pts
	}
	r := simfeed.Run(t, &pdm{}, `{"limit_rise": 1.5, "warn_hours": 1}`, rec, 24*3600, "/pdm/hours_to_limit", "/pdm/running_hours")

	warned, estimated := 0, 0
	var ratios []float64
	for _, c := range cycles {
		var warning *molensvc.Event
		for i, e := range r.Events {
			if e.Asset == c.asset && e.Kind == "maintenance" && e.Start > c.start && e.Start < c.end {
				warning = &r.Events[i]
			}
		}
		if warning != nil {
			warned++
		}
		// The newest estimate halfway through the cycle: the running hours
		// it foresaw for the whole cycle.
		if est := estimateBefore(r, c, (c.start+c.end)/2); est > 0 {
			estimated++
			ratios = append(ratios, est/c.running)
		}
	}
	slices.Sort(ratios)
	t.Logf("%d cycles from repair to failure; %d with a warning before the failure, %d with an estimate; foreseen/actual running hours: median %.2f, quartiles %.2f–%.2f",
		len(cycles), warned, estimated, ratios[len(ratios)/2], ratios[len(ratios)/4], ratios[3*len(ratios)/4])
	if len(cycles) < 20 {
		t.Fatalf("%d cycles in a day of five machines", len(cycles))
	}
	if float64(warned) < 0.5*float64(len(cycles)) {
		t.Errorf("%d of %d failures came after a warning", warned, len(cycles))
	}
	if m := ratios[len(ratios)/2]; m < 0.6 || m > 1.6 {
		t.Errorf("median foreseen/actual running hours %.2f: the estimate is not of the order of the failures", m)
	}
	if n := r.Kinds()["anomaly"]; n > 24 {
		t.Errorf("%d anomalies in a day of a line without faults beyond its wear", n)
	}
}

// estimateBefore returns the running hours the newest estimate before ts
// foresaw for the cycle (its running hours then plus hours_to_limit), or 0
// without one.
func estimateBefore(r *simfeed.Result, c cycle, ts int64) float64 {
	left := r.Series[c.asset+"/pdm/hours_to_limit"]
	i, _ := slices.BinarySearchFunc(left, ts, func(p molensvc.Point, ts int64) int { return cmp.Compare(p.TS, ts) })
	if i == 0 || left[i-1].TS <= c.start {
		return 0
	}
	last := left[i-1]
	hours := r.Series[c.asset+"/pdm/running_hours"]
	j, _ := slices.BinarySearchFunc(hours, last.TS, func(p molensvc.Point, ts int64) int { return cmp.Compare(p.TS, ts) })
	return hours[j].Value.F + last.Value.F
}

// TestAnomaly: a reading far outside the noise raises an anomaly and does
// not move the estimate; a glitch marked uncertain does not.
func TestAnomaly(t *testing.T) {
	s := &pdm{}
	if err := s.Init([]byte(`{"baseline_min": 2, "z": 6}`)); err != nil {
		t.Fatal(err)
	}
	var out molensvc.Output
	pt := func(ts int64, v float64, q molensvc.Quality) molensvc.Point {
		return molensvc.Point{Series: "a/m/vibration_mm_s", TS: ts * 1e9, Value: molensvc.Float(v), Quality: q}
	}
	s.Process([]molensvc.Point{{Series: "a/m/state", TS: 0, Value: molensvc.String("running")}}, &out)
	for i := int64(31); i < 400; i++ {
		s.Process([]molensvc.Point{pt(i, 2+0.1*math.Sin(float64(i)), molensvc.Good)}, &out)
	}
	s.Process([]molensvc.Point{pt(400, 9, molensvc.Uncertain)}, &out)
	if len(out.Events) != 0 {
		t.Fatalf("events %+v before the outlier", out.Events)
	}
	s.Process([]molensvc.Point{pt(401, 9, molensvc.Good)}, &out)
	if len(out.Events) != 1 || out.Events[0].Kind != "anomaly" || out.Events[0].Attrs["value"] != "9" {
		t.Fatalf("events %+v, want one anomaly", out.Events)
	}
}

// TestModule checks the built module against the logic on four hours of
// the simulated line.
func TestModule(t *testing.T) {
	out := servicetest.Agree(t, ".", &pdm{}, ``, simfeed.Factory(t, 1), 4*3600)
	if len(out.Events) == 0 {
		t.Error("no maintenance events in four hours")
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"tag": "a/b"}`, `{"limit_rise": 0}`, `{"baseline_min": 0}`, `{"z": -1}`, `[`} {
		if err := (&pdm{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
