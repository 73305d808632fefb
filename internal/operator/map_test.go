package operator

import (
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func TestMap(t *testing.T) {
	in := []uns.Point{
		opF("acme/h1/l1/press/power_w", 1, 1500),
		opPt("acme/h1/l1/press/power_w", 2, uns.Int(0)),
		opPt("acme/h1/l1/press/power_w", 3, uns.String("n/a")),
		opPt("acme/h1/l1/press/state", 4, uns.String("RUN")),
	}
	tests := []struct {
		name  string
		cfg   string
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"scale", `{value: "value / 1000", series: "{asset}/power_kw"}`,
			[]string{"acme/h1/l1/press/power_kw@1=1.5", "acme/h1/l1/press/power_kw@2=0"}, opSkips(pipeline.WrongType, 2)},
		{"rename only keeps any value", `{series: "plant/{2}/{tag}"}`,
			[]string{"plant/h1/power_w@1=1500", "plant/h1/power_w@2=0", `plant/h1/power_w@3="n/a"`, `plant/h1/state@4="RUN"`}, opSkips()},
		{"division by zero is non-finite", `{value: "1000 / value"}`,
			[]string{"acme/h1/l1/press/power_w@1=0.6666666666666666"}, opSkips(pipeline.NonFinite, 1, pipeline.WrongType, 2)},
		{"pass on error keeps the point", `{value: "1000 / value", on_error: pass}`,
			[]string{"acme/h1/l1/press/power_w@1=0.6666666666666666", "acme/h1/l1/press/power_w@2=0", `acme/h1/l1/press/power_w@3="n/a"`, `acme/h1/l1/press/state@4="RUN"`},
			opSkips(pipeline.NonFinite, 1, pipeline.WrongType, 2)},
		{"string to number", `{value: "text == 'RUN' ? 1 : 0", series: "{asset}/running"}`,
			[]string{"acme/h1/l1/press/running@1=0", "acme/h1/l1/press/running@2=0", "acme/h1/l1/press/running@3=0", "acme/h1/l1/press/running@4=1"}, opSkips()},
		{"bool result", `{value: "value > 100"}`,
			[]string{"acme/h1/l1/press/power_w@1=true", "acme/h1/l1/press/power_w@2=false"}, opSkips(pipeline.WrongType, 2)},
		{"string result on the VM", `{value: "upper(text)"}`,
			[]string{`acme/h1/l1/press/power_w@1=""`, `acme/h1/l1/press/power_w@2=""`, `acme/h1/l1/press/power_w@3="N/A"`, `acme/h1/l1/press/state@4="RUN"`}, opSkips()},
		{"name that is no path", `{series: "{6}/x"}`, []string{}, opSkips(pipeline.EvalError, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "map", tt.cfg), in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestMapJoin(t *testing.T) {
	const cfg = `{inputs: {u: voltage, i: meter/current}, value: "u * i", series: "{asset}/power", tolerance: 500ms}`
	tests := []struct {
		name  string
		cfg   string
		in    []uns.Point
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"pairs within tolerance", cfg + "", []uns.Point{
			opF("m1/voltage", 1, 230), opF("m1/meter/current", 1.2, 2), opF("m1/other", 1.3, 7),
			opF("m1/voltage", 2, 231), opF("m1/meter/current", 2, 3),
		}, []string{"m1/voltage@1=230", "m1/meter/current@1.2=2", "m1/power@1.2=460", "m1/other@1.3=7",
			"m1/voltage@2=231", "m1/meter/current@2=3", "m1/power@2=693"}, opSkips()},
		{"assets are separate; too far apart waits", `{inputs: {u: voltage, i: current}, value: "u * i", series: "{asset}/p", keep_inputs: false}`, []uns.Point{
			opF("a/voltage", 1, 10), opF("b/current", 1, 2), opF("a/current", 3, 3), opF("a/voltage", 3.5, 20), opF("b/voltage", 4, 5),
		}, []string{"a/p@3.5=60"}, opSkips()},
		{"late, string and NaN inputs are skipped", `{inputs: {u: voltage, i: current}, value: "u * i", series: "{asset}/p", keep_inputs: false}`, []uns.Point{
			opF("a/voltage", 2, 10), opF("a/voltage", 1, 99), opPt("a/current", 2, uns.String("x")), opF("a/current", 2, 1e308), opF("a/voltage", 2.1, 1e300), opF("a/current", 2.2, 4),
		}, []string{"a/p@2.2=4e+300"}, opSkips(pipeline.Late, 1, pipeline.WrongType, 1, pipeline.NonFinite, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "map", tt.cfg), tt.in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestMapConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "value: set value, series or both (or inputs)"},
		{`{value: "value *"}`, "value: unexpected token EOF (1:7)\n | value *\n | ......^"},
		{`{series: "{asset}/{unit}"}`, `series: "{asset}/{unit}": unknown placeholder {unit} (want one of {series}, {asset}, {tag}, {1…16})`},
		{`{inputs: {u: voltage}, series: "{asset}/p"}`, "value: required with inputs: the expression computing the new series"},
		{`{inputs: {u: voltage}, value: "u"}`, `series: required with inputs, like "{asset}/power"`},
		{`{inputs: {u: voltage}, value: "u", series: "{series}/p"}`, `series: "{series}/p": with inputs use {asset} or {1}…{16}, not {series}`},
		{`{inputs: {value: voltage}, value: "value", series: "{asset}/p"}`, "inputs.value: the name is taken by a built-in variable"},
		{`{inputs: {1u: voltage}, value: "1", series: "{asset}/p"}`, "inputs.1u: the name must be a letter or '_' followed by letters, digits or '_'"},
		{`{inputs: {u: "+/voltage"}, value: "u", series: "{asset}/p"}`, `inputs.u: "+/voltage" is not a path below the asset, like "voltage"`},
		{`{inputs: {u: v}, value: "u", series: "{asset}/p", tolerance: -1s}`, "tolerance: must be ≥ 0"},
		{`{value: "1", on_error: ignore}`, `on_error: "ignore": want drop or pass`},
	}
	for _, tt := range tests {
		if got := opBuildErr("map", tt.cfg); got != tt.want {
			t.Errorf("map %s:\n got  %q\n want %q", tt.cfg, got, tt.want)
		}
	}
}
