package operator

import (
	"fmt"
	"math"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name: "anomaly",
		Doc:  "streaming anomaly detection per series (EWMA z-score or median/MAD) with warm-up and hysteresis",
		New:  func() pipeline.Config { c := DefaultAnomalyConfig(); return &c },
		Build: func(c pipeline.Config) (pipeline.Operator, error) {
			cfg, ok := c.(*AnomalyConfig)
			if !ok {
				return nil, fmt.Errorf("anomaly: config is %T, want *operator.AnomalyConfig", c)
			}
			return NewAnomaly(*cfg)
		},
	})
}

// anomalyMaxWindow bounds the MAD window: the model of one series is two
// float64 arrays of this length.
const anomalyMaxWindow = 4096

// AnomalyConfig configures the anomaly operator.
type AnomalyConfig struct {
	// Method is "ewma" (z-score against an exponentially weighted mean and
	// variance) or "mad" (robust: modified z-score against the median and the
	// median absolute deviation of the last Window points).
	Method string `yaml:"method"`
	// Tags limits detection to series with these tags; empty: every numeric series.
	Tags []string `yaml:"tags"`
	// Alpha is the EWMA weight of a new point, in (0, 1).
	Alpha float64 `yaml:"alpha"`
	// Window is the number of points the MAD method looks back on.
	Window int `yaml:"window"`
	// Warmup is how many points a series must have seen before it is scored.
	Warmup int `yaml:"warmup"`
	// Threshold raises an anomaly when the score reaches it (RaiseCount
	// points in a row); ClearThreshold (lower) clears it when the score stays
	// below it for ClearCount points in a row.
	Threshold      float64 `yaml:"threshold"`
	ClearThreshold float64 `yaml:"clear_threshold"`
	RaiseCount     int     `yaml:"raise_count"`
	ClearCount     int     `yaml:"clear_count"`
	// MinStd is the smallest spread a score divides by, so that a series
	// that was constant does not score infinity on its first change; set it
	// to the sensor's resolution to ignore steps smaller than that.
	MinStd float64 `yaml:"min_std"`
	// EmitScore emits the score of every scored point as <series>/anomaly_score.
	EmitScore bool `yaml:"emit_score"`
	// MaxGap: after a silence this long or longer the series' model restarts
	// (warm-up again) and an open anomaly ends at its last point. 0: never.
	MaxGap time.Duration `yaml:"max_gap"`
	// ClockReset: a point this much older than the series' newest is a clock
	// jump: the model restarts. Less old points are late and skipped.
	ClockReset time.Duration `yaml:"clock_reset"`
	// Pass forwards the input points.
	Pass bool `yaml:"pass"`
}

// DefaultAnomalyConfig returns the defaults: EWMA with alpha 0.05, warm-up
// 30, raise at score 4, clear below 2 for 5 points.
func DefaultAnomalyConfig() AnomalyConfig {
	return AnomalyConfig{
		Method:         "ewma",
		Alpha:          0.05,
		Window:         60,
		Warmup:         30,
		Threshold:      4,
		ClearThreshold: 2,
		RaiseCount:     1,
		ClearCount:     5,
		MinStd:         1e-9,
		ClockReset:     eventsDefaultClockReset,
		Pass:           true,
	}
}

// Validate checks c; messages name the field.
func (c *AnomalyConfig) Validate() error {
	switch c.Method {
	case "ewma":
		if !(c.Alpha > 0 && c.Alpha < 1) {
			return fmt.Errorf("alpha: must be > 0 and < 1")
		}
		if c.Warmup < 2 {
			return fmt.Errorf("warmup: must be >= 2")
		}
	case "mad":
		if c.Window < 5 || c.Window > anomalyMaxWindow {
			return fmt.Errorf("window: must be 5..%d", anomalyMaxWindow)
		}
		if c.Warmup < 5 || c.Warmup > c.Window {
			return fmt.Errorf("warmup: must be 5..window (%d)", c.Window)
		}
	default:
		return fmt.Errorf("method: %q: must be ewma or mad", c.Method)
	}
	if err := eventsCheckTags("tags", c.Tags); err != nil {
		return err
	}
	if !(c.Threshold > 0) || math.IsInf(c.Threshold, 0) {
		return fmt.Errorf("threshold: must be > 0")
	}
	if !(c.ClearThreshold >= 0 && c.ClearThreshold < c.Threshold) {
		return fmt.Errorf("clear_threshold: must be >= 0 and less than threshold (%g)", c.Threshold)
	}
	if c.RaiseCount < 1 {
		return fmt.Errorf("raise_count: must be >= 1")
	}
	if c.ClearCount < 1 {
		return fmt.Errorf("clear_count: must be >= 1")
	}
	if !(c.MinStd > 0) || math.IsInf(c.MinStd, 0) {
		return fmt.Errorf("min_std: must be > 0")
	}
	return eventsCheckDurations(c.MaxGap, c.ClockReset)
}

