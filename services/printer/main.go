// Command printer is molen's 3D-printer monitoring service: per printer it
// accounts the time printing, heating, idle, paused, done and in error in
// windows of the clock; it reports each job's end as a "print_job" event,
// warns ("filament") when the spool will run out before the job ends, and
// ("thermal") when the nozzle's temperature wanders around its target
// more than the install allows: a worn heater regulates worse before it
// fails.
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
	WindowMin   int     `json:"window_min"`
	WanderC     float64 `json:"wander_c"`
	MarginGrams float64 `json:"margin_g"`
}

// The printer states the service accounts.
var states = []string{"printing", "heating", "idle", "paused", "done", "error"}

const (
	wanderN = 300  // nozzle readings (printing) in the wander's window
	useRate = 0.01 // smoothing of the filament use per second
)

// printer is what the service knows of one printer.
type printer struct {
	a              *window.Asset
	nozzleSet      float64
	wander         [wanderN]float64 // the last deviations from target
	nw, iw         int
	thermalWarned  bool
	lastFil        float64
	use            float64 // g/s while printing, smoothed
	filTS          int64
	remaining      float64
	filamentWarned bool
	jobStart       int64
	jobFilament    float64
}

type printerSvc struct {
	p        params
	tr       window.Tracker
	printers map[*window.Asset]*printer
	out      *molensvc.Output
}

func (s *printerSvc) Init(raw []byte) error {
	s.p = params{WindowMin: 60, WanderC: 2, MarginGrams: 5}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.WindowMin < 1 || s.p.WanderC <= 0 || s.p.MarginGrams < 0 {
		return errors.New("parameters: window_min must be ≥ 1, wander_c > 0 and margin_g ≥ 0")
	}
	s.printers = map[*window.Asset]*printer{}
	s.tr = window.Tracker{Len: int64(s.p.WindowMin) * 60e9, Close: s.close}
	return nil
}

func (s *printerSvc) printer(path string) *printer {
	a := s.tr.Asset(path)
	p := s.printers[a]
	if p == nil {
		p = &printer{a: a}
		s.printers[a] = p
	}
	return p
}

func (s *printerSvc) Process(in []molensvc.Point, out *molensvc.Output) error {
	s.out = out
	out.Points = append(out.Points, in...) // the printer's data passes on
	for _, pt := range in {
		path, tag := window.Split(pt.Series)
		if tag == "state" {
			if pt.Value.Kind == molensvc.KindString {
				s.state(s.printer(path), pt.TS, pt.Value.S)
			}
			continue
		}
		v, ok := pt.Value.Number()
		if !ok {
			continue
		}
		p := s.printer(path)
		switch tag {
		case "nozzle_target_c":
			p.nozzleSet = v
		case "nozzle_temp_c":
			if p.a.State == "printing" && p.nozzleSet > 0 && pt.Quality == molensvc.Good {
				s.nozzle(p, pt.TS, v)
			}
		case "job_remaining_s":
			p.remaining = v
		case "filament_g":
			s.filament(p, pt.TS, v)
		case "jobs_done":
			s.tr.Counter(p.a, pt.TS, "jobs_done", v)
		case "jobs_failed":
			s.tr.Counter(p.a, pt.TS, "jobs_failed", v)
		}
	}
	return nil
}

// state follows the printer's state: a job starts when it heats from idle
// and ends in done or error.
func (s *printerSvc) state(p *printer, ts int64, state string) {
	prev, _ := s.tr.SetState(p.a, ts, state)
	if prev == state {
		return
	}
	switch {
	case state == "heating" && (prev == "idle" || prev == ""):
		p.jobStart, p.jobFilament, p.filamentWarned = ts, 0, false
	case (state == "done" || state == "error") && p.jobStart != 0:
		result := "done"
		if state == "error" {
			result = "failed"
			// The heater is repaired after an error: its wander is learned anew.
			p.thermalWarned, p.nw, p.iw = false, 0, 0
		}
		molensvc.Metric("jobs_"+result, 1)
		s.out.Event(molensvc.Event{Asset: p.a.Path, Kind: "print_job", Start: p.jobStart, End: ts, Attrs: map[string]string{
			"result":     result,
			"duration_s": strconv.FormatFloat(float64(ts-p.jobStart)/1e9, 'f', 0, 64),
			"filament_g": strconv.FormatFloat(p.jobFilament, 'f', 1, 64),
		}})
		p.jobStart = 0
	}
}

// nozzle keeps the nozzle's deviation from its target while printing;
// their standard deviation over the last readings is the wander.
func (s *printerSvc) nozzle(p *printer, ts int64, v float64) {
	p.wander[p.iw] = v - p.nozzleSet
	p.iw = (p.iw + 1) % wanderN
	p.nw = min(p.nw+1, wanderN)
	if p.nw < wanderN || p.iw != 0 {
		return // once per full window of readings
	}
	var sum, sq float64
	for _, d := range p.wander {
		sum += d
		sq += d * d
	}
	mean := sum / wanderN
	sd := math.Sqrt(max(sq/wanderN-mean*mean, 0))
	s.out.Point(p.a.Path+"/print/nozzle_wander_c", ts, molensvc.Float(sd), molensvc.Good)
	if sd > s.p.WanderC && !p.thermalWarned {
		p.thermalWarned = true
		molensvc.Metric("thermal_warnings", 1)
		s.out.Event(molensvc.Event{Asset: p.a.Path, Kind: "thermal", Start: ts, End: ts, Attrs: map[string]string{
			"nozzle_wander_c": strconv.FormatFloat(sd, 'f', 2, 64),
			"limit_c":         strconv.FormatFloat(s.p.WanderC, 'g', -1, 64),
		}})
	}
}

// filament learns the use per printing second and warns once a job when
// the spool will not last to its end.
func (s *printerSvc) filament(p *printer, ts int64, v float64) {
	if p.a.State == "printing" && p.filTS != 0 && v <= p.lastFil && ts > p.filTS {
		used := p.lastFil - v
		p.jobFilament += used
		s.tr.Add(p.a, ts, "filament_g", used)
		rate := used / (float64(ts-p.filTS) / 1e9)
		if p.use == 0 {
			p.use = rate
		}
		p.use += useRate * (rate - p.use)
	}
	p.lastFil, p.filTS = v, ts
	need := p.use * p.remaining
	if p.a.State == "printing" && p.use > 0 && v < need+s.p.MarginGrams && !p.filamentWarned {
		p.filamentWarned = true
		s.out.Event(molensvc.Event{Asset: p.a.Path, Kind: "filament", Start: ts, End: ts, Attrs: map[string]string{
			"filament_g": strconv.FormatFloat(v, 'f', 1, 64),
			"needed_g":   strconv.FormatFloat(need, 'f', 1, 64),
		}})
	}
}

// close emits a printer's window.
func (s *printerSvc) close(a *window.Asset, w *window.Totals) {
	emit := func(tag string, v float64) {
		s.out.Point(a.Path+"/print/"+tag, w.End, molensvc.Float(v), molensvc.Good)
	}
	for _, st := range states {
		emit(st, w.Share(st))
	}
	emit("jobs_done", w.Sum["jobs_done"])
	emit("jobs_failed", w.Sum["jobs_failed"])
	emit("filament_used_g", w.Sum["filament_g"])
}

func (s *printerSvc) Tick(now int64, out *molensvc.Output) error {
	s.out = out
	s.tr.Tick(now)
	return nil
}

func init() { molensvc.Register(&printerSvc{}) }

func main() {}
