package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service"
)

// hubEvents is the answer of the hub's GET /api/v1/events.
type hubEvents struct {
	Events []struct {
		Asset string            `json:"asset"`
		Kind  string            `json:"kind"`
		Start int64             `json:"start"`
		End   int64             `json:"end"`
		Attrs map[string]string `json:"attrs"`
	} `json:"events"`
}

// copyPackage copies a service package's files to a new directory and
// builds its module there from the Go source in src.
func copyPackage(t *testing.T, manifestDir, src, module string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(manifestDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := service.BuildGo(t.Context(), src, filepath.Join(dir, module)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServiceStageReachesTheHub runs two services in a real edge's
// pipeline, fed by an MQTT device: the SPC service, whose points and
// "spc" event reach the hub, and a module that traps on every batch,
// whose points pass on unchanged to the hub (onFailure: pass) while the
// install stops after three failures.
func TestServiceStageReachesTheHub(t *testing.T) {
	spc := copyPackage(t, "../../services/spc", "../../services/spc", "spc.wasm", "margo.yaml", "LICENSE", "TERMS.md", "icon.svg")
	evil := copyPackage(t, "../service/testdata", "../service/testdata/evil", "module.wasm", "margo.yaml")
	v := start(t)
	spec := fmt.Sprintf(`pipelines:
  - name: quality
    match: "f/+/diameter"
    stages:
      - service: {package: %q, params: {mean: 20, sigma: 1}, state: %q}
  - name: broken
    match: "acme/+/temp"
    stages:
      - service: {package: %q, params: {mode: trap}}
`, spc, filepath.Join(t.TempDir(), "spc.state"), evil)
	v.restartWithPipeline(spec)
	dev := v.device(4)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	for i, x := range []float64{20.1, 19.8, 24.5} {
		publish(t, dev, "f/m/diameter", fmt.Appendf(nil, `{"value": %g, "ts": %d}`, x, t0+int64(i)*1000))
	}
	for i := range 5 { // one batch each: wait for each point at the hub
		publish(t, dev, "acme/m/temp", fmt.Appendf(nil, "%d", 60+i))
		eventually(t, "the point at the hub", func() bool { return v.count("acme/m/temp") == i+1 })
	}
	var out hubEvents
	eventually(t, "the spc event at the hub", func() bool {
		v.getJSON("/api/v1/events?asset=f/m&kind=spc&from=-2h", &out)
		return len(out.Events) == 1
	})
	if e := out.Events[0]; e.Start != t0+2000 || e.Attrs["rule"] != "1" || e.Attrs["value"] != "24.5" {
		t.Errorf("spc event %+v, want rule 1 for 24.5 at %d", e, t0+2000)
	}
	eventually(t, "every point at the hub", func() bool {
		return v.count("f/m/diameter") == 3 && v.count("acme/m/temp") == 5
	})
	// The edge's status reports the stopped install, per stage.
	var broken service.Report
	for _, ps := range v.edge.Status().Pipeline.Stats.Pipelines {
		if ps.Name == "broken" {
			broken, _ = ps.Stages[0].Detail.(service.Report)
		}
	}
	if s := broken.Stats; broken.ID != "test-service" || !s.Stopped || s.Failures != 3 || s.PassedOn != 5 {
		t.Errorf("the trapping install: %+v; want stopped after 3 failures, its 5 points passed on", broken)
	}
}
