package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestOutputsGetThePipelinesOutput runs an edge with a pipeline and an
// influx output: the output receives what the pipeline kept, as the hub
// does, and the status shows the output's counters.
func TestOutputsGetThePipelinesOutput(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	got := func(prefix string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				n++
			}
		}
		return n
	}

	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pipe, outs := filepath.Join(dir, "pipeline.yaml"), filepath.Join(dir, "outputs.yaml")
	os.WriteFile(pipe, []byte("pipelines:\n  - name: rbe\n    match: f/m/temp\n    stages:\n      - deadband: {absolute: 10}\n"), 0o600)
	os.WriteFile(outs, []byte(fmt.Sprintf("outputs:\n  - influx: {url: %s, db: plant}\n", srv.URL)), 0o600)
	v.cfg.PipelineFile, v.cfg.OutputsFile = pipe, outs
	v.startEdge()
	dev := v.device(4)
	for _, x := range []string{"1", "2", "50", "51"} {
		publish(t, dev, "f/m/temp", []byte(x))
	}
	publish(t, dev, "f/m/other", []byte("7"))
	eventually(t, "the values at the hub and at the output", func() bool {
		return v.count("f/m/temp") == 2 && v.count("f/m/other") == 1 &&
			got("uns,path=f/m/temp,") == 2 && got("uns,path=f/m/other,") == 1
	})
	eventually(t, "the output's counters in the status", func() bool {
		st := v.edge.Status()
		return len(st.Outputs) == 1 && st.Outputs[0].Sent == 3 && st.Outputs[0].Pending == 0 && st.Outputs[0].State == "ok"
	})
}