// anomalySeries is the model and alarm state of one series.
type anomalySeries struct {
	series, asset string
	scoreSeries   string // "" when EmitScore is off or the path would be invalid
	last          int64
	seen          bool
	stale         bool // Tick ended it for a gap; the next point restarts it
	n             int  // points in the model (warm-up)

	// ewma
	mean, vari float64

	// mad: ring holds the last len(sorted) points in arrival order, sorted
	// the same points in order; both have capacity Window from the start.
	ring   []float64
	head   int
	sorted []float64

	// hysteresis
	open       bool
	over       int   // consecutive points at or above threshold (closed)
	under      int   // consecutive points below clear_threshold (open)
	runStart   int64 // time of the first point of the current run
	start      int64 // Start of the open event
	attrs      map[string]string
	peakScore  float64
	peakValue  float64
	raiseScore float64
}

// Anomaly scores each numeric series against its own recent behaviour and
// emits an "anomaly" event (Asset: the series' asset; Attrs: series,
// method, score, value, mean or median, direction) when the score reaches
// Threshold for RaiseCount points; the event's close (End set, plus
// peak_score and peak_value) follows once the score has stayed below
// ClearThreshold for ClearCount points, and End is the first of those.
// The score of a point is computed before the point updates the model, and
// every point updates it: a lasting level shift is reported once and clears
// when the model has adapted.
//
// Time: a point older than the series' newest is late (skipped) unless it
// is more than ClockReset older (a clock jump: the model restarts). Gaps are
// ignored unless MaxGap is set. The models count points, not time.
type Anomaly struct {
	cfg    AnomalyConfig
	mad    bool
	maxGap int64
	reset  int64

	index  map[string]int
	series []*anomalySeries // first-seen order, so Tick is deterministic
	ctr    eventsCounters
}

// NewAnomaly returns an anomaly operator for cfg.
func NewAnomaly(cfg AnomalyConfig) (*Anomaly, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Anomaly{cfg: cfg, mad: cfg.Method == "mad", maxGap: int64(cfg.MaxGap), reset: int64(cfg.ClockReset), index: map[string]int{}}, nil
}

// Stats returns the operator's counters by name.
func (d *Anomaly) Stats() map[string]uint64 { return d.ctr.snapshot() }

func (d *Anomaly) get(series string) *anomalySeries {
	if i, ok := d.index[series]; ok {
		return d.series[i]
	}
	s := &anomalySeries{series: series, asset: uns.Asset(series)}
	if d.cfg.EmitScore {
		s.scoreSeries = d.ctr.outputPath(series, "/anomaly_score")
	}
	if d.mad {
		s.ring = make([]float64, d.cfg.Window)
		s.sorted = make([]float64, 0, d.cfg.Window)
	}
	d.index[series] = len(d.series)
	d.series = append(d.series, s)
	return s
}

// Process implements pipeline.Operator.
func (d *Anomaly) Process(in []uns.Point, out *pipeline.Output) {
	for i := range in {
		p := &in[i]
		if d.cfg.Pass {
			out.Points = append(out.Points, *p)
		}
		if !eventsHasTag(d.cfg.Tags, uns.Tag(p.Series)) {
			continue
		}
		v, ok := d.ctr.number(p, out)
		if !ok {
			continue
		}
		d.point(p.Series, p.TS, v, out)
	}
}

