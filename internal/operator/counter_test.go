package operator

import (
	"math"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func opI(series string, sec float64, v int64) uns.Point { return opPt(series, sec, uns.Int(v)) }

func TestCounter(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		in    []uns.Point
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"rate per second", `{}`, []uns.Point{
			opI("m/parts", 0, 100), opI("m/parts", 2, 110), opI("m/parts", 3, 110), opI("m/parts", 5, 116),
		}, []string{"m/parts/rate@2=5", "m/parts/rate@3=0", "m/parts/rate@5=3"}, opSkips()},
		{"rate per minute, own name, keep input", `{per: 1m, series: "{asset}/{tag}_per_min", keep_input: true}`, []uns.Point{
			opI("m/parts", 0, 0), opI("m/parts", 30, 10),
		}, []string{"m/parts@0=0", "m/parts@30=10", "m/parts_per_min@30=20"}, opSkips()},
		{"delta keeps ints", `{mode: delta}`, []uns.Point{
			opI("m/parts", 0, 7), opI("m/parts", 1, 9), opF("m/kwh", 0, 1.5), opF("m/kwh", 1, 2.25),
		}, []string{"m/parts/delta@1=2", "m/kwh/delta@1=0.75"}, opSkips()},
		{"reset counts from zero", `{mode: delta}`, []uns.Point{
			opI("m/parts", 0, 500), opI("m/parts", 1, 510), opI("m/parts", 2, 3), opI("m/parts", 3, 8),
		}, []string{"m/parts/delta@1=10", "m/parts/delta@2=3", "m/parts/delta@3=5"}, opSkips()},
		{"16-bit rollover", `{mode: delta, rollover: 65536}`, []uns.Point{
			opI("m/parts", 0, 65530), opI("m/parts", 1, 4), opI("m/parts", 2, 20), opI("m/parts", 3, 2),
		}, []string{"m/parts/delta@1=10", "m/parts/delta@2=16", "m/parts/delta@3=2"}, opSkips()},
		{"out of order and repeated times are late", `{mode: delta}`, []uns.Point{
			opI("m/parts", 10, 100), opI("m/parts", 8, 90), opI("m/parts", 10, 101), opI("m/parts", 11, 103),
		}, []string{"m/parts/delta@11=3"}, opSkips(pipeline.Late, 2)},
		{"clock set back starts again", `{mode: delta, clock_jump: 1m}`, []uns.Point{
			opI("m/parts", 3600, 100), opI("m/parts", 3601, 102), opI("m/parts", 0, 103), opI("m/parts", 1, 106),
		}, []string{"m/parts/delta@3601=2", "m/parts/delta@1=3"}, opSkips()},
		{"strings, NaN and Inf are skipped", `{mode: delta}`, []uns.Point{
			opI("m/c", 0, 1), opPt("m/c", 1, uns.String("err")), opF("m/c", 2, math.NaN()), opF("m/c", 3, math.Inf(-1)), opI("m/c", 4, 5),
		}, []string{"m/c/delta@4=4"}, opSkips(pipeline.WrongType, 1, pipeline.NonFinite, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "counter", tt.cfg), tt.in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestCounterConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{mode: speed}`, `mode: "speed": want rate or delta`},
		{`{per: 0s}`, "per: must be > 0"},
		{`{rollover: -1}`, "rollover: must be a number ≥ 0"},
		{`{clock_jump: -1s}`, "clock_jump: must be ≥ 0"},
		{`{series: "{series}/{unit}"}`, `series: "{series}/{unit}": unknown placeholder {unit} (want one of {series}, {asset}, {tag}, {1…16}, {mode})`},
	}
	for _, tt := range tests {
		if got := opBuildErr("counter", tt.cfg); got != tt.want {
			t.Errorf("counter %s:\n got  %q\n want %q", tt.cfg, got, tt.want)
		}
	}
}
