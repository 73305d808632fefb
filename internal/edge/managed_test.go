package edge_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/uplink"
)

// manifest makes a manifest of version v with one pipeline called name.
func manifest(v uint64, name string) *uplink.Manifest {
	content := json.RawMessage(`{"match":["a/+/b/+/t"],"stages":[{"deadband":{"absolute":1}}]}`)
	parts := []uplink.Part{{Name: "pipeline/" + name, Kind: uplink.PartPipeline, Digest: uplink.PartDigest(content), Content: content}}
	return &uplink.Manifest{Edge: "e", Version: v, Parts: parts, Digest: uplink.ManifestDigest(parts)}
}

// An edge that stopped (killed, crashed) while a manifest was on trial
// starts with the one before it and says why; a stored manifest that does
// not verify is not run: the local files are.
func TestDesiredStateAtStart(t *testing.T) {
	for _, c := range []struct {
		name        string
		state       map[string]any
		wantVersion uint64
		wantPipes   []string
		wantError   string
	}{
		{"kept", map[string]any{"current": manifest(2, "two"), "previous": manifest(1, "one"), "highest": 2}, 2, []string{"two"}, ""},
		{"killed on trial", map[string]any{"current": manifest(2, "two"), "previous": manifest(1, "one"), "trial": true, "highest": 2},
			1, []string{"one"}, "version 2 rolled back: the edge stopped within its health window"},
		{"killed on the first trial", map[string]any{"current": manifest(1, "one"), "trial": true, "highest": 1}, 0, nil,
			"version 1 rolled back"},
		{"damaged", map[string]any{"current": func() *uplink.Manifest {
			m := manifest(2, "two")
			m.Parts[0].Content = json.RawMessage(`{"match":["#"],"stages":[]}`)
			return m
		}(), "highest": 2}, 0, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b, _ := json.Marshal(c.state)
			if err := os.WriteFile(filepath.Join(dir, "desired.json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := edge.Start(t.Context(), edge.Config{DataDir: dir, MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
				ManifestPoll: time.Hour, HubURL: "http://127.0.0.1:1", EnrollToken: "a-token-of-no-hub"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			st := e.Status()
			if st.Desired.Version != c.wantVersion {
				t.Errorf("runs version %d, want %d", st.Desired.Version, c.wantVersion)
			}
			var pipes []string
			for _, p := range st.Pipeline.Stats.Pipelines {
				pipes = append(pipes, p.Name)
			}
			if strings.Join(pipes, ",") != strings.Join(c.wantPipes, ",") {
				t.Errorf("runs pipelines %v, want %v", pipes, c.wantPipes)
			}
			if !strings.Contains(st.Desired.Error, c.wantError) || (c.wantError != "") != st.Desired.RolledBack {
				t.Errorf("error %q (rolled back %v), want %q", st.Desired.Error, st.Desired.RolledBack, c.wantError)
			}
		})
	}
}
