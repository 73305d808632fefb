// Command spc is molen's statistical process control service: it checks
// each series it reads against the Western Electric rules and raises an
// "spc" event for every violation. The centre line and sigma come from
// the parameters, or are learned per series from its first points and
// kept in the install's state, so a restart does not learn them again.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/molen-io/molen/sdk/molensvc"
)

// params are the install's parameters (margo.yaml).
type params struct {
	Mean     *float64 `json:"mean"`
	Sigma    *float64 `json:"sigma"`
	Baseline int      `json:"baseline"`
	Rules    string   `json:"rules"`
}

// series is the state of one series.
type series struct {
	mean, sigma float64
	learned     bool
	n           int     // points of the baseline so far
	sum, sumSq  float64 // of the baseline
	zones       [8]int8 // the last 8 points' zones: ±1, ±2, ±3 (beyond 1σ, 2σ, 3σ) or ±0.5 as ±4? see zone
	count       int     // points in zones
}

type spc struct {
	p      params
	rules  [5]bool
	series map[string]*series
}

func (s *spc) Init(raw []byte) error {
	s.p = params{Baseline: 30, Rules: "1,2,3,4"}
	if err := json.Unmarshal(raw, &s.p); err != nil {
		return fmt.Errorf("parameters: %w", err)
	}
	if (s.p.Mean == nil) != (s.p.Sigma == nil) {
		return errors.New("parameters: give both mean and sigma, or neither to learn them")
	}
	if s.p.Sigma != nil && *s.p.Sigma <= 0 {
		return errors.New("parameters: sigma must be > 0")
	}
	for _, r := range strings.Split(s.p.Rules, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 || n > 4 {
			return fmt.Errorf("parameters: rules: %q: want numbers 1 to 4", r)
		}
		s.rules[n] = true
	}
	s.series = map[string]*series{}
	return nil
}

func (s *spc) state(name string) *series {
	st := s.series[name]
	if st != nil {
		return st
	}
	st = &series{}
	if s.p.Mean != nil {
		st.mean, st.sigma, st.learned = *s.p.Mean, *s.p.Sigma, true
	} else if v, ok := molensvc.State("baseline/" + name); ok {
		if m, sg, ok := strings.Cut(string(v), ","); ok {
			st.mean, _ = strconv.ParseFloat(m, 64)
			st.sigma, _ = strconv.ParseFloat(sg, 64)
			st.learned = st.sigma > 0
		}
	}
	s.series[strings.Clone(name)] = st // name points into the input buffer
	return st
}

// zone is +1..+3 above the centre line (within 1σ, 1–2σ, 2–3σ), +4
// beyond 3σ; negative below.
func (st *series) zone(v float64) int8 {
	d := (v - st.mean) / st.sigma
	z := int8(math.Min(math.Floor(math.Abs(d)), 3)) + 1
	if d < 0 {
		return -z
	}
	return z
}

func (s *spc) Process(in []molensvc.Point, out *molensvc.Output) error {
	out.Points = append(out.Points, in...)
	for _, p := range in {
		v, ok := p.Value.Number()
		if !ok {
			continue
		}
		st := s.state(p.Series)
		if !st.learned {
			st.n++
			st.sum += v
			st.sumSq += v * v
			if st.n >= s.p.Baseline {
				st.mean = st.sum / float64(st.n)
				st.sigma = math.Sqrt(math.Max(st.sumSq-st.sum*st.mean, 0) / float64(st.n-1))
				if st.sigma > 0 {
					st.learned = true
					molensvc.SetState("baseline/"+p.Series, []byte(strconv.FormatFloat(st.mean, 'g', -1, 64)+","+
						strconv.FormatFloat(st.sigma, 'g', -1, 64)))
					molensvc.Log(molensvc.Info, fmt.Sprintf("%s: learned mean %g, sigma %g", p.Series, st.mean, st.sigma))
				}
			}
			continue
		}
		copy(st.zones[1:], st.zones[:7])
		st.zones[0] = st.zone(v)
		st.count = min(st.count+1, 8)
		if rule := s.violated(st); rule != 0 {
			molensvc.Metric("violations", 1)
			out.Event(molensvc.Event{Asset: asset(p.Series), Kind: "spc", Start: p.TS, End: p.TS, Attrs: map[string]string{
				"series": p.Series,
				"rule":   strconv.Itoa(rule),
				"value":  strconv.FormatFloat(v, 'g', -1, 64),
				"mean":   strconv.FormatFloat(st.mean, 'g', 6, 64),
				"sigma":  strconv.FormatFloat(st.sigma, 'g', 6, 64),
			}})
		}
	}
	return nil
}

// violated returns the first Western Electric rule the newest point
// breaks (0: none):
//
//	1: one point beyond 3σ
//	2: two of the last three beyond 2σ on the same side
//	3: four of the last five beyond 1σ on the same side
//	4: eight in a row on the same side of the centre line
func (s *spc) violated(st *series) int {
	z := st.zones[:st.count]
	if s.rules[1] && (z[0] == 4 || z[0] == -4) {
		return 1
	}
	side := int8(1)
	if z[0] < 0 {
		side = -1
	}
	beyond := func(n, k int, level int8) bool {
		if len(z) < n {
			return false
		}
		c := 0
		for _, x := range z[:n] {
			if x*side >= level {
				c++
			}
		}
		return c >= k && z[0]*side >= level
	}
	if s.rules[2] && beyond(3, 2, 3) {
		return 2
	}
	if s.rules[3] && beyond(5, 4, 2) {
		return 3
	}
	if s.rules[4] && beyond(8, 8, 1) {
		return 4
	}
	return 0
}

func (s *spc) Tick(int64, *molensvc.Output) error { return nil }

func asset(series string) string {
	if i := strings.LastIndexByte(series, '/'); i > 0 {
		return series[:i]
	}
	return series
}

func init() { molensvc.Register(&spc{}) }

func main() {}
