//go:build edgeonly

package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestEdgeOnly: the edge-only build has the edge's commands and none of
// the hub, the simulator or the demo.
func TestEdgeOnly(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"edge", "--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Run a molen edge") {
		t.Fatalf("edge --help: exit %d, %q %q", code, out.String(), errOut.String())
	}
	for _, cmd := range []string{"hub", "demo", "sim", "audit"} {
		out.Reset()
		errOut.Reset()
		if code := Main([]string{cmd, "--help"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `unknown command "`+cmd+`"`) {
			t.Errorf("%s --help in an edge-only build: exit %d, %q, want an unknown command", cmd, code, errOut.String())
		}
	}
	out.Reset()
	Main([]string{"--help"}, &out, &errOut)
	if !strings.Contains(out.String(), "edge-only build") || strings.Contains(out.String(), "molen demo") {
		t.Errorf("--help does not say it is an edge-only build:\n%s", out.String())
	}
}
