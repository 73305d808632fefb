package operator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

const alarmTestSeries = "f/a/l/m1/temp"

func alarmIn(sec, v float64) eventsIn { return eventsPt(alarmTestSeries, sec, uns.Float(v)) }

func alarmF(f float64) *float64 { return &f }

func TestAlarm(t *testing.T) {
	high80 := []AlarmLimit{{High: alarmF(80)}}
	tests := []struct {
		name      string
		cfg       func(*AlarmConfig)
		in        []eventsIn
		want      []string
		wantSkip  map[pipeline.Reason]uint64
		wantStats map[string]uint64
	}{
		{
			name: "raise once while out, clear when back",
			in:   []eventsIn{alarmIn(0, 70), alarmIn(1, 85), alarmIn(2, 90), alarmIn(3, 88), alarmIn(4, 70), alarmIn(5, 60)},
			want: []string{
				"m1 alarm 1-open limit=high value=85 severity=warning",
				"m1 alarm 1-4 limit=high value=85 clear_value=70 severity=warning",
			},
		},
		{
			name: "without deadband a value around the limit chatters",
			in:   []eventsIn{alarmIn(0, 81), alarmIn(1, 79), alarmIn(2, 81), alarmIn(3, 79)},
			want: []string{
				"m1 alarm 0-open limit=high value=81 severity=warning",
				"m1 alarm 0-1 limit=high value=81 clear_value=79 severity=warning",
				"m1 alarm 2-open limit=high value=81 severity=warning",
				"m1 alarm 2-3 limit=high value=81 clear_value=79 severity=warning",
			},
		},
		{
			name: "deadband: clears only below limit - deadband",
			cfg:  func(c *AlarmConfig) { c.Deadband = 5 },
			in:   []eventsIn{alarmIn(0, 81), alarmIn(1, 79), alarmIn(2, 81), alarmIn(3, 76), alarmIn(4, 74.9)},
			want: []string{
				"m1 alarm 0-open limit=high value=81 severity=warning",
				"m1 alarm 0-4 limit=high value=81 clear_value=74.9 severity=warning",
			},
		},
		{
			name: "delay_on: a short excursion does not raise; a long one raises at its start + delay",
			cfg:  func(c *AlarmConfig) { c.DelayOn = 10 * time.Second },
			in:   []eventsIn{alarmIn(0, 85), alarmIn(5, 85), alarmIn(6, 70), alarmIn(10, 85), alarmIn(15, 86), alarmIn(25, 87)},
			want: []string{"m1 alarm 20-open limit=high value=86 severity=warning"},
		},
		{
			name: "delay_on runs out on Tick without new input",
			cfg:  func(c *AlarmConfig) { c.DelayOn = 10 * time.Second },
			in:   []eventsIn{alarmIn(0, 85), eventsTick(5), eventsTick(9.9), eventsTick(12), eventsTick(30)},
			want: []string{"m1 alarm 10-open limit=high value=85 severity=warning"},
		},
		{
			name: "delay_off on Tick; a relapse during it restarts the wait",
			cfg:  func(c *AlarmConfig) { c.DelayOff = 10 * time.Second },
			in:   []eventsIn{alarmIn(0, 85), alarmIn(5, 70), alarmIn(8, 85), alarmIn(9, 70), eventsTick(18), eventsTick(19.5)},
			want: []string{
				"m1 alarm 0-open limit=high value=85 severity=warning",
				"m1 alarm 0-19 limit=high value=85 clear_value=70 severity=warning",
			},
		},
		{
			name: "low limit with deadband",
			cfg: func(c *AlarmConfig) {
				c.Limits = []AlarmLimit{{Name: "lo", Low: alarmF(10), Severity: "critical"}}
				c.Deadband = 1
			},
			in: []eventsIn{alarmIn(0, 12), alarmIn(1, 9), alarmIn(2, 10.5), alarmIn(3, 11.5)},
			want: []string{
				"m1 alarm 1-open limit=lo value=9 severity=critical",
				"m1 alarm 1-3 limit=lo value=9 clear_value=11.5 severity=critical",
			},
		},
		{
			name: "limits are independent: one open alarm per series and limit",
			cfg: func(c *AlarmConfig) {
				c.Limits = []AlarmLimit{{Name: "hi", High: alarmF(80)}, {Name: "hihi", High: alarmF(90), Severity: "critical"}}
			},
			in: []eventsIn{alarmIn(0, 85), alarmIn(1, 95), alarmIn(2, 96), alarmIn(3, 85), alarmIn(4, 70)},
			want: []string{
				"m1 alarm 0-open limit=hi value=85 severity=warning",
				"m1 alarm 1-open limit=hihi value=95 severity=critical",
				"m1 alarm 1-3 limit=hihi value=95 clear_value=85 severity=critical",
				"m1 alarm 0-4 limit=hi value=85 clear_value=70 severity=warning",
			},
		},
		{
			name: "series are independent",
			in:   []eventsIn{alarmIn(0, 85), eventsPt("f/a/l/m2/temp", 1, uns.Float(90)), alarmIn(2, 70)},
			want: []string{
				"m1 alarm 0-open limit=high value=85 severity=warning",
				"m2 alarm 1-open limit=high value=90 severity=warning",
				"m1 alarm 0-2 limit=high value=85 clear_value=70 severity=warning",
			},
		},
		{
			name: "NaN, strings and bad quality are skipped",
			in: []eventsIn{alarmIn(0, 85), alarmIn(1, math.NaN()), eventsPt(alarmTestSeries, 2, uns.String("x")),
				eventsPtQ(alarmTestSeries, 3, uns.Float(0), uns.Bad), alarmIn(4, 86)},
			want:      []string{"m1 alarm 0-open limit=high value=85 severity=warning"},
			wantSkip:  map[pipeline.Reason]uint64{pipeline.NonFinite: 1, pipeline.WrongType: 1},
			wantStats: map[string]uint64{"bad_quality": 1},
		},
		{
			name:     "out of order: a late value does not clear",
			in:       []eventsIn{alarmIn(0, 85), alarmIn(5, 86), alarmIn(4, 70)},
			want:     []string{"m1 alarm 0-open limit=high value=85 severity=warning"},
			wantSkip: map[pipeline.Reason]uint64{pipeline.Late: 1},
		},
		{
			name: "clock jumps back: pending delays restart at the new time",
			cfg: func(c *AlarmConfig) {
				c.DelayOn = 10 * time.Second
				c.ClockReset = time.Minute
			},
			in:        []eventsIn{alarmIn(100, 85), alarmIn(105, 85), alarmIn(0, 85), alarmIn(5, 85), alarmIn(10, 85)},
			want:      []string{"m1 alarm 10-open limit=high value=85 severity=warning"},
			wantStats: map[string]uint64{"clock_resets": 1, "late": 0},
		},
		{
			name: "tags: other series are not checked",
			cfg:  func(c *AlarmConfig) { c.Tags = []string{"temp"} },
			in:   []eventsIn{eventsPt("f/a/l/m1/power", 0, uns.Float(1000)), alarmIn(1, 81)},
			want: []string{"m1 alarm 1-open limit=high value=81 severity=warning"},
		},
		{
			name: "booleans are 0 and 1",
			cfg:  func(c *AlarmConfig) { c.Limits = []AlarmLimit{{Name: "tripped", High: alarmF(0.5)}} },
			in:   []eventsIn{eventsPt(alarmTestSeries, 0, uns.Bool(false)), eventsPt(alarmTestSeries, 1, uns.Bool(true)), eventsPt(alarmTestSeries, 2, uns.Bool(false))},
			want: []string{
				"m1 alarm 1-open limit=tripped value=1 severity=warning",
				"m1 alarm 1-2 limit=tripped value=1 clear_value=0 severity=warning",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultAlarmConfig()
			cfg.Limits = high80
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			op, err := NewAlarm(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := eventsRun(op, tt.in)
			eventsDiff(t, "events", eventsFormat(r.events, "limit", "value", "clear_value", "severity"), tt.want)
			for _, e := range r.events {
				if !strings.HasPrefix(e.Attrs["series"], e.Asset+"/") || e.Attrs["type"] == "" || e.Attrs["threshold"] == "" {
					t.Errorf("event %v: want series, type and threshold attributes", e)
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

func TestAlarmConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*AlarmConfig)
		want string
	}{
		{"valid", func(*AlarmConfig) {}, ""},
		{"no limits", func(c *AlarmConfig) { c.Limits = nil }, "limits:"},
		{"both high and low", func(c *AlarmConfig) { c.Limits = []AlarmLimit{{High: alarmF(1), Low: alarmF(0)}} }, "limits[0]:"},
		{"neither", func(c *AlarmConfig) { c.Limits = append(c.Limits, AlarmLimit{Name: "x"}) }, "limits[1]:"},
		{"NaN limit", func(c *AlarmConfig) { c.Limits = []AlarmLimit{{High: alarmF(math.NaN())}} }, "limits[0]:"},
		{"duplicate default names", func(c *AlarmConfig) { c.Limits = append(c.Limits, AlarmLimit{High: alarmF(90)}) }, "limits[1].name:"},
		{"severity too long", func(c *AlarmConfig) { c.Limits[0].Severity = strings.Repeat("x", 33) }, "limits[0].severity:"},
		{"deadband", func(c *AlarmConfig) { c.Deadband = -1 }, "deadband:"},
		{"delay on", func(c *AlarmConfig) { c.DelayOn = -1 }, "delay_on:"},
		{"delay off", func(c *AlarmConfig) { c.DelayOff = -1 }, "delay_off:"},
		{"tags", func(c *AlarmConfig) { c.Tags = []string{""} }, "tags[0]:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultAlarmConfig()
			c.Limits = []AlarmLimit{{High: alarmF(80)}}
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

// TestEventOperatorsRegistered checks that each operator is registered and
// that its defaults (plus what must be configured) build.
func TestEventOperatorsRegistered(t *testing.T) {
	complete := map[string]func(pipeline.Config){
		"oee":   func(c pipeline.Config) { c.(*OEEConfig).IdealCycleTime = time.Minute },
		"alarm": func(c pipeline.Config) { c.(*AlarmConfig).Limits = []AlarmLimit{{High: alarmF(1)}} },
	}
	for _, name := range []string{"state", "oee", "anomaly", "alarm"} {
		t.Run(name, func(t *testing.T) {
			spec, ok := pipeline.Lookup(name)
			if !ok {
				t.Fatalf("%s is not registered", name)
			}
			cfg := spec.New()
			if f := complete[name]; f != nil {
				f(cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
			op, err := spec.Build(cfg)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if _, ok := op.(pipeline.Waiter); !ok {
				t.Errorf("%s does not tell the runner how long it waits (pipeline.Waiter)", name)
			}
		})
	}
}

func BenchmarkAlarm(b *testing.B) {
	cfg := DefaultAlarmConfig()
	cfg.Limits = []AlarmLimit{{Name: "hi", High: alarmF(2.3)}, {Name: "lo", Low: alarmF(1.7)}}
	cfg.Deadband = 0.1
	cfg.DelayOn = 5 * time.Second
	cfg.DelayOff = 5 * time.Second
	cfg.Tags = []string{"vibration_mm_s", "spindle_temp_c", "power_kw"}
	op, err := NewAlarm(cfg)
	if err != nil {
		b.Fatal(err)
	}
	benchEventsOperator(b, op)
}

// TestEventOperatorsYAML parses configurations of the event operators with
// the pipeline loader (docs/pipelines.md's examples are run by
// TestDocExamples), and checks that bad values are reported with their path.
func TestEventOperatorsYAML(t *testing.T) {
	examples := []string{
		`pipelines:
  - name: machine-states
    match: ["demo-factory/+/+/+/#"]
    stages:
      - state:
          tag: state
          map: {"1": running, "2": idle, "3": setup, "4": down}
          downtime_states: [down, setup]
          reason_tag: reason
          code_tag: state_code
          max_gap: 2m
    output: forward
`,
		`pipelines:
  - name: compressor-states
    match: ["demo-factory/hall-a/line-1/compressor/#"]
    stages:
      - state:
          rules:
            - {state: running, tag: power_kw, op: ">", value: 20}
            - {state: idle, tag: power_kw, op: ">", value: 1}
          default: down
          code_tag: state_code
    output: forward
`,
		`pipelines:
  - name: oee
    match: ["demo-factory/+/+/+/#"]
    stages:
      - state: {code_tag: state_code}
      - oee:
          window: 1h
          lateness: 5s
          state_tag: state_code
          unplanned: [idle]
          ideal_cycle_times:
            - {asset: "+/+/+/cnc-mill", time: 48s}
            - {asset: "+/+/+/injection-press", time: 28s}
            - {asset: "+/+/+/packaging", time: 6s}
            - {asset: "+/+/+/compressor", time: 30s}
          max_gap: 2m
          details: true
    output: forward
`,
		`pipelines:
  - name: vibration-anomalies
    match: ["demo-factory/+/+/+/vibration_mm_s", "demo-factory/+/+/+/spindle_temp_c"]
    stages:
      - anomaly:
          method: mad
          window: 120
          warmup: 60
          threshold: 5
          clear_threshold: 2
          raise_count: 3
          clear_count: 10
          min_std: 0.01
          max_gap: 1m
    output: forward
`,
		`pipelines:
  - name: spindle-alarms
    match: ["demo-factory/+/+/cnc-mill/#"]
    stages:
      - alarm:
          tags: [spindle_temp_c]
          limits:
            - {name: hi, high: 55, severity: warning}
            - {name: hihi, high: 65, severity: critical}
            - {name: lo, low: 5, severity: warning}
          deadband: 1.5
          delay_on: 10s
          delay_off: 30s
    output: forward
`,
	}
	for i, y := range examples {
		if _, err := pipeline.Parse([]byte(y)); err != nil {
			t.Errorf("example %d: %v\n%s", i, err, y)
		}
	}
	bad := []struct{ yaml, want string }{
		{"pipelines:\n  - match: [\"a/#\"]\n    stages:\n      - state: {tag: state, colour: red}\n", "pipelines[0].stages[0].state.colour"},
		{"pipelines:\n  - match: [\"a/#\"]\n    stages:\n      - oee: {ideal_cycle_times: [{asset: \"+/m\", time: 0s}]}\n", "pipelines[0].stages[0].oee.ideal_cycle_times[0].time: must be > 0"},
		{"pipelines:\n  - match: [\"a/#\"]\n    stages:\n      - anomaly: {clear_threshold: 9}\n", "pipelines[0].stages[0].anomaly.clear_threshold:"},
		{"pipelines:\n  - match: [\"a/#\"]\n    stages:\n      - alarm: {limits: [{high: 1, low: 0}]}\n", "pipelines[0].stages[0].alarm.limits[0]:"},
		{"pipelines:\n  - match: [\"a/#\"]\n    stages:\n      - alarm: {limits: [{high: 1}], delay_on: soon}\n", "pipelines[0].stages[0].alarm.delay_on"},
	}
	for _, b := range bad {
		_, err := pipeline.Parse([]byte(b.yaml))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", b.yaml, err, b.want)
		}
	}
}
