// Command pdm is molen's predictive maintenance service: per machine it
// follows a vibration value while the machine runs, learns its level after
// each repair, fits the rise since then as a curve of running time, and
// estimates the running hours until the rise reaches the install's limit;
// it raises a "maintenance" event when that is near, and an "anomaly"
// event for a reading far outside the expected noise.
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
	Tag         string  `json:"tag"`
	LimitRise   float64 `json:"limit_rise"`
	BaselineMin int     `json:"baseline_min"`
	WarnHours   float64 `json:"warn_hours"`
	Z           float64 `json:"z"`
}

const (
	settleNS = 30e9 // after a start the value settles; it is not used for this long
	sampleNS = 60e9 // running time between samples of the smoothed value
	alpha    = 0.05 // of the exponential smoothing per point (about 20 points)
	minFit   = 20   // samples after the baseline before an estimate
)

// machine is the state of one asset.
type machine struct {
	state    string
	runSince int64   // start of the current run
	lastTS   int64   // previous point's time while running
	runNS    int64   // running time since the repair
	nextNS   int64   // running time of the next sample
	ewma     float64 // smoothed value; 0: not started
	// baseline: the first samples after a repair, and the raw noise.
	n, sum        float64
	rawN, rawMean float64
	rawM2         float64
	baseline      float64
	// fit of rise = c·h² (h: running hours since the repair).
	s4, sr2 float64
	fitted  int
	warned  bool
}

type pdm struct {
	p        params
	machines map[string]*machine
	series   string // "/" + tag
}

func (s *pdm) Init(raw []byte) error {
	s.p = params{Tag: "vibration_mm_s", LimitRise: 1.5, BaselineMin: 10, WarnHours: 1, Z: 6}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.Tag == "" || strings.Contains(s.p.Tag, "/") || s.p.LimitRise <= 0 || s.p.BaselineMin < 1 || s.p.WarnHours <= 0 || s.p.Z <= 0 {
		return errors.New("parameters: tag must be one path segment; limit_rise, warn_hours and z > 0; baseline_min ≥ 1")
	}
	s.series = "/" + s.p.Tag
	s.machines = map[string]*machine{}
	return nil
}

func (s *pdm) machine(asset string) *machine {
	m := s.machines[asset]
	if m == nil {
		m = &machine{}
		s.machines[strings.Clone(asset)] = m // asset points into the input buffer
	}
	return m
}

func (s *pdm) Process(in []molensvc.Point, out *molensvc.Output) error {
	out.Points = append(out.Points, in...) // the machine's data passes on
	for _, p := range in {
		asset, tag := window.Split(p.Series)
		switch {
		case tag == "state" && p.Value.Kind == molensvc.KindString:
			s.state(s.machine(asset), p.TS, p.Value.S)
		case "/"+tag == s.series:
			if v, ok := p.Value.Number(); ok && p.Quality == molensvc.Good {
				s.value(s.machine(asset), asset, p, v, out)
			}
		}
	}
	return nil
}

// state follows the machine's state: a run after "down" starts a new
// cycle of wear (the repair), learning the baseline again.
func (s *pdm) state(m *machine, ts int64, state string) {
	if state == m.state {
		return
	}
	if state == "running" {
		if m.state == "down" {
			*m = machine{}
		}
		m.runSince, m.lastTS = ts, 0
	}
	m.state = strings.Clone(state)
}

func (s *pdm) value(m *machine, asset string, p molensvc.Point, v float64, out *molensvc.Output) {
	if m.state != "running" || p.TS-m.runSince < settleNS {
		m.lastTS = 0
		return
	}
	if m.lastTS != 0 && p.TS > m.lastTS {
		m.runNS += p.TS - m.lastTS
	}
	m.lastTS = p.TS
	if m.ewma == 0 {
		m.ewma = v
	}
	learned := m.n >= float64(s.p.BaselineMin)
	if learned && m.rawN > 1 {
		sd := math.Sqrt(m.rawM2 / (m.rawN - 1))
		if score := math.Abs(v-m.ewma) / sd; sd > 0 && score > s.p.Z {
			molensvc.Metric("anomalies", 1)
			out.Event(molensvc.Event{Asset: asset, Kind: "anomaly", Start: p.TS, End: p.TS, Attrs: map[string]string{
				"series": p.Series, "value": strconv.FormatFloat(v, 'g', -1, 64),
				"expected": strconv.FormatFloat(m.ewma, 'g', 4, 64), "score": strconv.FormatFloat(score, 'f', 1, 64),
			}})
			return // an outlier does not move the smoothed value
		}
	}
	if !learned {
		// Welford's running variance of the raw noise around the level.
		m.rawN++
		d := v - m.rawMean
		m.rawMean += d / m.rawN
		m.rawM2 += d * (v - m.rawMean)
	}
	m.ewma += alpha * (v - m.ewma)
	if m.runNS < m.nextNS {
		return
	}
	m.nextNS += sampleNS
	if !learned {
		m.n++
		m.sum += m.ewma
		m.baseline = m.sum / m.n
		return
	}
	s.sample(m, asset, p.TS, out)
}

// sample adds a smoothed sample to the fit and emits the rise and the
// estimate.
func (s *pdm) sample(m *machine, asset string, ts int64, out *molensvc.Output) {
	h := float64(m.runNS) / 3600e9
	rise := m.ewma - m.baseline
	m.s4 += h * h * h * h
	m.sr2 += rise * h * h
	m.fitted++
	out.Point(asset+"/pdm/"+s.p.Tag+"_rise", ts, molensvc.Float(rise), molensvc.Good)
	out.Point(asset+"/pdm/running_hours", ts, molensvc.Float(h), molensvc.Good)
	if m.fitted < minFit {
		return
	}
	left, ok := s.hoursLeft(m, h)
	if !ok {
		return
	}
	out.Point(asset+"/pdm/hours_to_limit", ts, molensvc.Float(left), molensvc.Good)
	if left < s.p.WarnHours && !m.warned {
		m.warned = true
		molensvc.Metric("warnings", 1)
		out.Event(molensvc.Event{Asset: asset, Kind: "maintenance", Start: ts, End: ts, Attrs: map[string]string{
			"series":         asset + s.series,
			"rise":           strconv.FormatFloat(rise, 'f', 2, 64),
			"limit_rise":     strconv.FormatFloat(s.p.LimitRise, 'g', -1, 64),
			"hours_to_limit": strconv.FormatFloat(left, 'f', 2, 64),
			"running_hours":  strconv.FormatFloat(h, 'f', 2, 64),
		}})
	}
}

// hoursLeft solves c·h² = limit for the running hours after h, with c the
// least-squares fit of the rise since the repair: wear grows with running
// time, and the drift of vibration with the square of wear. A rise that
// does not grow gives no estimate.
func (s *pdm) hoursLeft(m *machine, h float64) (float64, bool) {
	if m.s4 <= 0 {
		return 0, false
	}
	c := m.sr2 / m.s4
	if c <= 1e-9 {
		return 0, false
	}
	return max(math.Sqrt(s.p.LimitRise/c)-h, 0), true
}

func (s *pdm) Tick(int64, *molensvc.Output) error { return nil }

func init() { molensvc.Register(&pdm{}) }

func main() {}
