package operator

import (
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func TestFilter(t *testing.T) {
	in := []uns.Point{
		opF("m/temp", 1, 5),
		opF("m/temp", 2, 15),
		opPt("m/temp", 3, uns.String("broken")),
		opPt("m/state", 4, uns.String("RUN")),
		{Series: "m/temp", TS: opAt(5), Value: uns.Int(20), Quality: uns.Bad},
		opPt("m/flag", 6, uns.Bool(true)),
	}
	tests := []struct {
		name  string
		cfg   string
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"threshold (true is 1)", `{if: "value > 10"}`, []string{"m/temp@2=15", "m/temp@5=20/bad"}, opSkips(pipeline.WrongType, 2)},
		{"threshold pass on error", `{if: "value > 10", on_error: pass}`,
			[]string{"m/temp@2=15", `m/temp@3="broken"`, `m/state@4="RUN"`, "m/temp@5=20/bad"}, opSkips(pipeline.WrongType, 2)},
		{"text", `{if: "text == 'RUN'"}`, []string{`m/state@4="RUN"`}, opSkips()},
		{"tag and quality", `{if: "tag == 'temp' && q == 'good'"}`, []string{"m/temp@1=5", "m/temp@2=15", `m/temp@3="broken"`}, opSkips()},
		{"series and ts", `{if: "series startsWith 'm/t' and ts % 2000 == 1000"}`, []string{"m/temp@1=5", `m/temp@3="broken"`, "m/temp@5=20/bad"}, opSkips()},
		// int() runs on expr's VM; a zero divisor is a run-time error there.
		{"run-time error", `{if: "int(value) % int(value - 15) == 0"}`, []string{"m/temp@5=20/bad"}, opSkips(pipeline.WrongType, 2, pipeline.EvalError, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "filter", tt.cfg), in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestFilterConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "if: empty expression"},
		{`{if: "value + 1"}`, "if: expected bool, but got float64"},
		{`{if: "value > ", on_error: drop}`, "if: unexpected token EOF (1:8)\n | value > \n | .......^"},
		{`{if: "nope > 1"}`, "if: unknown name nope (1:1)\n | nope > 1\n | ^"},
		{`{if: "value > 1", on_error: skip}`, `on_error: "skip": want drop or pass`},
		{`{if: "value > 1", else: 2}`, "else: unknown field (want one of if, on_error)"},
	}
	for _, tt := range tests {
		if got := opBuildErr("filter", tt.cfg); got != tt.want {
			t.Errorf("filter %s:\n got  %q\n want %q", tt.cfg, got, tt.want)
		}
	}
}
