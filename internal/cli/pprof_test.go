package cli

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprofListener(t *testing.T) {
	addr, err := servePprof(t.Context(), "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("goroutine profile")) {
		t.Fatalf("GET goroutine profile: %s\n%.200s", resp.Status, body)
	}
}

// TestPprofFlag checks that edge and hub have --pprof, off by default.
func TestPprofFlag(t *testing.T) {
	for _, name := range []string{"edge", "hub"} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRoot(&out, &out)
			cmd, _, err := root.Find([]string{name})
			if err != nil || cmd == root {
				t.Skipf("molen %s is not in this build", name)
			}
			f := cmd.Flags().Lookup("pprof")
			if f == nil {
				t.Fatalf("molen %s has no --pprof", name)
			}
			if f.DefValue != "" || !strings.Contains(f.Usage, "pprof") {
				t.Errorf("--pprof default %q, usage %q: want off by default", f.DefValue, f.Usage)
			}
		})
	}
}
