// Package simfeed gives the simulated factory's data (internal/sim) to
// services: natively to a service's logic (Run), or as points to a module
// in the host. The tests of molen's first-party services use it to check
// them on the values, states and failures a line produces.
package simfeed

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/vda5050"
	"github.com/molen-io/molen/internal/connector/vda5050/vda5050test"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// Start is the simulated time of the first tick: a fixed date, so that no
// test depends on today.
var Start = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// Source returns the points of one tick at now.
type Source func(now time.Time) []uns.Point

// Messages turns a tick of simulator messages into points, decoded as
// the edge's MQTT listener decodes them.
func Messages(t testing.TB, msgs []sim.Message, now time.Time) []uns.Point {
	t.Helper()
	var pts []uns.Point
	for _, m := range msgs {
		var err error
		if pts, err = uns.Decode(pts, m.Topic, m.Payload, now.UnixNano()); err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
	}
	return pts
}

// Points converts points of the edge to the SDK's.
func Points(pts []uns.Point) []molensvc.Point {
	out := make([]molensvc.Point, len(pts))
	for i, p := range pts {
		v := molensvc.Value{Kind: molensvc.Kind(p.Value.Kind())}
		switch p.Value.Kind() {
		case uns.KindFloat:
			v.F = p.Value.Float64()
		case uns.KindInt:
			v.I = p.Value.Int()
		case uns.KindBool:
			v.B = p.Value.Bool()
		case uns.KindString:
			v.S = p.Value.Str()
		}
		out[i] = molensvc.Point{Series: p.Series, TS: p.TS, Value: v, Quality: molensvc.Quality(p.Quality)}
	}
	return out
}

// UNS converts SDK points to the edge's.
func UNS(pts []molensvc.Point) []uns.Point {
	out := make([]uns.Point, len(pts))
	for i, p := range pts {
		var v uns.Value
		switch p.Value.Kind {
		case molensvc.KindFloat:
			v = uns.Float(p.Value.F)
		case molensvc.KindInt:
			v = uns.Int(p.Value.I)
		case molensvc.KindBool:
			v = uns.Bool(p.Value.B)
		case molensvc.KindString:
			v = uns.String(p.Value.S)
		}
		out[i] = uns.Point{Series: p.Series, TS: p.TS, Value: v, Quality: uns.Quality(p.Quality)}
	}
	return out
}

// Factory is the demo's factory (the line and the robot cell) of seed as
// a Source.
func Factory(t testing.TB, seed int64) Source {
	f := sim.NewDemoFactory(seed)
	return func(now time.Time) []uns.Point { return Messages(t, f.Tick(now), now) }
}

// AGVs is a fleet of n simulated AGVs (vda5050test's model, the
// simulator's AGV) as a Source: each moves one second a tick and
// publishes its state message, decoded by the vda5050 input's decoder
// onto demo-factory/hall-a/agv/molen-agv-<i>. The first tick adds each
// vehicle's connection message.
func AGVs(t testing.TB, n int, seed uint64) Source {
	cfg := vda5050.NewConfig()
	cfg.Broker.URL = "tcp://127.0.0.1:1"
	cfg.Site, cfg.Area = sim.DefaultSite, sim.Area
	dec, err := vda5050.NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var agvs []*vda5050test.AGV
	for i := range n {
		agvs = append(agvs, vda5050test.NewAGV("molen", fmt.Sprintf("agv-%d", i+1), seed+uint64(i)))
	}
	first := true
	return func(now time.Time) []uns.Point {
		var pts []uns.Point
		for _, a := range agvs {
			var err error
			if first {
				if pts, _, err = dec.Decode(pts, nil, a.Topic("connection"), a.ConnectionMessage(now), now.UnixNano()); err != nil {
					t.Fatal(err)
				}
			}
			a.Step(time.Second)
			if pts, _, err = dec.Decode(pts, nil, a.Topic("state"), a.State(now), now.UnixNano()); err != nil {
				t.Fatal(err)
			}
		}
		first = false
		return pts
	}
}

// Printer is the simulator's 3D printer of seed as a Source.
func Printer(t testing.TB, seed int64) Source {
	p := sim.NewPrinter(seed, "")
	return func(now time.Time) []uns.Point { return Messages(t, p.Tick(now), now) }
}

// Result is what a service emitted during Run.
type Result struct {
	Points int                       // points emitted
	Last   map[string]molensvc.Point // the newest point of each series
	Series map[string][]molensvc.Point
	Events []molensvc.Event
}

// Run starts svc with params and gives it ticks ticks of src, one
// simulated second apart from Start: each tick's points as one batch, then
// a Tick with the tick's time, as an edge does at rate 1. keep names the
// series whose every point Result.Series keeps; a name that starts with
// "/" keeps every series that ends with it.
func Run(t testing.TB, svc molensvc.Service, params string, src Source, ticks int, keep ...string) *Result {
	t.Helper()
	if err := svc.Init([]byte(params)); err != nil {
		t.Fatalf("init %s: %v", params, err)
	}
	r := &Result{Last: map[string]molensvc.Point{}, Series: map[string][]molensvc.Point{}}
	kept := func(series string) bool {
		for _, k := range keep {
			if series == k || strings.HasPrefix(k, "/") && strings.HasSuffix(series, k) {
				return true
			}
		}
		return false
	}
	var out molensvc.Output
	collect := func() {
		r.Points += len(out.Points)
		for _, p := range out.Points {
			r.Last[p.Series] = p
			if kept(p.Series) {
				r.Series[p.Series] = append(r.Series[p.Series], p)
			}
		}
		r.Events = append(r.Events, out.Events...)
		out = molensvc.Output{}
	}
	for i := range ticks {
		now := Start.Add(time.Duration(i) * time.Second)
		if err := svc.Process(Points(src(now)), &out); err != nil {
			t.Fatalf("process at tick %d: %v", i, err)
		}
		collect()
		if err := svc.Tick(now.UnixNano(), &out); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		collect()
	}
	return r
}

// Kinds counts the events of each kind.
func (r *Result) Kinds() map[string]int {
	n := map[string]int{}
	for _, e := range r.Events {
		n[e.Kind]++
	}
	return n
}