func (d *Anomaly) point(series string, ts int64, v float64, out *pipeline.Output) {
	s := d.get(series)
	if s.seen && ts < s.last {
		if s.last-ts <= d.reset {
			d.ctr.skipLate(out)
			return
		}
		d.ctr.clockResets.Add(1)
		d.restart(s, s.last, out)
	}
	if s.seen && !s.stale && d.maxGap > 0 && ts-s.last >= d.maxGap {
		d.ctr.gaps.Add(1)
		d.restart(s, s.last, out)
	}
	s.last, s.seen, s.stale = ts, true, false

	var score, center float64
	scored := s.n >= d.cfg.Warmup
	if d.mad {
		score, center = s.madScore(v, d.cfg.MinStd)
		s.madAdd(v)
	} else {
		score, center = s.ewmaScore(v, d.cfg.MinStd)
		s.ewmaAdd(v, d.cfg.Alpha)
	}
	s.n++
	if !scored {
		return
	}
	if s.scoreSeries != "" {
		out.Points = append(out.Points, uns.Point{Series: s.scoreSeries, TS: ts, Value: uns.Float(score)})
		d.ctr.points.Add(1)
	}
	d.hysteresis(s, ts, v, score, center, out)
}

// restart ends an open anomaly at end and forgets the model.
func (d *Anomaly) restart(s *anomalySeries, end int64, out *pipeline.Output) {
	if s.open {
		d.close(s, max(end, s.start), out)
	}
	s.n, s.mean, s.vari, s.head, s.over, s.under = 0, 0, 0, 0, 0, 0
	s.sorted = s.sorted[:0]
}

func (d *Anomaly) hysteresis(s *anomalySeries, ts int64, v, score, center float64, out *pipeline.Output) {
	if !s.open {
		if score < d.cfg.Threshold {
			s.over = 0
			return
		}
		if s.over == 0 {
			s.runStart = ts
		}
		s.over++
		if s.over < d.cfg.RaiseCount {
			return
		}
		s.open, s.over, s.under = true, 0, 0
		s.start, s.peakScore, s.peakValue, s.raiseScore = s.runStart, score, v, score
		centerName := "mean"
		if d.mad {
			centerName = "median"
		}
		dir := "high"
		if v < center {
			dir = "low"
		}
		s.attrs = map[string]string{
			"series":    s.series,
			"method":    d.cfg.Method,
			"score":     eventsRound(score),
			"value":     eventsFloat(v),
			centerName:  eventsRound(center),
			"direction": dir,
		}
		out.Events = append(out.Events, pipeline.Event{Asset: s.asset, Kind: "anomaly", Start: s.start, Attrs: s.attrs})
		d.ctr.events.Add(1)
		return
	}
	if score > s.peakScore {
		s.peakScore, s.peakValue = score, v
	}
	if score >= d.cfg.ClearThreshold {
		s.under = 0
		return
	}
	if s.under == 0 {
		s.runStart = ts
	}
	s.under++
	if s.under >= d.cfg.ClearCount {
		d.close(s, s.runStart, out)
	}
}

// close emits the end of s's open anomaly. The attributes are a copy: the
// open event's map may still be in the runner's hands.
func (d *Anomaly) close(s *anomalySeries, end int64, out *pipeline.Output) {
	attrs := make(map[string]string, len(s.attrs)+2)
	for k, v := range s.attrs {
		attrs[k] = v
	}
	attrs["peak_score"] = eventsRound(s.peakScore)
	attrs["peak_value"] = eventsFloat(s.peakValue)
	out.Events = append(out.Events, pipeline.Event{Asset: s.asset, Kind: "anomaly", Start: s.start, End: end, Attrs: attrs})
	d.ctr.events.Add(1)
	s.open, s.attrs, s.under, s.over = false, nil, 0, 0
}

// ewmaScore is |v - mean| / sd of the model before v.
func (s *anomalySeries) ewmaScore(v, minStd float64) (score, mean float64) {
	return math.Abs(v-s.mean) / max(math.Sqrt(s.vari), minStd), s.mean
}

// ewmaAdd updates the exponentially weighted mean and variance (West's
// incremental form, as in Finch 2009), seeded by the first value.
func (s *anomalySeries) ewmaAdd(v, alpha float64) {
	if s.n == 0 {
		s.mean, s.vari = v, 0
		return
	}
	diff := v - s.mean
	incr := alpha * diff
	s.mean += incr
	s.vari = (1 - alpha) * (s.vari + diff*incr)
}

