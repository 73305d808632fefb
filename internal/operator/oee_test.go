package operator

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uns"
)

// oeeTicks returns, for each second t in [from, to), the points of asset
// "f/a/l/<machine>": its state (unless state returns ""), good_count and
// scrap_count, in the simulator's order.
func oeeTicks(machine string, from, to int, state func(int) string, good, scrap func(int) int64) []eventsIn {
	var out []eventsIn
	asset := "f/a/l/" + machine
	for t := from; t < to; t++ {
		if s := state(t); s != "" {
			out = append(out, eventsPt(asset+"/state", float64(t), uns.String(s)))
		}
		out = append(out, eventsPt(asset+"/good_count", float64(t), uns.Int(good(t))))
		if scrap != nil {
			out = append(out, eventsPt(asset+"/scrap_count", float64(t), uns.Int(scrap(t))))
		}
	}
	return out
}

func oeeConst[T any](v T) func(int) T { return func(int) T { return v } }
func oeeIdent(t int) int64            { return int64(t) }

// oeeFigures returns the emitted figures keyed "machine/figure@sec".
func oeeFigures(pts []uns.Point) map[string]float64 {
	out := map[string]float64{}
	for _, p := range pts {
		asset, fig, ok := strings.Cut(p.Series, "/oee/")
		if !ok {
			continue
		}
		out[uns.Tag(asset)+"/"+fig+"@"+eventsSecs(p.TS)] = p.Value.Float64()
	}
	return out
}

func oeeCat(parts ...[]eventsIn) []eventsIn { return slices.Concat(parts...) }

