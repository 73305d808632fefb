package operator

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

const anomalyTestSeries = "f/a/l/m1/vib"

// anomalySeriesIn is n points of noise around 2.0 (sd 0.1) at 1 Hz from
// second 0, with the values in set replacing the noise at their index.
func anomalySeriesIn(n int, set map[int]uns.Value) []eventsIn {
	noise := eventsNoise(3, n, 2.0, 0.1)
	var in []eventsIn
	for i := range n {
		v := uns.Float(noise[i])
		if s, ok := set[i]; ok {
			v = s
		}
		in = append(in, eventsPt(anomalyTestSeries, float64(i), v))
	}
	return in
}

func TestAnomaly(t *testing.T) {
	spike := map[int]uns.Value{60: uns.Float(5)}
	mad := func(c *AnomalyConfig) { c.Method = "mad" }
	tests := []struct {
		name      string
		cfg       func(*AnomalyConfig)
		in        []eventsIn
		want      []string
		wantSkip  map[pipeline.Reason]uint64
		wantStats map[string]uint64
	}{
		{
			name: "ewma: one spike is one anomaly, opened and closed",
			in:   anomalySeriesIn(100, spike),
			want: []string{"m1 anomaly 60-open direction=high value=5", "m1 anomaly 60-61 direction=high value=5"},
		},
		{
			name: "ewma: downward spike",
			in:   anomalySeriesIn(100, map[int]uns.Value{60: uns.Float(-1)}),
			want: []string{"m1 anomaly 60-open direction=low value=-1", "m1 anomaly 60-61 direction=low value=-1"},
		},
		{
			name: "no score during warm-up",
			in:   anomalySeriesIn(100, map[int]uns.Value{20: uns.Float(5)}),
			want: []string{},
		},
		{
			name: "clear_count: the anomaly ends at the first of the quiet points",
			cfg:  func(c *AnomalyConfig) { c.ClearCount = 20 },
			in:   anomalySeriesIn(100, spike),
			want: []string{"m1 anomaly 60-open direction=high value=5", "m1 anomaly 60-61 direction=high value=5"},
		},
		{
			name: "mad: one spike is one anomaly",
			cfg:  mad,
			in:   anomalySeriesIn(100, spike),
			want: []string{"m1 anomaly 60-open direction=high value=5", "m1 anomaly 60-61 direction=high value=5"},
		},
		{
			name: "mad with raise_count 3: a single spike is not enough",
			cfg: func(c *AnomalyConfig) {
				c.Method = "mad"
				c.RaiseCount = 3
			},
			in:   anomalySeriesIn(100, spike),
			want: []string{},
		},
		{
			name: "mad with raise_count 3: a lasting shift starts at its first point",
			cfg: func(c *AnomalyConfig) {
				c.Method = "mad"
				c.RaiseCount = 3
			},
			in:   anomalySeriesIn(100, map[int]uns.Value{60: uns.Float(5), 61: uns.Float(5.1), 62: uns.Float(4.9), 63: uns.Float(5)}),
			want: []string{"m1 anomaly 60-open direction=high value=4.9", "m1 anomaly 60-64 direction=high value=4.9"},
		},
		{
			name: "NaN, Inf, strings and bad quality are skipped and leave the model alone",
			in: slices.Concat(anomalySeriesIn(100, map[int]uns.Value{40: uns.Float(math.NaN()), 41: uns.String("err"), 42: uns.Float(math.Inf(-1))}),
				[]eventsIn{eventsPtQ(anomalyTestSeries, 100, uns.Float(1e6), uns.Bad)}),
			want:      []string{},
			wantSkip:  map[pipeline.Reason]uint64{pipeline.NonFinite: 2, pipeline.WrongType: 1},
			wantStats: map[string]uint64{"bad_quality": 1},
		},
		{
			name:     "out of order: a point older than the newest is late",
			in:       slices.Concat(anomalySeriesIn(50, nil), []eventsIn{eventsPt(anomalyTestSeries, 48.5, uns.Float(50))}),
			want:     []string{},
			wantSkip: map[pipeline.Reason]uint64{pipeline.Late: 1},
		},
		{
			name: "clock jumps back: the model restarts and warms up again",
			cfg:  func(c *AnomalyConfig) { c.ClockReset = time.Minute },
			in: slices.Concat(anomalySeriesIn(50, nil),
				[]eventsIn{eventsPt(anomalyTestSeries, -3600, uns.Float(2)), eventsPt(anomalyTestSeries, -3599, uns.Float(40))}),
			want:      []string{},
			wantStats: map[string]uint64{"clock_resets": 1, "late": 0},
		},
		{
			name: "max_gap: a silent series ends its anomaly at its last point (Tick)",
			cfg: func(c *AnomalyConfig) {
				c.MaxGap = 10 * time.Second
				c.ClearCount = 1000
			},
			in:        slices.Concat(anomalySeriesIn(63, spike), []eventsIn{eventsTick(70), eventsTick(72), eventsTick(80)}),
			want:      []string{"m1 anomaly 60-open direction=high value=5", "m1 anomaly 60-62 direction=high value=5"},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "max_gap: a gap in the data restarts the model",
			cfg:  func(c *AnomalyConfig) { c.MaxGap = 10 * time.Second },
			in: slices.Concat(anomalySeriesIn(50, nil),
				[]eventsIn{eventsPt(anomalyTestSeries, 100, uns.Float(9)), eventsPt(anomalyTestSeries, 101, uns.Float(9))}),
			want:      []string{},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "tags: other series are not scored",
			cfg:  func(c *AnomalyConfig) { c.Tags = []string{"temp"} },
			in:   anomalySeriesIn(100, spike),
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultAnomalyConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			op, err := NewAnomaly(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := eventsRun(op, tt.in)
			eventsDiff(t, "events", eventsFormat(r.events, "direction", "value"), tt.want)
			for _, e := range r.events {
				center := map[string]string{"ewma": "mean", "mad": "median"}[cfg.Method]
				for _, k := range []string{"series", "method", "score", center} {
					if e.Attrs[k] == "" {
						t.Errorf("event %v lacks attribute %q", e, k)
					}
				}
				if _, ok := e.Attrs["peak_score"]; ok != (e.End != 0) {
					t.Errorf("event %v: peak_score present %v, want it on the close only", e, ok)
				}
			}
			if got, want := len(r.points), len(tt.in)-stateTicks(tt.in); got != want {
				t.Errorf("passed %d points, want all %d", got, want)
			}
			for reason, want := range tt.wantSkip {
				if got := r.skipped[reason]; got != want {
					t.Errorf("skipped %s = %d, want %d", reason, got, want)
				}
			}
			stats := op.Stats()
			for k, want := range tt.wantStats {
				if got := stats[k]; got != want {
					t.Errorf("Stats()[%q] = %d, want %d", k, got, want)
				}
			}
		})
	}
}

