package operator

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// Helpers of the tests of filter, map, deadband, counter and window.

const opT0 = int64(1_699_999_200_000_000_000) // a whole hour, in unix ns

func opAt(sec float64) int64 { return opT0 + int64(sec*1e9) }

func opPt(series string, sec float64, v uns.Value) uns.Point {
	return uns.Point{Series: series, TS: opAt(sec), Value: v}
}

func opF(series string, sec, v float64) uns.Point { return opPt(series, sec, uns.Float(v)) }

// opBuild builds one operator from its YAML config through the loader, as
// a pipeline would.
func opBuild(t testing.TB, name, cfg string) pipeline.Operator {
	t.Helper()
	def, err := pipeline.Parse([]byte(fmt.Sprintf("pipelines: [{match: '#', stages: [{%s: %s}]}]", name, cfg)))
	if err != nil {
		t.Fatalf("config %s: %v", cfg, err)
	}
	spec, _ := pipeline.Lookup(name)
	op, err := spec.Build(def.Pipelines[0].Stages[0].Config)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// opBuildErr returns the loader's error for an operator config.
func opBuildErr(name, cfg string) string {
	_, err := pipeline.Parse([]byte(fmt.Sprintf("pipelines: [{match: '#', stages: [{%s: %s}]}]", name, cfg)))
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "pipelines[0].stages[0]."+name+".")
}

// opTick in an input list stands for a Tick at that second.
func opTick(sec float64) uns.Point { return uns.Point{Series: "tick", TS: opAt(sec)} }

// opRun feeds in (points, one at a time, and ticks) to op and returns its
// output points formatted by opFmt and its skip counts.
func opRun(op pipeline.Operator, in []uns.Point) ([]string, [pipeline.NumReasons]uint64) {
	var out pipeline.Output
	for i := range in {
		if in[i].Series == "tick" {
			op.Tick(in[i].TS, &out)
			continue
		}
		op.Process(in[i:i+1], &out)
	}
	got := []string{}
	for _, p := range out.Points {
		got = append(got, opFmt(p))
	}
	return got, out.Skipped
}

// opFmt formats a point as series@seconds=value, with /q for a quality
// other than good.
func opFmt(p uns.Point) string {
	s := p.Series + "@" + strconv.FormatFloat(float64(p.TS-opT0)/1e9, 'f', -1, 64) + "=" + p.Value.String()
	if p.Quality != uns.Good {
		s += "/" + p.Quality.String()
	}
	return s
}

func opSkips(pairs ...any) [pipeline.NumReasons]uint64 {
	var s [pipeline.NumReasons]uint64
	for i := 0; i+1 < len(pairs); i += 2 {
		s[pairs[i].(pipeline.Reason)] = uint64(pairs[i+1].(int))
	}
	return s
}

func opCheck(t *testing.T, got []string, gotSkips [pipeline.NumReasons]uint64, want []string, wantSkips [pipeline.NumReasons]uint64) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("points\n got  %q\n want %q", got, want)
	}
	if gotSkips != wantSkips {
		t.Errorf("skipped %v, want %v (non_finite, wrong_type, late, eval_error)", gotSkips, wantSkips)
	}
}
