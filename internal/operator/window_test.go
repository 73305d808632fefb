package operator

import (
	"math"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		in    []uns.Point
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"tumbling aggregates", `{size: 10s, aggregates: [min, max, mean, sum, count, first, last, stddev, p50, p90]}`, []uns.Point{
			opI("m/t", 1, 4), opF("m/t", 2, 2), opF("m/t", 5, 8), opI("m/t", 9, 6), opF("m/t", 10, 100), // 10s closes [0,10)
		}, []string{"m/t/min_10s@0=2", "m/t/max_10s@0=8", "m/t/mean_10s@0=5", "m/t/sum_10s@0=20", "m/t/count_10s@0=4",
			"m/t/first_10s@0=4", "m/t/last_10s@0=6", "m/t/stddev_10s@0=2.5819888974716108", "m/t/p50_10s@0=5", "m/t/p90_10s@0=7.4"}, opSkips()},
		{"gaps give no empty windows; end of window at tick", `{size: 10s, aggregates: [count], timestamp: end}`, []uns.Point{
			opF("m/t", 1, 1), opF("m/t", 35, 1), opTick(44), opTick(45),
		}, []string{"m/t/count_10s@10=1", "m/t/count_10s@40=1"}, opSkips()},
		{"out of order within the window; worst quality", `{size: 10s, aggregates: [first, last, count]}`, []uns.Point{
			opF("m/t", 5, 5), opF("m/t", 2, 2), {Series: "m/t", TS: opAt(8), Value: uns.Float(8), Quality: uns.Uncertain}, opF("m/t", 7, 7), opTick(10),
		}, []string{"m/t/first_10s@0=2/uncertain", "m/t/last_10s@0=8/uncertain", "m/t/count_10s@0=4/uncertain"}, opSkips()},
		{"late beyond lateness is dropped", `{size: 10s, aggregates: [count], allowed_lateness: 5s}`, []uns.Point{
			opF("m/t", 1, 1), opF("m/t", 12, 1), opF("m/t", 9, 1), // in: the window [0,10) waits until 15
			opF("m/t", 15, 1), opF("m/t", 8, 1), // late: closed at 15
			opTick(30),
		}, []string{"m/t/count_10s@0=2", "m/t/count_10s@10=2"}, opSkips(pipeline.Late, 1)},
		{"sliding", `{type: sliding, size: 10s, hop: 5s, aggregates: [sum]}`, []uns.Point{
			opF("m/t", 1, 1), opF("m/t", 6, 10), opF("m/t", 11, 100), opTick(30),
		}, []string{"m/t/sum_10s_5s@-5=1", "m/t/sum_10s_5s@0=11", "m/t/sum_10s_5s@5=110", "m/t/sum_10s_5s@10=100"}, opSkips()},
		{"session with merge", `{type: session, gap: 5s, allowed_lateness: 5s, aggregates: [count, mean], timestamp: end}`, []uns.Point{
			opF("m/t", 0, 1), opF("m/t", 2, 2), opF("m/t", 10, 10), opF("m/t", 6, 6), // 6 joins [0,2] and [10]
			opF("m/t", 30, 7), opTick(40),
		}, []string{"m/t/count_session@10=4", "m/t/mean_session@10=4.75", "m/t/count_session@30=1", "m/t/mean_session@30=7"}, opSkips()},
		{"series are separate; strings, NaN and Inf skipped", `{size: 1m, aggregates: [count], series: "{asset}/{tag}_n"}`, []uns.Point{
			opF("m/a", 1, 1), opPt("m/a", 2, uns.String("x")), opF("m/b", 3, math.NaN()), opF("m/b", 4, 2), opF("m/a", 5, math.Inf(1)), opTick(60),
		}, []string{"m/a_n@0=1", "m/b_n@0=1"}, opSkips(pipeline.WrongType, 1, pipeline.NonFinite, 2)},
		{"clock set back: open windows flush, series restarts", `{size: 10s, aggregates: [count], clock_jump: 1m}`, []uns.Point{
			opF("m/t", 3600, 1), opF("m/t", 3601, 1), opF("m/t", 1, 1), opF("m/t", 2, 1), opF("m/t", 3, 1), opTick(10),
		}, []string{"m/t/count_10s@3600=2", "m/t/count_10s@0=3"}, opSkips()},
		{"clock jump off: it is just late", `{size: 10s, aggregates: [count], clock_jump: 0s}`, []uns.Point{
			opF("m/t", 3600, 1), opF("m/t", 1, 1), opTick(3610),
		}, []string{"m/t/count_10s@3600=1"}, opSkips(pipeline.Late, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "window", tt.cfg), tt.in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestWindowTickAfterClosePointIsLate(t *testing.T) {
	// A tick closes [0,10); a point for it arriving later must not reopen
	// the window and emit it twice.
	got, skips := opRun(opBuild(t, "window", `{size: 10s, aggregates: [count]}`), []uns.Point{
		opF("m/t", 1, 1), opTick(10), opF("m/t", 9, 1), opTick(20),
	})
	opCheck(t, got, skips, []string{"m/t/count_10s@0=1"}, opSkips(pipeline.Late, 1))
}

func TestPercentile(t *testing.T) {
	vals := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct{ q, want float64 }{{0, 1}, {50, 5.5}, {90, 9.1}, {95, 9.55}, {99, 9.91}, {100, 10}}
	for _, tt := range tests {
		if got := percentile(vals, tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("p%v = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := percentile([]float64{42}, 99); got != 42 {
		t.Errorf("p99 of one value = %v, want 42", got)
	}
}

func TestWindowConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "size: must be > 0"},
		{`{size: 0s}`, "size: must be > 0"},
		{`{size: -10s}`, "size: must be > 0"},
		{`{type: hopping, size: 1s}`, `type: "hopping": want tumbling, sliding or session`},
		{`{type: sliding, size: 10s}`, "hop: must be > 0"},
		{`{type: sliding, size: 10s, hop: 3s}`, "hop: must divide size (10s) evenly"},
		{`{size: 10s, hop: 5s}`, "hop: only for sliding windows"},
		{`{type: session}`, "gap: must be > 0"},
		{`{type: session, gap: 5s, size: 10s}`, "size: not for session windows (they last while points come less than gap apart)"},
		{`{size: 10s, gap: 5s}`, "gap: only for session windows"},
		{`{size: 10s, allowed_lateness: -1s}`, "allowed_lateness: must be ≥ 0"},
		{`{size: 10s, aggregates: []}`, "aggregates: list at least one"},
		{`{size: 10s, aggregates: [mean, median]}`, `aggregates[1]: "median": want min, max, mean, sum, count, first, last, stddev or a percentile p0…p100 like p95`},
		{`{size: 10s, aggregates: [p101]}`, `aggregates[0]: "p101": want min, max, mean, sum, count, first, last, stddev or a percentile p0…p100 like p95`},
		{`{size: 10s, aggregates: [max, max]}`, `aggregates[1]: "max" given twice`},
		{`{size: 10s, aggregates: [min, max], series: "{series}/agg"}`, `series: "{series}/agg": with several aggregates the name must contain {agg}`},
		{`{size: 10s, timestamp: middle}`, `timestamp: "middle": want start or end`},
		{`{size: 10s, aggregates: mean}`, "aggregates: want a list"},
		{`{size: 10s, lateness: 1s}`, "lateness: unknown field (want one of aggregates, allowed_lateness, clock_jump, gap, hop, series, size, timestamp, type)"},
	}
	for _, tt := range tests {
		if got := opBuildErr("window", tt.cfg); got != tt.want {
			t.Errorf("window %s:\n got  %q\n want %q", tt.cfg, got, tt.want)
		}
	}
}