// madScore is the modified z-score 0.6745·|v - median| / MAD over the
// window before v (Iglewicz and Hoaglin).
func (s *anomalySeries) madScore(v, minStd float64) (score, median float64) {
	n := len(s.sorted)
	if n == 0 {
		return 0, 0
	}
	median = anomalyMedian(s.sorted)
	mad := anomalyMAD(s.sorted, median)
	return 0.6745 * math.Abs(v-median) / max(mad, minStd), median
}

// madAdd puts v into the window, evicting the oldest point once it is full.
// The evicted point's slot is reused: a binary search finds v's rank and one
// memmove shifts only the points between the two ranks. No allocation.
func (s *anomalySeries) madAdd(v float64) {
	w := len(s.ring)
	if n := len(s.sorted); n == w {
		old := s.ring[s.head]
		a := s.sorted
		i := anomalySearch(a, old) // a[i] == old
		if v >= old {
			j := i + 1 + anomalySearch(a[i+1:], v)
			copy(a[i:j-1], a[i+1:j])
			a[j-1] = v
		} else {
			j := anomalySearch(a[:i], v)
			copy(a[j+1:i+1], a[j:i])
			a[j] = v
		}
	} else {
		i := anomalySearch(s.sorted, v)
		s.sorted = s.sorted[:n+1]
		copy(s.sorted[i+1:], s.sorted[i:])
		s.sorted[i] = v
	}
	s.ring[s.head] = v
	s.head++
	if s.head == w {
		s.head = 0
	}
}

// anomalySearch returns the first index of a whose value is >= v (a sorted,
// no NaN). It halves a window of fixed shape instead of branching on each
// comparison, so the compiler can use conditional moves: the comparisons
// of noisy values are unpredictable and branch misses dominated.
func anomalySearch(a []float64, v float64) int {
	n := len(a)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		if a[base+half-1] < v {
			base += half
		}
		n -= half
	}
	if a[base] < v {
		base++
	}
	return base
}

// anomalyMedian is the median of sorted values (len > 0).
func anomalyMedian(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// anomalyMAD is the median of |x - median| over sorted values (len > 0).
// The deviations left of the middle, L(i) = median - sorted[p-1-i], and
// right of it, R(j) = sorted[p+j] - median (p = n/2), are two ascending
// sequences; their k-th smallest is found by a binary search over how many
// come from L (O(log n), without sorting deviations), and for an even
// count the next one is the smaller of the two following candidates.
func anomalyMAD(sorted []float64, median float64) float64 {
	n := len(sorted)
	p := n / 2
	nl, nr := p, n-p
	k := (n - 1) / 2 // the lower middle rank
	// Find i, the count taken from L among the k+1 smallest: the first i
	// with L(i) >= R(k-i).
	lo, hi := max(0, k+1-nr), min(k+1, nl)
	for lo < hi {
		i := int(uint(lo+hi) >> 1)
		if median-sorted[p-1-i] < sorted[p+k-i]-median {
			lo = i + 1
		} else {
			hi = i
		}
	}
	i, j := lo, k+1-lo
	kth := math.Inf(-1)
	if i > 0 {
		kth = median - sorted[p-i]
	}
	if j > 0 {
		kth = max(kth, sorted[p+j-1]-median)
	}
	if n%2 == 1 {
		return kth
	}
	next := math.Inf(1)
	if i < nl {
		next = median - sorted[p-1-i]
	}
	if j < nr {
		next = min(next, sorted[p+j]-median)
	}
	return (kth + next) / 2
}

// MaxWait implements pipeline.Waiter: open anomalies end after max_gap
// without input (and stay open without it).
func (d *Anomaly) MaxWait() time.Duration { return d.cfg.MaxGap }

// Tick implements pipeline.Operator: with MaxGap set, series silent for
// MaxGap or longer end their open anomaly at their last point and restart
// their model.
func (d *Anomaly) Tick(now int64, out *pipeline.Output) {
	if d.maxGap == 0 {
		return
	}
	for _, s := range d.series {
		if s.seen && !s.stale && now-s.last >= d.maxGap {
			d.ctr.gaps.Add(1)
			d.restart(s, s.last, out)
			s.stale = true
		}
	}
}
