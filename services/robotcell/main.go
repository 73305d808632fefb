// Command robotcell is molen's robot-cell utilisation service: per robot
// cell it accounts the time working, waiting (starved or blocked), in
// changeover and down, the parts handled and rejected, the cycle times
// and the gripper's air pressure in windows of the clock, and raises a
// "gripper" event when the pressure while working falls below a limit.
package main

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/molen-io/molen/sdk/molensvc"
	"github.com/molen-io/molen/services/internal/window"
)

// params are the install's parameters (margo.yaml).
type params struct {
	WindowMin  int     `json:"window_min"`
	Cells      string  `json:"cells"`
	GripperMin float64 `json:"gripper_min_bar"`
}

// cell is what a window of one cell keeps beyond the tracker's sums.
type cell struct {
	cycles, cycleSum, bestCycle float64
	gripperMin, jointMax        float64
}

type robotcell struct {
	p     params
	cells map[string]bool // asset names counted as robot cells
	tr    window.Tracker
	extra map[*window.Asset]*cell
	out   *molensvc.Output
}

func (s *robotcell) Init(raw []byte) error {
	s.p = params{WindowMin: 60, Cells: "robot-cell", GripperMin: 5.3}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.WindowMin < 1 || s.p.GripperMin < 0 {
		return errors.New("parameters: window_min must be ≥ 1 and gripper_min_bar ≥ 0")
	}
	s.cells = map[string]bool{}
	for _, c := range strings.Split(s.p.Cells, ",") {
		if c = strings.TrimSpace(c); c != "" {
			s.cells[c] = true
		}
	}
	if len(s.cells) == 0 {
		return errors.New("parameters: cells: name at least one robot cell")
	}
	s.extra = map[*window.Asset]*cell{}
	s.tr = window.Tracker{Len: int64(s.p.WindowMin) * 60e9, Close: s.close}
	return nil
}

// isCell reports whether the asset path's last segment names a cell.
func (s *robotcell) isCell(asset string) bool {
	_, name := window.Split(asset)
	return s.cells[name]
}

func (s *robotcell) cell(a *window.Asset) *cell {
	c := s.extra[a]
	if c == nil {
		c = &cell{gripperMin: math.Inf(1), jointMax: math.Inf(-1)}
		s.extra[a] = c
	}
	return c
}

func (s *robotcell) Process(in []molensvc.Point, out *molensvc.Output) error {
	s.out = out
	out.Points = append(out.Points, in...) // the cell's data passes on
	for _, p := range in {
		path, tag := window.Split(p.Series)
		if !s.isCell(path) {
			continue
		}
		v, num := p.Value.Number()
		a := s.tr.Asset(path)
		switch {
		case tag == "state" && p.Value.Kind == molensvc.KindString:
			s.tr.SetState(a, p.TS, p.Value.S)
		case !num:
		case tag == "good_count":
			s.tr.Counter(a, p.TS, "good", v)
		case tag == "scrap_count":
			s.tr.Counter(a, p.TS, "rejected", v)
		case tag == "cycle_time_s" && a.State == "running" && v > 0:
			s.tr.Advance(a, p.TS)
			c := s.cell(a)
			c.cycles++
			c.cycleSum += v
			if c.bestCycle == 0 || v < c.bestCycle {
				c.bestCycle = v
			}
		case tag == "gripper_pressure_bar" && a.State == "running" && p.Quality == molensvc.Good:
			s.tr.Advance(a, p.TS)
			s.cell(a).gripperMin = min(s.cell(a).gripperMin, v)
		case tag == "joint_temp_c" && p.Quality == molensvc.Good:
			s.tr.Advance(a, p.TS)
			s.cell(a).jointMax = max(s.cell(a).jointMax, v)
		}
	}
	return nil
}

// close emits a window's figures at its end.
func (s *robotcell) close(a *window.Asset, w *window.Totals) {
	c := s.cell(a)
	defer func() { *c = cell{bestCycle: c.bestCycle, gripperMin: math.Inf(1), jointMax: math.Inf(-1)} }()
	observed := float64(w.Observed()) / 3600e9
	if observed == 0 {
		return
	}
	emit := func(tag string, v float64) {
		s.out.Point(a.Path+"/robot/"+tag, w.End, molensvc.Float(v), molensvc.Good)
	}
	emit("utilisation", w.Share("running"))
	emit("waiting", w.Share("idle"))
	emit("changeover", w.Share("setup"))
	emit("down", w.Share("down"))
	handled := w.Sum["good"] + w.Sum["rejected"]
	emit("handled_per_hour", handled/observed)
	if handled > 0 {
		emit("reject_rate", w.Sum["rejected"]/handled)
	}
	if c.cycles > 0 {
		mean := c.cycleSum / c.cycles
		emit("mean_cycle_s", mean)
		emit("cycle_loss", mean/c.bestCycle-1)
	}
	if !math.IsInf(c.jointMax, 0) {
		emit("joint_temp_max_c", c.jointMax)
	}
	if math.IsInf(c.gripperMin, 0) {
		return
	}
	emit("gripper_pressure_min_bar", c.gripperMin)
	if c.gripperMin < s.p.GripperMin {
		molensvc.Metric("gripper_low", 1)
		s.out.Event(molensvc.Event{Asset: a.Path, Kind: "gripper", Start: w.Start, End: w.End, Attrs: map[string]string{
			"pressure_min_bar": strconv.FormatFloat(c.gripperMin, 'f', 2, 64),
			"limit_bar":        strconv.FormatFloat(s.p.GripperMin, 'g', -1, 64),
		}})
	}
}

func (s *robotcell) Tick(now int64, out *molensvc.Output) error {
	s.out = out
	s.tr.Tick(now)
	return nil
}

func init() { molensvc.Register(&robotcell{}) }

func main() {}
