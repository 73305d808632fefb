// Command energy is molen's energy-per-good-part service: per machine it
// adds up the energy meter's increase and the good parts in windows of the
// clock, and emits the energy per good part and the energy used while not
// producing; a window above the install's limit raises an "energy" event.
package main

import (
	"errors"
	"strconv"

	"github.com/molen-io/molen/sdk/molensvc"
	"github.com/molen-io/molen/services/internal/window"
)

// params are the install's parameters (margo.yaml).
type params struct {
	WindowMin int     `json:"window_min"`
	Limit     float64 `json:"limit_kwh_per_part"`
}

type energy struct {
	p   params
	tr  window.Tracker
	out *molensvc.Output
}

func (s *energy) Init(raw []byte) error {
	s.p = params{WindowMin: 60}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.WindowMin < 1 || s.p.Limit < 0 {
		return errors.New("parameters: window_min must be ≥ 1 and limit_kwh_per_part ≥ 0")
	}
	s.tr = window.Tracker{Len: int64(s.p.WindowMin) * 60e9, Close: s.close}
	return nil
}

func (s *energy) Process(in []molensvc.Point, out *molensvc.Output) error {
	s.out = out
	out.Points = append(out.Points, in...) // the machine's data passes on
	for _, p := range in {
		path, tag := window.Split(p.Series)
		switch tag {
		case "state":
			if p.Value.Kind == molensvc.KindString {
				s.tr.SetState(s.tr.Asset(path), p.TS, p.Value.S)
			}
		case "good_count":
			if v, ok := p.Value.Number(); ok {
				s.tr.Counter(s.tr.Asset(path), p.TS, "good", v)
			}
		case "energy_kwh":
			if v, ok := p.Value.Number(); ok {
				a := s.tr.Asset(path)
				// The meter's increase since its last reading counts for the
				// state last published (a device publishes its state first).
				if d := s.tr.Counter(a, p.TS, "kwh", v); a.State != "running" {
					s.tr.Add(a, p.TS, "standby_kwh", d)
				}
			}
		}
	}
	return nil
}

// close emits a window's figures at its end.
func (s *energy) close(a *window.Asset, w *window.Totals) {
	kwh, good := w.Sum["kwh"], w.Sum["good"]
	if _, metered := w.Sum["kwh"]; !metered {
		return
	}
	s.out.Point(a.Path+"/energy/kwh", w.End, molensvc.Float(kwh), molensvc.Good)
	s.out.Point(a.Path+"/energy/standby_kwh", w.End, molensvc.Float(w.Sum["standby_kwh"]), molensvc.Good)
	s.out.Point(a.Path+"/energy/good_parts", w.End, molensvc.Float(good), molensvc.Good)
	if good == 0 {
		return // no parts: energy per part is undefined, not infinite
	}
	per := kwh / good
	s.out.Point(a.Path+"/energy/kwh_per_good_part", w.End, molensvc.Float(per), molensvc.Good)
	if s.p.Limit > 0 && per > s.p.Limit {
		molensvc.Metric("over_limit", 1)
		s.out.Event(molensvc.Event{Asset: a.Path, Kind: "energy", Start: w.Start, End: w.End, Attrs: map[string]string{
			"kwh_per_good_part": strconv.FormatFloat(per, 'g', 4, 64),
			"limit":             strconv.FormatFloat(s.p.Limit, 'g', -1, 64),
			"standby_share":     strconv.FormatFloat(w.Sum["standby_kwh"]/max(kwh, 1e-9), 'f', 2, 64),
		}})
	}
}

func (s *energy) Tick(now int64, out *molensvc.Output) error {
	s.out = out
	s.tr.Tick(now)
	return nil
}

func init() { molensvc.Register(&energy{}) }

func main() {}
