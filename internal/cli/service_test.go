package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMolen(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestServiceInitBuildTest walks docs/services.md's walk-through: init a
// package outside any Go module (its go.mod replaces molen with this
// checkout), build its module, and test it on its sample points.
func TestServiceInitBuildTest(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "limit-alarm")
	if code, _, errOut := runMolen(t, "service", "init", dir, "--sdk", repo); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(gomod), "replace github.com/molen-io/molen => "+repo) {
		t.Errorf("go.mod:\n%s", gomod)
	}
	if code, _, errOut := runMolen(t, "service", "init", dir); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("a second init: code %d, %s; want a refusal to overwrite", code, errOut)
	}
	code, out, errOut := runMolen(t, "service", "build", dir)
	if code != 0 || !strings.Contains(out, "limit-alarm 0.1.0") {
		t.Fatalf("build: %d %s %s", code, out, errOut)
	}
	input := filepath.Join(dir, "points.jsonl")
	code, out, errOut = runMolen(t, "service", "test", "--package", dir, "--input", input, "--params", `{"limit": 70}`, "--explain")
	if code != 0 {
		t.Fatalf("test: %s", errOut)
	}
	want := `{"event":"limit","asset":"acme/hall1/line1/press","start":1700000001000,"end":1700000001000,"attrs":{"series":"acme/hall1/line1/press/temp","value":"72.5"}}`
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || lines[2] != want {
		t.Errorf("test output:\n%s\nwant 3 points and, third, %s", out, want)
	}
	if !strings.Contains(errOut, "0 service  3   3    1") || !strings.Contains(errOut, "0 failures") {
		t.Errorf("--explain:\n%s", errOut)
	}
	code, _, errOut = runMolen(t, "service", "test", "--package", dir, "--input", input)
	if code == 0 || !strings.Contains(errOut, "params: limit: required (Limit)") {
		t.Errorf("without params: code %d, %s", code, errOut)
	}
}

// TestServiceTestFails checks that `molen service test` fails when the
// module fails its calls, naming the failure: the module here emits an
// event kind its manifest does not declare.
func TestServiceTestFails(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	dir := filepath.Join(t.TempDir(), "liar")
	if code, _, errOut := runMolen(t, "service", "init", dir, "--sdk", repo); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	m, _ := os.ReadFile(filepath.Join(dir, "margo.yaml"))
	os.WriteFile(filepath.Join(dir, "margo.yaml"), bytes.Replace(m, []byte("events: [limit]"), []byte("events: [other]"), 1), 0o644)
	code, out, errOut := runMolen(t, "service", "test", "--build", "--package", dir,
		"--input", filepath.Join(dir, "points.jsonl"), "--params", `{"limit": 70}`)
	if code == 0 || !strings.Contains(errOut, `1 calls failed (1 points passed on unchanged); last: emitted event kind "limit", not declared`) {
		t.Errorf("code %d, stderr %s", code, errOut)
	}
	if strings.Count(out, `"series"`) != 3 || strings.Contains(out, `"event"`) {
		t.Errorf("output %s: want the 3 points passed on, no event", out)
	}
}