func TestAnomalyScorePoints(t *testing.T) {
	cfg := DefaultAnomalyConfig()
	cfg.EmitScore = true
	cfg.Pass = false
	op, err := NewAnomaly(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := eventsRun(op, anomalySeriesIn(40, nil))
	if got := eventsPoints(r.points, ""); len(got) != 10 || !strings.HasPrefix(got[0], anomalyTestSeries+"/anomaly_score@30=") {
		t.Errorf("score points = %q, want 10 from second 30 on (warm-up 30)", got)
	}
}

// TestAnomalyMAD checks the sliding window and the O(log n) MAD against
// sorting from scratch.
func TestAnomalyMAD(t *testing.T) {
	for _, w := range []int{5, 6, 7, 60, 61} {
		r := rand.New(rand.NewPCG(uint64(w), 2))
		s := &anomalySeries{ring: make([]float64, w), sorted: make([]float64, 0, w)}
		var hist []float64
		for i := range 500 {
			v := math.Round(r.NormFloat64()*10) / 2 // ties on purpose
			if i%50 == 0 {
				v = 1e3
			}
			s.madAdd(v)
			hist = append(hist, v)
			win := slices.Clone(hist[max(0, len(hist)-w):])
			slices.Sort(win)
			if !slices.Equal(s.sorted, win) {
				t.Fatalf("w %d, point %d: window %v, want %v", w, i, s.sorted, win)
			}
			med := anomalyMedian(win)
			dev := make([]float64, len(win))
			for k, x := range win {
				dev[k] = math.Abs(x - med)
			}
			slices.Sort(dev)
			if got, want := anomalyMAD(s.sorted, med), anomalyMedian(dev); got != want {
				t.Fatalf("w %d, point %d: MAD %g, want %g (window %v)", w, i, got, want, win)
			}
		}
	}
}

func TestAnomalyConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*AnomalyConfig)
		want string
	}{
		{"defaults", func(*AnomalyConfig) {}, ""},
		{"mad defaults", func(c *AnomalyConfig) { c.Method = "mad" }, ""},
		{"method", func(c *AnomalyConfig) { c.Method = "zscore" }, "method:"},
		{"alpha", func(c *AnomalyConfig) { c.Alpha = 1 }, "alpha:"},
		{"warmup", func(c *AnomalyConfig) { c.Warmup = 1 }, "warmup:"},
		{"mad window", func(c *AnomalyConfig) { c.Method, c.Window = "mad", 100000 }, "window:"},
		{"mad warmup beyond window", func(c *AnomalyConfig) { c.Method, c.Warmup = "mad", 61 }, "warmup:"},
		{"threshold", func(c *AnomalyConfig) { c.Threshold = 0 }, "threshold:"},
		{"clear threshold not lower", func(c *AnomalyConfig) { c.ClearThreshold = 4 }, "clear_threshold:"},
		{"raise count", func(c *AnomalyConfig) { c.RaiseCount = 0 }, "raise_count:"},
		{"clear count", func(c *AnomalyConfig) { c.ClearCount = 0 }, "clear_count:"},
		{"min std", func(c *AnomalyConfig) { c.MinStd = 0 }, "min_std:"},
		{"tags", func(c *AnomalyConfig) { c.Tags = []string{"ok", "not ok"} }, "tags[1]:"},
		{"clock reset", func(c *AnomalyConfig) { c.ClockReset = -1 }, "clock_reset:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultAnomalyConfig()
			tt.cfg(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func BenchmarkAnomaly(b *testing.B) {
	for _, method := range []string{"ewma", "mad"} {
		b.Run(method, func(b *testing.B) {
			cfg := DefaultAnomalyConfig()
			cfg.Method = method
			op, err := NewAnomaly(cfg)
			if err != nil {
				b.Fatal(err)
			}
			benchEventsOperator(b, op)
		})
	}
}
