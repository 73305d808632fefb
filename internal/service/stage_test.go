package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
)

// spcPackage copies the SPC service's package (services/spc) to a
// temporary directory and builds its module there.
func spcPackage(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"margo.yaml", "LICENSE", "TERMS.md", "icon.svg"} {
		b, err := os.ReadFile(filepath.Join("../../services/spc", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := BuildGo(t.Context(), "../../services/spc", filepath.Join(dir, "spc.wasm")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSPCInPipeline runs the SPC service as a pipeline stage on recorded
// points, as `molen pipeline test` does: a stable process, then a shift
// of the mean that rule 4 (eight on one side) or 2 catches, then one
// point beyond 3σ (rule 1). The learned baseline is in the state file.
func TestSPCInPipeline(t *testing.T) {
	dir := spcPackage(t)
	state := filepath.Join(t.TempDir(), "spc.state")
	spec := fmt.Sprintf(`pipelines:
  - name: quality
    match: "acme/+/+/+/diameter"
    stages:
      - service: {package: %q, params: {baseline: 20}, state: %q}
`, dir, state)
	def, err := pipeline.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	ts := int64(1700000000000)
	emit := func(v float64) {
		fmt.Fprintf(&in, `{"series":"acme/hall1/line1/lathe/diameter","ts":%d,"value":%g}`+"\n", ts, v)
		ts += 1000
	}
	for i := range 20 { // baseline: mean 10, sigma about 0.1
		emit(10 + 0.1*float64(i%3-1)*1.2)
	}
	for range 5 { // in control
		emit(10.05)
		emit(9.95)
	}
	for range 8 { // the mean shifts up by 1σ
		emit(10.11)
	}
	emit(11) // far beyond 3σ
	var out bytes.Buffer
	stats, err := pipeline.Replay(def, &in, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var events []string
	points := 0
	for _, l := range lines {
		if strings.HasPrefix(l, `{"event"`) {
			events = append(events, l)
		} else {
			points++
		}
	}
	if points != 39 {
		t.Errorf("got %d points, want the 39 input points passed on", points)
	}
	if len(events) == 0 || !strings.Contains(events[len(events)-1], `"rule":"1"`) ||
		!strings.Contains(events[len(events)-1], `"value":"11"`) {
		t.Fatalf("events %v: want the last one rule 1 for value 11", events)
	}
	var rule4 bool
	for _, e := range events[:len(events)-1] {
		rule4 = rule4 || strings.Contains(e, `"rule":"4"`) || strings.Contains(e, `"rule":"3"`)
		if !strings.Contains(e, `"event":"spc","asset":"acme/hall1/line1/lathe"`) {
			t.Errorf("event %s: want kind spc on the lathe", e)
		}
	}
	if !rule4 {
		t.Errorf("events %v: want the shift caught by rule 3 or 4", events)
	}
	if st := stats.Pipelines[0].Stages[0]; st.Operator != "service" || st.In != 39 || st.Out != 39 {
		t.Errorf("stage stats %+v", st)
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), "baseline/acme/hall1/line1/lathe/diameter") {
		t.Errorf("state %s, %v: want the learned baseline", b, err)
	}
}

func TestStageConfigErrors(t *testing.T) {
	dir := spcPackage(t)
	for _, tc := range []struct{ stage, want string }{
		{`{}`, "pipelines[0].stages[0].service.package: missing"},
		{`{package: /nonexistent}`, "read service manifest"},
		{fmt.Sprintf(`{package: %q, params: {baseline: 2}}`, dir), "baseline: 2: want 5..10000"},
		{fmt.Sprintf(`{package: %q, params: {colour: red}}`, dir), "colour: unknown parameter (want one of baseline, mean, rules, sigma)"},
	} {
		_, err := pipeline.Parse([]byte(`pipelines: [{match: "#", stages: [{service: ` + tc.stage + `}]}]`))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.stage, err, tc.want)
		}
	}
}

// TestReloadKeepsUnchangedStage checks that a pipeline reload keeps an
// unchanged service stage running (its module is not restarted).
func TestReloadKeepsUnchangedStage(t *testing.T) {
	dir := spcPackage(t)
	spec := []byte(fmt.Sprintf(`pipelines: [{name: q, match: "#", stages: [{service: {package: %q, params: {mean: 1, sigma: 1}}}]}]`, dir))
	def, err := pipeline.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.NewRunner(def, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Process(points(3))
	again, _ := pipeline.Parse(spec)
	if err := r.Reload(again); err != nil {
		t.Fatal(err)
	}
	r.Process(points(3))
	rep := r.Stats().Pipelines[0].Stages[0].Detail.(Report)
	if rep.Stats.Starts != 1 || rep.Stats.In != 6 {
		t.Errorf("after a reload: %+v; want one start and 6 points in", rep.Stats)
	}
}
