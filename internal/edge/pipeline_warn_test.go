package edge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPipelineWarnsOfSwallowedSeries: a pipeline file whose local or drop
// pipelines keep series from the hub altogether is reported in the log and
// the status, and the warning goes once the file forwards them.
func TestPipelineWarnsOfSwallowedSeries(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, []byte("pipelines:\n  - name: alarms\n    match: \"f/#\"\n    output: drop\n    stages:\n      - alarm: {limits: [{high: 10}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.PipelineFile = file
	v.startEdge()
	const want = `pipelines[0] (alarms): output drop discards its results, and no pipeline with output forward matches "f/#"`
	if w := v.edge.Status().Pipeline.Warnings; len(w) != 1 || !strings.HasPrefix(w[0], want) {
		t.Errorf("status warnings %q, want one starting %q", w, want)
	}
	if !strings.Contains(v.logs.String(), "level=WARN msg=\"pipeline: "+strings.ReplaceAll(want, `"`, `\"`)) {
		t.Errorf("log has no warning %q:\n%s", want, v.logs.String())
	}

	// Forwarding the raw values as well ends the warning. The file's time
	// is moved on explicitly: the edge reloads on a changed modification
	// time, which a fast rewrite may not change.
	loaded := v.edge.Status().Pipeline.LoadedAt
	if err := os.WriteFile(file, []byte("pipelines:\n  - name: alarms\n    match: \"f/#\"\n    output: drop\n    stages:\n      - alarm: {limits: [{high: 10}]}\n  - name: raw\n    match: \"#\"\n    stages: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload of the pipeline file", func() bool { return v.edge.Status().Pipeline.LoadedAt.After(loaded) })
	if w := v.edge.Status().Pipeline.Warnings; len(w) != 0 {
		t.Errorf("warnings after the fix: %q, want none", w)
	}
}
