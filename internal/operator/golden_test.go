package operator

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/pipelines")

// TestGoldenPipelines runs each testdata/pipelines/<case>/pipeline.yaml on
// its input.jsonl as 'molen pipeline test --explain' does, and compares the
// output and the explain table with want.golden. Run with -update to
// rewrite them after a deliberate change, and read the diff.
func TestGoldenPipelines(t *testing.T) {
	dirs, err := filepath.Glob("testdata/pipelines/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			def, err := pipeline.Load(filepath.Join(dir, "pipeline.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := os.Open(filepath.Join(dir, "input.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var got bytes.Buffer
			stats, err := pipeline.Replay(def, in, &got)
			if err != nil {
				t.Fatal(err)
			}
			got.WriteString("--- explain\n")
			if err := pipeline.WriteExplain(&got, stats); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n got:\n%s", file, got.String())
			}
		})
	}
}
