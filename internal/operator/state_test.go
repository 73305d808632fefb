package operator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

const (
	stateTestSeries = "f/a/l/m1/state"
	stateTestPower  = "f/a/l/m1/power_kw"
)

func stateIn(sec float64, s string) eventsIn { return eventsPt(stateTestSeries, sec, uns.String(s)) }

func TestState(t *testing.T) {
	powerRules := func(c *StateConfig) {
		c.Rules = []StateRule{
			{State: "running", Tag: "power_kw", Op: ">", Value: 5},
			{State: "idle", Tag: "power_kw", Op: ">", Value: 0.5},
		}
		c.Default = "down"
	}
	tests := []struct {
		name      string
		cfg       func(*StateConfig)
		in        []eventsIn
		want      []string
		wantSkip  map[pipeline.Reason]uint64
		wantStats map[string]uint64
	}{
		{
			name: "intervals close on change, down is downtime",
			in:   []eventsIn{stateIn(0, "running"), stateIn(1, "running"), stateIn(5, "down"), stateIn(6, "down"), stateIn(10, "running")},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-10 duration_s=5 state=down",
				"m1 downtime 5-10 duration_s=5 reason=down state=down",
			},
		},
		{
			name: "setup is downtime, idle is not",
			in:   []eventsIn{stateIn(0, "running"), stateIn(2, "idle"), stateIn(4, "setup"), stateIn(7, "running")},
			want: []string{
				"m1 state 0-2 duration_s=2 state=running",
				"m1 state 2-4 duration_s=2 state=idle",
				"m1 state 4-7 duration_s=3 state=setup",
				"m1 downtime 4-7 duration_s=3 reason=setup state=setup",
			},
		},
		{
			name: "downtime_states configurable",
			cfg:  func(c *StateConfig) { c.DowntimeStates = []string{"idle"} },
			in:   []eventsIn{stateIn(0, "idle"), stateIn(2, "down"), stateIn(4, "running")},
			want: []string{
				"m1 state 0-2 duration_s=2 state=idle",
				"m1 downtime 0-2 duration_s=2 reason=idle state=idle",
				"m1 state 2-4 duration_s=2 state=down",
			},
		},
		{
			name: "reason code seen during downtime",
			in: []eventsIn{stateIn(0, "running"), stateIn(5, "down"),
				eventsPt("f/a/l/m1/reason", 6, uns.String("E42")), stateIn(10, "running"),
				stateIn(20, "down"), eventsPt("f/a/l/m1/reason", 21, uns.Int(17)), stateIn(22, "running")},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-10 duration_s=5 state=down",
				"m1 downtime 5-10 duration_s=5 reason=E42 state=down",
				"m1 state 10-20 duration_s=10 state=running",
				"m1 state 20-22 duration_s=2 state=down",
				"m1 downtime 20-22 duration_s=2 reason=17 state=down",
			},
		},
		{
			name: "a reason from before the downtime does not apply",
			in:   []eventsIn{stateIn(0, "running"), eventsPt("f/a/l/m1/reason", 2, uns.String("E1")), stateIn(5, "down"), stateIn(10, "running")},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-10 duration_s=5 state=down",
				"m1 downtime 5-10 duration_s=5 reason=down state=down",
			},
		},
		{
			name: "raw values mapped, numbers by code",
			cfg:  func(c *StateConfig) { c.Map = map[string]string{"1": "running", "2": "down", "AUTO": "running"} },
			in: []eventsIn{eventsPt(stateTestSeries, 0, uns.Int(1)), eventsPt(stateTestSeries, 3, uns.Int(2)),
				eventsPt(stateTestSeries, 4, uns.String("AUTO")), eventsPt(stateTestSeries, 6, uns.Float(2))},
			want: []string{
				"m1 state 0-3 duration_s=3 state=running",
				"m1 state 3-4 duration_s=1 state=down",
				"m1 downtime 3-4 duration_s=1 reason=down state=down",
				"m1 state 4-6 duration_s=2 state=running",
			},
		},
		{
			name: "unmapped value and number where a name is expected are skipped",
			in:   []eventsIn{stateIn(0, "running"), stateIn(2, "MANUAL"), eventsPt(stateTestSeries, 2.5, uns.Float(math.NaN())), stateIn(3, "down"), stateIn(4, "running")},
			want: []string{
				"m1 state 0-3 duration_s=3 state=running",
				"m1 state 3-4 duration_s=1 state=down",
				"m1 downtime 3-4 duration_s=1 reason=down state=down",
			},
			wantSkip:  map[pipeline.Reason]uint64{pipeline.WrongType: 1, pipeline.NonFinite: 1},
			wantStats: map[string]uint64{"unmapped": 1, "non_finite": 1},
		},
		{
			name:      "bad quality is skipped",
			in:        []eventsIn{stateIn(0, "running"), eventsPtQ(stateTestSeries, 2, uns.String("down"), uns.Bad), stateIn(4, "idle")},
			want:      []string{"m1 state 0-4 duration_s=4 state=running"},
			wantStats: map[string]uint64{"bad_quality": 1},
		},
		{
			name: "out of order: older than the current interval is late",
			in:   []eventsIn{stateIn(0, "running"), stateIn(10, "down"), stateIn(5, "running"), stateIn(12, "running")},
			want: []string{
				"m1 state 0-10 duration_s=10 state=running",
				"m1 state 10-12 duration_s=2 state=down",
				"m1 downtime 10-12 duration_s=2 reason=down state=down",
			},
			wantSkip: map[pipeline.Reason]uint64{pipeline.Late: 1},
		},
		{
			name: "clock jumps back beyond clock_reset: close at the newest time, start afresh",
			cfg:  func(c *StateConfig) { c.ClockReset = time.Minute },
			in:   []eventsIn{stateIn(0, "running"), stateIn(100, "down"), stateIn(120, "down"), stateIn(10, "idle"), stateIn(20, "running")},
			want: []string{
				"m1 state 0-100 duration_s=100 state=running",
				"m1 state 100-120 duration_s=20 state=down",
				"m1 downtime 100-120 duration_s=20 reason=down state=down",
				"m1 state 10-20 duration_s=10 state=idle",
			},
			wantStats: map[string]uint64{"clock_resets": 1, "late": 0},
		},
		{
			name: "a change at the interval's start replaces it: no zero-length interval",
			in:   []eventsIn{stateIn(0, "running"), stateIn(5, "idle"), stateIn(5, "down"), stateIn(8, "running")},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-8 duration_s=3 state=down",
				"m1 downtime 5-8 duration_s=3 reason=down state=down",
			},
		},
		{
			name: "emit_open: every interval opens and closes",
			cfg:  func(c *StateConfig) { c.EmitOpen = true },
			in:   []eventsIn{stateIn(0, "running"), stateIn(5, "down"), stateIn(7, "running")},
			want: []string{
				"m1 state 0-open state=running",
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-open state=down",
				"m1 downtime 5-open reason=down state=down",
				"m1 state 5-7 duration_s=2 state=down",
				"m1 downtime 5-7 duration_s=2 reason=down state=down",
				"m1 state 7-open state=running",
			},
		},
		{
			name: "gap beyond max_gap in the data: interval ends at the last point",
			cfg:  func(c *StateConfig) { c.MaxGap = 10 * time.Second },
			in: []eventsIn{stateIn(0, "running"), eventsPt(stateTestPower, 5, uns.Float(3)),
				stateIn(30, "running"), stateIn(35, "down")},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 30-35 duration_s=5 state=running",
			},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "gap beyond max_gap from Tick, once",
			cfg:  func(c *StateConfig) { c.MaxGap = 10 * time.Second },
			in:   []eventsIn{stateIn(0, "running"), stateIn(5, "down"), stateIn(6, "down"), eventsTick(10), eventsTick(16), eventsTick(30)},
			want: []string{
				"m1 state 0-5 duration_s=5 state=running",
				"m1 state 5-6 duration_s=1 state=down",
				"m1 downtime 5-6 duration_s=1 reason=down state=down",
			},
			wantStats: map[string]uint64{"gaps": 1},
		},
		{
			name: "rules on a process value, first match wins; bad values skipped",
			cfg:  powerRules,
			in: []eventsIn{
				eventsPt(stateTestPower, 0, uns.Float(10)), eventsPt(stateTestPower, 1, uns.Float(12)),
				eventsPt(stateTestPower, 4, uns.Float(2)), eventsPt("f/a/l/m1/temp_c", 5, uns.Float(50)),
				eventsPt(stateTestPower, 6, uns.Float(0.1)), eventsPt(stateTestPower, 9, uns.Float(8)),
				eventsPt(stateTestPower, 10, uns.String("n/a")), eventsPt(stateTestPower, 11, uns.Float(math.Inf(1))),
				eventsPt(stateTestPower, 12, uns.Float(9)),
			},
			want: []string{
				"m1 state 0-4 duration_s=4 state=running",
				"m1 state 4-6 duration_s=2 state=idle",
				"m1 state 6-9 duration_s=3 state=down",
				"m1 downtime 6-9 duration_s=3 reason=down state=down",
			},
			wantSkip: map[pipeline.Reason]uint64{pipeline.WrongType: 1, pipeline.NonFinite: 1},
		},
		{
			name: "rules on two tags: a rule needs its tag's value",
			cfg: func(c *StateConfig) {
				c.Rules = []StateRule{
					{State: "down", Tag: "power_kw", Op: "<", Value: 0.5},
					{State: "running", Tag: "speed", Op: ">=", Value: 100},
				}
			},
			in: []eventsIn{eventsPt(stateTestPower, 0, uns.Float(5)), eventsPt("f/a/l/m1/speed", 1, uns.Int(1000)),
				eventsPt(stateTestPower, 3, uns.Float(0.1)), eventsPt("f/a/l/m1/speed", 4, uns.Int(1200)), eventsPt(stateTestPower, 6, uns.Float(4))},
			want: []string{
				"m1 state 0-1 duration_s=1 state=idle",
				"m1 state 1-3 duration_s=2 state=running",
				"m1 state 3-6 duration_s=3 state=down",
				"m1 downtime 3-6 duration_s=3 reason=down state=down",
			},
		},
		{
			name: "assets are independent",
			in: []eventsIn{stateIn(0, "running"), eventsPt("f/a/l/m2/state", 0, uns.String("down")),
				stateIn(3, "idle"), eventsPt("f/a/l/m2/state", 4, uns.String("running"))},
			want: []string{
				"m1 state 0-3 duration_s=3 state=running",
				"m2 state 0-4 duration_s=4 state=down",
				"m2 downtime 0-4 duration_s=4 reason=down state=down",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultStateConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			op, err := NewState(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := eventsRun(op, tt.in)
			eventsDiff(t, "events", eventsFormat(r.events), tt.want)
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

func stateTicks(in []eventsIn) int {
	n := 0
	for _, i := range in {
		if i.tick {
			n++
		}
	}
	return n
}

func TestStateCodeTag(t *testing.T) {
	cfg := DefaultStateConfig()
	cfg.CodeTag = "state_code"
	cfg.Pass = false
	cfg.MaxGap = time.Minute
	op, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := eventsRun(op, []eventsIn{stateIn(0, "running"), stateIn(1, "running"), stateIn(2, "down"), stateIn(3, "setup"), eventsTick(100)})
	eventsDiff(t, "points", eventsPoints(r.points, ""), []string{
		"f/a/l/m1/state_code@0=1", "f/a/l/m1/state_code@2=4", "f/a/l/m1/state_code@3=3", "f/a/l/m1/state_code@3=0",
	})
}

func TestStateConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*StateConfig)
		want string // substring of the error; "" for valid
	}{
		{"defaults", func(*StateConfig) {}, ""},
		{"empty tag", func(c *StateConfig) { c.Tag = "" }, "tag:"},
		{"tag with slash", func(c *StateConfig) { c.Tag = "a/b" }, "tag:"},
		{"reason tag is state tag", func(c *StateConfig) { c.ReasonTag = "state" }, "reason_tag:"},
		{"map to unknown state", func(c *StateConfig) { c.Map = map[string]string{"3": "broken"} }, `map["3"]`},
		{"rule state", func(c *StateConfig) { c.Rules = []StateRule{{State: "off", Tag: "p", Op: ">"}} }, "rules[0].state:"},
		{"rule op", func(c *StateConfig) {
			c.Rules = []StateRule{{State: "running", Tag: "p", Op: ">"}, {State: "idle", Tag: "p", Op: "=>"}}
		}, "rules[1].op:"},
		{"rule tag", func(c *StateConfig) { c.Rules = []StateRule{{State: "running", Tag: "", Op: ">"}} }, "rules[0].tag:"},
		{"rules default", func(c *StateConfig) {
			c.Rules = []StateRule{{State: "running", Tag: "p", Op: ">"}}
			c.Default = "off"
		}, "default:"},
		{"downtime state", func(c *StateConfig) { c.DowntimeStates = []string{"down", "broken"} }, "downtime_states[1]:"},
		{"code tag", func(c *StateConfig) { c.CodeTag = "a b" }, "code_tag:"},
		{"max gap", func(c *StateConfig) { c.MaxGap = -1 }, "max_gap:"},
		{"clock reset", func(c *StateConfig) { c.ClockReset = 0 }, "clock_reset:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultStateConfig()
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

func BenchmarkState(b *testing.B) {
	op, err := NewState(DefaultStateConfig())
	if err != nil {
		b.Fatal(err)
	}
	benchEventsOperator(b, op)
}
