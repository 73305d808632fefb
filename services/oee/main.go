// Command oee is molen's OEE and downtime service: per machine it accounts
// the time in each state (running, idle, setup, down) and the good and
// scrapped parts in windows of the clock, and emits availability,
// performance, quality and OEE at the end of each window; each stop becomes
// a "downtime" event with a reason code when it ends.
package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/molen-io/molen/sdk/molensvc"
	"github.com/molen-io/molen/services/internal/window"
)

// params are the install's parameters (margo.yaml).
type params struct {
	WindowMin   int     `json:"window_min"`
	IdealCycleS float64 `json:"ideal_cycle_s"`
	Reasons     string  `json:"reasons"`
	MinStopS    float64 `json:"min_stop_s"`
}

type oee struct {
	p       params
	reasons map[string]string // state → default reason code
	tr      window.Tracker
	ideal   map[*window.Asset]float64 // fastest cycle seen, s
	code    map[*window.Asset]string  // the machine's own stop reason, while stopped
	out     *molensvc.Output
}

func (s *oee) Init(raw []byte) error {
	s.p = params{WindowMin: 60, Reasons: "down=breakdown,setup=changeover,idle=starved-or-blocked", MinStopS: 0}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.WindowMin < 1 || s.p.IdealCycleS < 0 {
		return errors.New("parameters: window_min must be ≥ 1 and ideal_cycle_s ≥ 0")
	}
	s.reasons = map[string]string{}
	for _, kv := range strings.Split(s.p.Reasons, ",") {
		state, code, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || state == "" || code == "" {
			return errors.New("parameters: reasons: want state=code pairs separated by commas, e.g. down=breakdown")
		}
		s.reasons[state] = code
	}
	s.ideal = map[*window.Asset]float64{}
	s.code = map[*window.Asset]string{}
	s.tr = window.Tracker{Len: int64(s.p.WindowMin) * 60e9, Close: s.close}
	return nil
}

func (s *oee) Process(in []molensvc.Point, out *molensvc.Output) error {
	s.out = out
	out.Points = append(out.Points, in...) // the machine's data passes on
	for _, p := range in {
		path, tag := window.Split(p.Series)
		switch tag {
		case "state":
			if p.Value.Kind == molensvc.KindString {
				s.state(s.tr.Asset(path), p.TS, p.Value.S)
			}
		case "reason_code":
			a := s.tr.Asset(path)
			if p.Value.Kind == molensvc.KindString {
				s.code[a] = p.Value.S
			} else if v, ok := p.Value.Number(); ok {
				s.code[a] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		case "good_count":
			if v, ok := p.Value.Number(); ok {
				s.tr.Counter(s.tr.Asset(path), p.TS, "good_count", v)
			}
		case "scrap_count":
			if v, ok := p.Value.Number(); ok {
				s.tr.Counter(s.tr.Asset(path), p.TS, "scrap_count", v)
			}
		case "cycle_time_s":
			a := s.tr.Asset(path)
			if v, ok := p.Value.Number(); ok && v > 0 && a.State == "running" && (s.ideal[a] == 0 || v < s.ideal[a]) {
				s.ideal[a] = v
			}
		}
	}
	return nil
}

// state records a state point; a stop that ends becomes a downtime event.
func (s *oee) state(a *window.Asset, ts int64, state string) {
	prev, since := s.tr.SetState(a, ts, state)
	if prev == "" || prev == "running" || prev == state {
		return
	}
	if float64(ts-since) < s.p.MinStopS*1e9 {
		return
	}
	reason := s.code[a]
	if reason == "" {
		reason = s.reasons[prev]
	}
	if reason == "" {
		reason = prev
	}
	delete(s.code, a)
	molensvc.Metric("downtimes", 1)
	s.out.Event(molensvc.Event{Asset: a.Path, Kind: "downtime", Start: since, End: ts, Attrs: map[string]string{
		"state":      prev,
		"reason":     reason,
		"duration_s": strconv.FormatFloat(float64(ts-since)/1e9, 'f', 0, 64),
	}})
}

// close emits a window's figures at its end.
func (s *oee) close(a *window.Asset, w *window.Totals) {
	observed := w.Observed()
	if observed == 0 {
		return
	}
	run := float64(w.Time["running"]) / 1e9
	good, scrap := w.Sum["good_count"], w.Sum["scrap_count"]
	avail := run / (float64(observed) / 1e9)
	ideal := s.p.IdealCycleS
	if ideal == 0 {
		ideal = s.ideal[a]
	}
	perf, qual := 0.0, 0.0
	if run > 0 && ideal > 0 {
		perf = min(ideal*(good+scrap)/run, 1)
	}
	if good+scrap > 0 {
		qual = good / (good + scrap)
	}
	for _, f := range []struct {
		tag string
		v   float64
	}{{"availability", avail}, {"performance", perf}, {"quality", qual}, {"oee", avail * perf * qual}, {"good_parts", good}, {"scrap_parts", scrap}} {
		s.out.Point(a.Path+"/oee/"+f.tag, w.End, molensvc.Float(f.v), molensvc.Good)
	}
}

func (s *oee) Tick(now int64, out *molensvc.Output) error {
	s.out = out
	s.tr.Tick(now)
	return nil
}

func init() { molensvc.Register(&oee{}) }

func main() {}
