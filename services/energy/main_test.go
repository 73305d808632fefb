package main

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
)

const (
	line       = "demo-factory/hall-a/line-1/"
	compressor = line + "compressor"
)

// TestSimulatedLine runs eight hours of the simulated line and checks
// the compressor's windows against its own meter and counter, and the
// standby energy against its power when not running.
func TestSimulatedLine(t *testing.T) {
	const hours = 8
	// The meter and counter at each hour, read from the data the service gets.
	meter, parts := map[int64]float64{}, map[int64]float64{}
	// The meter's increases while the compressor was not running, by the
	// hour they fell in.
	standby := map[int64]float64{}
	var state string
	var last float64
	src := simfeed.Factory(t, 1)
	record := func(now time.Time) []uns.Point {
		pts := src(now)
		for _, p := range pts {
			switch p.Series {
			case compressor + "/state":
				state = p.Value.Str()
			case compressor + "/energy_kwh":
				if v := p.Value.Float64(); state != "running" && last != 0 {
					standby[now.Truncate(time.Hour).Add(time.Hour).UnixNano()] += v - last
				}
				last = p.Value.Float64()
			}
			if now.Minute() == 0 && now.Second() == 0 {
				switch p.Series {
				case compressor + "/energy_kwh":
					meter[p.TS] = p.Value.Float64()
				case compressor + "/good_count":
					parts[p.TS] = float64(p.Value.Int())
				}
			}
		}
		return pts
	}
	r := simfeed.Run(t, &energy{}, `{"window_min": 60, "limit_kwh_per_part": 0.33}`, record, hours*3600,
		compressor+"/energy/kwh", compressor+"/energy/kwh_per_good_part", compressor+"/energy/standby_kwh")
	kwh := r.Series[compressor+"/energy/kwh"]
	if len(kwh) != hours-1 {
		t.Fatalf("%d windows, want %d", len(kwh), hours-1)
	}
	for i, p := range kwh {
		// A window holds the increases up to the reading before its end.
		start := p.TS - int64(time.Hour)
		want := meterAt(t, meter, p.TS) - meterAt(t, meter, start)
		if math.Abs(p.Value.F-want) > 0.05 {
			t.Errorf("window %d: %.3f kWh, want %.3f from the meter", i, p.Value.F, want)
		}
		per := r.Series[compressor+"/energy/kwh_per_good_part"][i].Value.F
		if good := parts[p.TS] - parts[start]; math.Abs(per-want/good) > 0.01 {
			t.Errorf("window %d: %.4f kWh per part, want %.4f", i, per, want/good)
		}
		if sb := r.Series[compressor+"/energy/standby_kwh"][i].Value.F; math.Abs(sb-standby[p.TS]) > 1e-6 {
			t.Errorf("window %d: standby %.3f kWh, want %.3f", i, sb, standby[p.TS])
		}
	}
	// The compressor draws 37 kW running and makes two parts a minute:
	// about 0.31 kWh a part, more in a window with stops; a limit of 0.33
	// catches some of its windows (0.34 and 0.38 kWh a part, seed 1), and
	// windows of other machines with long stops, not every window.
	if n := r.Kinds()["energy"]; n == 0 || n == len(r.Series)*(hours-1) {
		t.Errorf("%d energy events", n)
	}

	for _, e := range r.Events {
		if v, _ := strconv.ParseFloat(e.Attrs["kwh_per_good_part"], 64); v <= 0.33 {
			t.Errorf("event below the limit: %+v", e)
		}
	}
}

// meterAt is the meter's reading at ts, or the closest one read before the
// first hour (the first window starts at the first point).
func meterAt(t *testing.T, meter map[int64]float64, ts int64) float64 {
	v, ok := meter[ts]
	if !ok {
		t.Fatalf("no meter reading at %v", time.Unix(0, ts).UTC())
	}
	return v
}

// TestModule checks the built module against the logic on two hours of
// the simulated line.
func TestModule(t *testing.T) {
	out := servicetest.Agree(t, ".", &energy{}, `{"window_min": 30, "limit_kwh_per_part": 0.3}`, simfeed.Factory(t, 1), 2*3600)
	if len(out.Events) == 0 {
		t.Error("no energy events")
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"window_min": 0}`, `{"limit_kwh_per_part": -1}`, `[`} {
		if err := (&energy{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