func TestOEE(t *testing.T) {
	runDown := func(at int) func(int) string {
		return func(t int) string {
			if t < at {
				return "running"
			}
			return "down"
		}
	}
	tenSeconds := func(c *OEEConfig) {
		c.Window = 10 * time.Second
		c.Lateness = 0
		c.IdealCycleTime = time.Second
	}
	tests := []struct {
		name      string
		cfg       func(*OEEConfig) // applied after tenSeconds
		in        []eventsIn
		want      map[string]float64
		wantSkip  map[pipeline.Reason]uint64
		wantStats map[string]uint64
	}{
		{
			name: "availability, performance, quality at window close",
			in: oeeTicks("m1", 0, 11, runDown(8),
				func(t int) int64 { return int64(min(t, 7)) },
				func(t int) int64 { return map[bool]int64{true: 1}[t >= 8] }),
			// running 8 s of 10 planned; 8 parts in 8 s at 1 s ideal; 7 good.
			want: map[string]float64{"m1/availability@10": 0.8, "m1/performance@10": 1, "m1/quality@10": 0.875, "m1/oee@10": 0.7},
		},
		{
			name: "idle counts as planned by default",
			in:   oeeTicks("m1", 0, 11, func(t int) string { return map[bool]string{true: "running", false: "idle"}[t < 6] }, func(t int) int64 { return int64(min(t, 6)) }, oeeConst[int64](0)),
			want: map[string]float64{"m1/availability@10": 0.6, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 0.6},
		},
		{
			name: "unplanned idle is not planned time",
			cfg:  func(c *OEEConfig) { c.Unplanned = []string{"idle"} },
			in:   oeeTicks("m1", 0, 11, func(t int) string { return map[bool]string{true: "running", false: "idle"}[t < 6] }, func(t int) int64 { return int64(min(t, 6)) }, oeeConst[int64](0)),
			want: map[string]float64{"m1/availability@10": 1, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 1},
		},
		{
			name: "no planned time: nothing emitted",
			cfg:  func(c *OEEConfig) { c.Unplanned = []string{"idle"} },
			in:   oeeTicks("m1", 0, 11, oeeConst("idle"), oeeConst[int64](0), oeeConst[int64](0)),
			want: map[string]float64{},
		},
		{
			name: "no running time: performance omitted, OEE 0",
			in:   oeeTicks("m1", 0, 11, oeeConst("down"), oeeConst[int64](3), oeeConst[int64](0)),
			want: map[string]float64{"m1/availability@10": 0, "m1/oee@10": 0},
		},
		{
			name:      "counter reset: the new value is the delta",
			in:        oeeTicks("m1", 0, 11, oeeConst("running"), func(t int) int64 { return []int64{0, 1, 2, 3, 1, 2, 3, 4, 5, 6, 7}[t] }, oeeConst[int64](0)),
			want:      map[string]float64{"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9},
			wantStats: map[string]uint64{"counter_resets": 1},
		},
		{
			name: "performance capped at 1",
			cfg:  func(c *OEEConfig) { c.IdealCycleTime = 2 * time.Second },
			in:   oeeTicks("m1", 0, 11, oeeConst("running"), oeeIdent, nil),
			want: map[string]float64{"m1/availability@10": 1, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 1},
		},
		{
			name: "performance uncapped when configured",
			cfg: func(c *OEEConfig) {
				c.IdealCycleTime = 2 * time.Second
				c.CapPerformance = false
			},
			in:   oeeTicks("m1", 0, 11, oeeConst("running"), oeeIdent, nil),
			want: map[string]float64{"m1/availability@10": 1, "m1/performance@10": 1.8, "m1/quality@10": 1, "m1/oee@10": 1.8},
		},
		{
			name: "NaN, string and bad-quality counter values are skipped; the next delta spans them",
			in: oeeCat(
				oeeTicks("m1", 0, 3, oeeConst("running"), oeeIdent, nil),
				[]eventsIn{eventsPt("f/a/l/m1/good_count", 3, uns.Float(math.NaN())), eventsPt("f/a/l/m1/good_count", 4, uns.String("x")),
					eventsPtQ("f/a/l/m1/good_count", 4.5, uns.Int(99), uns.Bad)},
				oeeTicks("m1", 5, 11, oeeConst("running"), oeeIdent, nil)),
			want:      map[string]float64{"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9},
			wantSkip:  map[pipeline.Reason]uint64{pipeline.NonFinite: 1, pipeline.WrongType: 1},
			wantStats: map[string]uint64{"bad_quality": 1},
		},
		{
			name: "late: behind a closed window, and a counter older than its last value",
			in: oeeCat(
				oeeTicks("m1", 0, 13, oeeConst("running"), oeeIdent, nil),
				[]eventsIn{eventsPt("f/a/l/m1/good_count", 5, uns.Int(5)), eventsPt("f/a/l/m1/good_count", 11.5, uns.Int(11))},
				oeeTicks("m1", 13, 21, oeeConst("running"), oeeIdent, nil)),
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9,
				"m1/availability@20": 1, "m1/performance@20": 1, "m1/quality@20": 1, "m1/oee@20": 1,
			},
			wantSkip: map[pipeline.Reason]uint64{pipeline.Late: 2},
		},
		{
			name: "lateness: a state arriving after later counters still counts",
			cfg:  func(c *OEEConfig) { c.Lateness = 3 * time.Second },
			in: oeeCat(
				oeeTicks("m1", 0, 9, oeeConst("running"), oeeIdent, nil),
				oeeTicks("m1", 9, 12, oeeConst(""), oeeIdent, nil),
				[]eventsIn{stateIn(9, "down"), stateIn(10, "down"), stateIn(11, "down")},
				oeeTicks("m1", 12, 14, oeeConst("down"), oeeIdent, nil)),
			want: map[string]float64{"m1/availability@10": 0.9, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 0.9},
		},
		{
			name: "gap without max_gap: the state holds, empty windows are not emitted",
			in:   oeeCat(oeeTicks("m1", 0, 10, oeeConst("running"), oeeIdent, nil), oeeTicks("m1", 35, 41, oeeConst("running"), oeeIdent, nil)),
			// [30,40) holds running from 30 and counts the parts of the gap.
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9,
				"m1/availability@40": 1, "m1/performance@40": 1, "m1/quality@40": 1, "m1/oee@40": 1,
			},
		},
		{
			name: "gap beyond max_gap: unknown time and the gap's parts are left out",
			cfg:  func(c *OEEConfig) { c.MaxGap = 5 * time.Second },
			in:   oeeCat(oeeTicks("m1", 0, 10, oeeConst("running"), oeeIdent, nil), oeeTicks("m1", 35, 41, oeeConst("running"), oeeIdent, nil)),
			// [0,10): running 0..9 (the last point), 9 parts. [30,40): running 35..40, 4 parts.
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 1,
				"m1/availability@40": 1, "m1/performance@40": 0.8, "m1/quality@40": 1, "m1/oee@40": 0.8,
			},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "gap seen by Tick and then by the data counts once",
			cfg:  func(c *OEEConfig) { c.MaxGap = 5 * time.Second },
			in: oeeCat(oeeTicks("m1", 0, 10, oeeConst("running"), oeeIdent, nil), []eventsIn{eventsTick(20)},
				oeeTicks("m1", 35, 41, oeeConst("running"), oeeIdent, nil)),
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 1,
				"m1/availability@40": 1, "m1/performance@40": 0.8, "m1/quality@40": 1, "m1/oee@40": 0.8,
			},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "Tick before end plus lateness: window still open",
			cfg:  func(c *OEEConfig) { c.Lateness = 2 * time.Second },
			in:   oeeCat(oeeTicks("m1", 0, 10, runDown(5), oeeIdent, nil), []eventsIn{eventsTick(11.9)}),
			want: map[string]float64{},
		},
		{
			name: "Tick closes the window without new input",
			cfg:  func(c *OEEConfig) { c.Lateness = 2 * time.Second },
			in:   oeeCat(oeeTicks("m1", 0, 10, runDown(5), oeeIdent, nil), []eventsIn{eventsTick(12), eventsTick(13)}),
			// down holds from 5 to the window's end: 5 of 10 s running, 9 parts.
			want: map[string]float64{"m1/availability@10": 0.5, "m1/performance@10": 1, "m1/quality@10": 1, "m1/oee@10": 0.5},
		},
		{
			name: "clock jumps back: open windows close at the newest time, counters keep their baseline",
			cfg:  func(c *OEEConfig) { c.ClockReset = time.Minute },
			in: oeeCat(
				oeeTicks("m1", 0, 15, oeeConst("running"), oeeIdent, nil),
				oeeTicks("m1", -100, -89, oeeConst("running"), func(t int) int64 { return int64(t + 115) }, nil)),
			// [10,20) closes with running 10..14 and parts 10..14; after the
			// jump [-100,-90) runs 10 s and makes one part a second.
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9,
				"m1/availability@20": 1, "m1/performance@20": 1, "m1/quality@20": 1, "m1/oee@20": 1,
				"m1/availability@-90": 1, "m1/performance@-90": 1, "m1/quality@-90": 1, "m1/oee@-90": 1,
			},
			wantStats: map[string]uint64{"clock_resets": 1},
		},
		{
			name: "ideal cycle time per asset pattern; none: no performance, no OEE",
			cfg: func(c *OEEConfig) {
				c.IdealCycleTime = 0
				c.IdealCycleTimes = []OEEIdealCycle{{Asset: "x/#", Time: time.Hour}, {Asset: "f/+/l/m1", Time: 2 * time.Second}, {Asset: "f/+/l/m1", Time: time.Hour}}
			},
			in: oeeCat(
				oeeTicks("m1", 0, 11, oeeConst("running"), func(t int) int64 { return int64(t / 2) }, nil),
				oeeTicks("m2", 0, 11, oeeConst("running"), oeeIdent, nil)),
			want: map[string]float64{
				"m1/availability@10": 1, "m1/performance@10": 0.8, "m1/quality@10": 1, "m1/oee@10": 0.8,
				"m2/availability@10": 1, "m2/quality@10": 1,
			},
		},
		{
			name: "state codes of the state operator; total_tag; details",
			cfg: func(c *OEEConfig) {
				c.StateTag = "state_code"
				c.TotalTag = "total_count"
				c.Details = true
			},
			in: func() []eventsIn {
				var in []eventsIn
				for t := range 11 {
					if t == 0 || t == 5 {
						in = append(in, eventsPt("f/a/l/m1/state_code", float64(t), uns.Int(map[bool]int64{true: 1, false: 4}[t == 0])))
					}
					in = append(in, eventsPt("f/a/l/m1/total_count", float64(t), uns.Int(int64(min(t, 5)))),
						eventsPt("f/a/l/m1/good_count", float64(t), uns.Int(int64(min(t, 4)))))
				}
				return in
			}(),
			want: map[string]float64{
				"m1/availability@10": 0.5, "m1/performance@10": 1, "m1/quality@10": 0.8, "m1/oee@10": 0.4,
				"m1/running_s@10": 5, "m1/planned_s@10": 10, "m1/good@10": 4, "m1/total@10": 5,
			},
		},
		{
			name:     "unmapped state values are skipped",
			in:       oeeTicks("m1", 0, 11, func(t int) string { return map[bool]string{true: "running", false: "MANUAL"}[t < 5] }, oeeIdent, nil),
			want:     map[string]float64{"m1/availability@10": 1, "m1/performance@10": 0.9, "m1/quality@10": 1, "m1/oee@10": 0.9},
			wantSkip: map[pipeline.Reason]uint64{pipeline.WrongType: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultOEEConfig()
			tenSeconds(&cfg)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			op, err := NewOEE(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := eventsRun(op, tt.in)
			got := oeeFigures(r.points)
			for k, w := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s missing, want %g", k, w)
				} else if math.Abs(g-w) > 1e-9 {
					t.Errorf("%s = %g, want %g", k, g, w)
				}
			}
			for k, g := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected %s = %g", k, g)
				}
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

func TestOEEConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*OEEConfig)
		want string
	}{
		{"valid", func(*OEEConfig) {}, ""},
		{"window", func(c *OEEConfig) { c.Window = 0 }, "window:"},
		{"lateness not below window", func(c *OEEConfig) { c.Lateness = time.Hour }, "lateness:"},
		{"no ideal cycle time", func(c *OEEConfig) { c.IdealCycleTime = 0 }, "ideal_cycle_time:"},
		{"negative ideal cycle time", func(c *OEEConfig) { c.IdealCycleTime = -time.Second }, "ideal_cycle_time:"},
		{"bad pattern", func(c *OEEConfig) { c.IdealCycleTimes = []OEEIdealCycle{{Asset: "a/#/b", Time: time.Second}} }, "ideal_cycle_times[0].asset:"},
		{"pattern time", func(c *OEEConfig) { c.IdealCycleTimes = []OEEIdealCycle{{Asset: "a/+", Time: 0}} }, "ideal_cycle_times[0].time:"},
		{"unplanned state", func(c *OEEConfig) { c.Unplanned = []string{"idle", "lunch"} }, "unplanned[1]:"},
		{"running unplanned", func(c *OEEConfig) { c.Unplanned = []string{"running"} }, "unplanned[0]:"},
		{"state map", func(c *OEEConfig) { c.StateMap = map[string]string{"x": "y"} }, `state_map["x"]`},
		{"same tags", func(c *OEEConfig) { c.GoodTag = "state" }, "state_tag, good_tag"},
		{"bad tag", func(c *OEEConfig) { c.ScrapTag = "" }, "scrap_tag:"},
		{"max gap", func(c *OEEConfig) { c.MaxGap = -time.Second }, "max_gap:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultOEEConfig()
			c.IdealCycleTime = 30 * time.Second
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

func BenchmarkOEE(b *testing.B) {
	cfg := DefaultOEEConfig()
	cfg.Window = 10 * time.Second
	cfg.IdealCycleTime = 9 * time.Second
	op, err := NewOEE(cfg)
	if err != nil {
		b.Fatal(err)
	}
	benchEventsOperator(b, op)
}

// TestOEESimulatedFactory runs four simulated hours of the demo factory
// through state → oee (the state operator's codes feeding oee) and checks
// the results against the states and counters the simulator published:
// availability is exactly the running share of each hour, counts are the
// counters' deltas, downtime events are exactly the down and setup runs,
// and OEE is a plausible fraction.
func TestOEESimulatedFactory(t *testing.T) {
	const hours = 4
	stCfg := DefaultStateConfig()
	stCfg.CodeTag = "state_code"
	st, err := NewState(stCfg)
	if err != nil {
		t.Fatal(err)
	}
	oeeCfg := DefaultOEEConfig()
	oeeCfg.StateTag = "state_code"
	oeeCfg.Details = true
	oeeCfg.IdealCycleTimes = []OEEIdealCycle{
		{Asset: "+/+/+/cnc-mill", Time: 48 * time.Second},
		{Asset: "+/+/+/injection-press", Time: 28 * time.Second},
		{Asset: "+/+/+/packaging", Time: 6 * time.Second},
		{Asset: "+/+/+/compressor", Time: 30 * time.Second},
	}
	oee, err := NewOEE(oeeCfg)
	if err != nil {
		t.Fatal(err)
	}

	// What the simulator published, per machine: the state and counters of
	// every tick (one tick is one second).
	type tick struct {
		state       string
		good, scrap int64
	}
	truth := map[string][]tick{}
	f := sim.NewFactory(1)
	var pts []uns.Point
	var o1, o2 pipeline.Output
	var events []pipeline.Event
	var figures []uns.Point
	n := hours * 3600
	for i := range n {
		now := time.Unix(0, eventsAt(float64(i)))
		pts = pts[:0]
		cur := map[string]*tick{}
		for _, m := range f.Tick(now) {
			if pts, err = uns.Decode(pts, m.Topic, m.Payload, now.UnixNano()); err != nil {
				t.Fatalf("decode %s: %v", m.Topic, err)
			}
			p := pts[len(pts)-1]
			if cur[m.Machine] == nil {
				cur[m.Machine] = &tick{}
			}
			switch uns.Tag(p.Series) {
			case "state":
				cur[m.Machine].state = p.Value.Str()
			case "good_count":
				cur[m.Machine].good = p.Value.Int()
			case "scrap_count":
				cur[m.Machine].scrap = p.Value.Int()
			}
		}
		for m, c := range cur {
			truth[m] = append(truth[m], *c)
		}
		st.Process(pts, &o1)
		oee.Process(o1.Points, &o2)
		events = append(events, o1.Events...)
		figures = append(figures, o2.Points...)
		o1.Reset()
		o2.Reset()
	}
	oee.Tick(eventsAt(float64(n))+int64(oee.MaxWait()), &o2)
	figures = append(figures, o2.Points...)
	got := oeeFigures(figures)

	downRuns := 0
	for machine, ticks := range truth {
		name := uns.Tag(machine)
		if len(ticks) != n {
			t.Fatalf("%s: %d ticks, want %d", name, len(ticks), n)
		}
		// Availability and counts per hour.
		for h := range hours {
			from, to := h*3600, (h+1)*3600
			running := 0
			for _, tk := range ticks[from:to] {
				if tk.state == "running" {
					running++
				}
			}
			base := ticks[max(from-1, 0)]
			good := ticks[to-1].good - base.good
			total := good + ticks[to-1].scrap - base.scrap
			at := "@" + eventsSecs(eventsAt(float64(to)))
			wantA := float64(running) / 3600
			if g := got[name+"/availability"+at]; math.Abs(g-wantA) > 1e-9 {
				t.Errorf("%s hour %d: availability %g, want %g (running %d s)", name, h, g, wantA, running)
			}
			if g := got[name+"/good"+at]; g != float64(good) {
				t.Errorf("%s hour %d: good %g, want %d", name, h, g, good)
			}
			if g := got[name+"/total"+at]; g != float64(total) {
				t.Errorf("%s hour %d: total %g, want %d", name, h, g, total)
			}
			o, ok := got[name+"/oee"+at]
			t.Logf("%s hour %d: A %.3f P %.3f Q %.3f OEE %.3f", name, h, got[name+"/availability"+at], got[name+"/performance"+at], got[name+"/quality"+at], o)
			if running > 0 && total > 0 && (!ok || o <= 0 || o >= 1) {
				t.Errorf("%s hour %d: oee %g (present %v), want 0 < oee < 1", name, h, o, ok)
			}
			if p := got[name+"/performance"+at]; p > 1 {
				t.Errorf("%s hour %d: performance %g > 1", name, h, p)
			}
		}
		// Downtime events are exactly the closed runs of down and setup.
		var want []string
		for i := 0; i < len(ticks); {
			j := i
			for j < len(ticks) && ticks[j].state == ticks[i].state {
				j++
			}
			if s := ticks[i].state; (s == "down" || s == "setup") && j < len(ticks) {
				want = append(want, s+" "+eventsSecs(eventsAt(float64(i)))+"-"+eventsSecs(eventsAt(float64(j))))
				if s == "down" {
					downRuns++
				}
			}
			i = j
		}
		var gotDown []string
		for _, e := range events {
			if e.Asset == machine && e.Kind == "downtime" {
				gotDown = append(gotDown, e.Attrs["state"]+" "+eventsSecs(e.Start)+"-"+eventsSecs(e.End))
			}
		}
		eventsDiff(t, name+" downtime", gotDown, want)
		t.Logf("%s: %d downtime events", name, len(gotDown))
	}
	if downRuns == 0 {
		t.Error("no machine went down in the simulated hours: the test checks nothing")
	}
	if len(got) != 4*hours*8 {
		t.Errorf("%d figures, want %d (4 machines × %d hours × 8)", len(got), 4*hours*8, hours)
	}
}
