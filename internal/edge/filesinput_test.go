package edge_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	// Written as a careful writer does with settle 0: under .part, then
	// renamed into place.
	if err := os.WriteFile(filepath.Join(drop, "marker.part"), []byte("time,marker\n2026-03-01T08:01:00Z,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(drop, "marker.part"), filepath.Join(drop, "marker.csv")); err != nil {
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

// TestHTTPInputToHub: a script POSTs a batch to the edge's http input; the
// 204 comes once the points are stored, and the hub gets them.
func TestHTTPInputToHub(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := "inputs:\n  - http: {listen: \"127.0.0.1:0\", token: t0ken}\n"
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	v.startEdge()
	eventually(t, "the input listening", func() bool { return inputStatus(v.edge).State == "connected" })
	url := "http://" + inputStatus(v.edge).Peer + "/points"
	req, _ := http.NewRequest("POST", url, strings.NewReader("plant/script/a 1\nplant/script/b {\"value\": true, \"ts\": 1772352000000}\n"))
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	if st := inputStatus(v.edge); st.Points != 2 {
		t.Errorf("input points %d after the 204, want 2", st.Points)
	}
	eventually(t, "the points at the hub", func() bool {
		return v.count("plant/script/a") == 1 && v.count("plant/script/b") == 1
	})
}
