// Command agvfleet is molen's AGV fleet overview from VDA 5050: per
// vehicle (the series the edge's vda5050 input writes) it accounts the
// time driving, charging, idle, paused and in error, the distance driven
// and the loads delivered in windows of the clock; per area it counts the
// vehicles in each state at every window's end; and it raises an
// "agv_battery" event when a vehicle's battery runs low without charging.
package main

import (
	"errors"
	"math"
	"strconv"

	"github.com/molen-io/molen/sdk/molensvc"
	"github.com/molen-io/molen/services/internal/window"
)

// params are the install's parameters (margo.yaml).
type params struct {
	WindowMin  int     `json:"window_min"`
	LowBattery float64 `json:"low_battery_pct"`
}

// The vehicle states the service derives, in order of precedence.
var states = []string{"offline", "error", "charging", "paused", "driving", "idle"}

// vehicle is what the service knows of one AGV.
type vehicle struct {
	a                         *window.Asset
	fleet                     string // its fleet's path: the asset without its last segment
	online, fatal, estop      bool
	charging, paused, driving bool
	x, y, nx                  float64 // the position, and x of the message being read
	located                   bool
	loads                     int64
	battery                   float64
	batteryMin                float64
	low                       bool // a low-battery event is out for the current discharge
}

type agvfleet struct {
	p        params
	tr       window.Tracker
	vehicles map[*window.Asset]*vehicle
	fleets   []string
	lastEnd  int64 // the newest window end whose fleet counts were emitted
	out      *molensvc.Output
}

func (s *agvfleet) Init(raw []byte) error {
	s.p = params{WindowMin: 15, LowBattery: 20}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.WindowMin < 1 || s.p.LowBattery < 0 || s.p.LowBattery > 100 {
		return errors.New("parameters: window_min must be ≥ 1 and low_battery_pct 0..100")
	}
	s.vehicles = map[*window.Asset]*vehicle{}
	s.tr = window.Tracker{Len: int64(s.p.WindowMin) * 60e9, Close: s.close}
	return nil
}

func (s *agvfleet) vehicle(path string) *vehicle {
	a := s.tr.Asset(path)
	v := s.vehicles[a]
	if v == nil {
		fleet, _ := window.Split(a.Path)
		v = &vehicle{a: a, fleet: fleet, online: true, batteryMin: math.Inf(1)}
		s.vehicles[a] = v
		if !contains(s.fleets, fleet) {
			s.fleets = append(s.fleets, fleet)
		}
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// state derives the vehicle's state from its flags.
func (v *vehicle) state() string {
	switch {
	case !v.online:
		return "offline"
	case v.fatal || v.estop:
		return "error"
	case v.charging:
		return "charging"
	case v.paused:
		return "paused"
	case v.driving:
		return "driving"
	}
	return "idle"
}

func (s *agvfleet) Process(in []molensvc.Point, out *molensvc.Output) error {
	s.out = out
	out.Points = append(out.Points, in...) // the vehicles' data passes on
	for _, p := range in {
		path, tag := window.Split(p.Series)
		v := s.vehicle(path)
		f, num := p.Value.Number()
		switch tag {
		case "connection_state":
			v.online = p.Value.S == "ONLINE"
		case "error_fatal":
			v.fatal = p.Value.B
		case "e_stop":
			v.estop = p.Value.S != "NONE" && p.Value.S != ""
		case "charging":
			v.charging = p.Value.B
			if v.charging {
				v.low = false
			}
		case "paused":
			v.paused = p.Value.B
		case "driving":
			v.driving = p.Value.B
		case "position_x", "position_y":
			s.position(v, p.TS, tag, f)
		case "load_count":
			// A delivery: the vehicle put a load down.
			if num && int64(f) < v.loads {
				s.tr.Add(v.a, p.TS, "delivered", float64(v.loads-int64(f)))
			}
			v.loads = int64(f)
		case "battery_charge":
			if num {
				s.battery(v, p, f)
			}
		}
		s.tr.SetState(v.a, p.TS, v.state())
	}
	return nil
}

// position adds the distance driven between messages; x and y come as
// two points of one message, x first, so the step is added when y comes.
func (s *agvfleet) position(v *vehicle, ts int64, tag string, f float64) {
	if tag == "position_x" {
		v.nx = f
		return
	}
	if v.located {
		s.tr.Add(v.a, ts, "distance_m", math.Hypot(v.nx-v.x, f-v.y))
	}
	v.x, v.y, v.located = v.nx, f, true
}

// battery follows the charge: the lowest in the window, and one event
// per discharge below the limit while not charging.
func (s *agvfleet) battery(v *vehicle, p molensvc.Point, f float64) {
	v.battery = f
	s.tr.Advance(v.a, p.TS)
	v.batteryMin = min(v.batteryMin, f)
	if f >= s.p.LowBattery || v.charging || v.low {
		return
	}
	v.low = true
	molensvc.Metric("low_battery", 1)
	s.out.Event(molensvc.Event{Asset: v.a.Path, Kind: "agv_battery", Start: p.TS, End: p.TS, Attrs: map[string]string{
		"battery_pct": strconv.FormatFloat(f, 'f', 1, 64),
		"limit_pct":   strconv.FormatFloat(s.p.LowBattery, 'g', -1, 64),
	}})
}

// close emits a vehicle's window.
func (s *agvfleet) close(a *window.Asset, w *window.Totals) {
	v := s.vehicles[a]
	for _, st := range states {
		s.emit(a.Path, w.End, st, w.Share(st))
	}
	s.emit(a.Path, w.End, "distance_m", w.Sum["distance_m"])
	s.emit(a.Path, w.End, "delivered", w.Sum["delivered"])
	if !math.IsInf(v.batteryMin, 0) {
		s.emit(a.Path, w.End, "battery_min_pct", v.batteryMin)
	}
	v.batteryMin = math.Inf(1)
}

func (s *agvfleet) emit(path string, ts int64, tag string, f float64) {
	s.out.Point(path+"/fleet/"+tag, ts, molensvc.Float(f), molensvc.Good)
}

// Tick closes the windows that ended and, at each window's end, emits
// every fleet's count of vehicles in each state.
func (s *agvfleet) Tick(now int64, out *molensvc.Output) error {
	s.out = out
	s.tr.Tick(now)
	end := now - now%s.tr.Len
	if s.lastEnd == 0 || end <= s.lastEnd {
		s.lastEnd = max(s.lastEnd, end)
		return nil
	}
	s.lastEnd = end
	for _, fleet := range s.fleets {
		counts := map[string]float64{}
		n := 0.0
		for _, a := range s.tr.Assets() {
			if v := s.vehicles[a]; v.fleet == fleet {
				n++
				counts[v.state()]++
			}
		}
		s.emit(fleet, end, "vehicles", n)
		for _, st := range states {
			s.emit(fleet, end, st, counts[st])
		}
	}
	return nil
}

func init() { molensvc.Register(&agvfleet{}) }

func main() {}
