package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestFilesInputRestartBeforeJournal: the edge stores a dropped file's
// points and stops before the files input wrote its journal entry and
// moved the file (the state is made by moving the file back and removing
// the journal: the file unmoved, with its modification time, and no
// entry). Started again, the input reads the file again; the edge
// recognises its batch by its identity (folder, name, digest) and the hub
// stores the points once.
func TestFilesInputRestartBeforeJournal(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	drop := filepath.Join(t.TempDir(), "drop")
	if err := os.Mkdir(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := fmt.Sprintf(`inputs:
  - files:
      dir: %s
      series: plant/tester
      time_column: time
      settle: 0s
      poll_interval: 10ms
`, drop)
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	csv := "time,leak\n2026-03-01T08:00:00Z,0.25\n2026-03-01T08:00:30Z,0.5\n"
	if err := os.WriteFile(filepath.Join(drop, "run.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	done := filepath.Join(drop, "done", "run.csv")
	eventually(t, "the file read and moved", func() bool { _, err := os.Stat(done); return err == nil })
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	// The edge stopped after the write, before the journal and the move.
	if err := os.Rename(done, filepath.Join(drop, "run.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(drop, ".molen-files.journal")); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	eventually(t, "the file moved again", func() bool { _, err := os.Stat(done); return err == nil })
	// A marker file after it: once its point is at the hub, so is
	// everything before it.
	if err := os.WriteFile(filepath.Join(drop, "marker.csv"), []byte("time,marker\n2026-03-01T08:01:00Z,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marker at the hub", func() bool { return v.count("plant/tester/marker") == 1 })
	if got := v.count("plant/tester/leak"); got != 2 {
		t.Errorf("the hub has %d points of the file, want 2", got)
	}
	if st := v.edge.Status(); st.Ingest.ResendsSkipped != 1 {
		t.Errorf("resends_skipped %d, want 1 (the batch read again; else the case under test did not happen)", st.Ingest.ResendsSkipped)
	}
}
