package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testPipelineSpec has a window pipeline (output points), a state pipeline
// run for its events (output: drop) and a local one; the seq series matches
// no pipeline and passes through.
const testPipelineSpec = `pipelines:
  - name: temps
    match: "acme/+/+/+/temp"
    stages:
      - window: {size: 10s, aggregates: [mean, max]}
  - name: states
    match: "acme/+/+/+/state"
    output: drop
    stages:
      - state: {}
  - name: running
    match: "acme/+/+/+/state"
    output: local
    stages:
      - map: {value: "text == 'running' ? 1 : 0", series: "{asset}/running"}
`

const testPipelineInput = `# a comment line, then a blank line

{"series":"acme/hall1/line1/press/temp","ts":1700000000000,"value":20.0}
{"series":"acme/hall1/line1/press/state","ts":1700000000000,"value":"running"}
{"series":"acme/hall1/line1/press/temp","ts":1700000001000,"value":23.0}
{"series":"acme/hall1/line1/press/seq","ts":1700000001000,"value":7}
{"series":"acme/hall1/line1/press/state","ts":1700000005000,"value":"down"}
{"series":"acme/hall1/line1/press/temp","ts":1700000012000,"value":30.5,"q":"uncertain"}
{"series":"acme/hall1/line1/press/state","ts":1700000020000,"value":"running"}
`

// runPipelineTest writes spec and input into a temporary directory and runs
// `molen pipeline test` on them with the extra arguments.
func runPipelineTest(t *testing.T, spec, input string, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pipeline.yaml")
	in := filepath.Join(dir, "points.jsonl")
	if err := os.WriteFile(cfg, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := append([]string{"pipeline", "test", "--config", cfg, "--input", in}, extra...)
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPipelineTestOutput(t *testing.T) {
	code, stdout, stderr := runPipelineTest(t, testPipelineSpec, testPipelineInput)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// Both pipelines on state keep their results off the hub, and nothing
	// forwards the raw states: said, not silently done.
	wantWarnings := "warning: pipelines[1] (states): output drop discards its results, and no pipeline with output forward matches \"acme/+/+/+/state\"" +
		": those series reach the hub in no form, not even as raw values; to forward them too, add a pipeline {match: [\"acme/+/+/+/state\"], stages: []}\n" +
		"warning: pipelines[2] (running): output local keeps its results on the edge, and no pipeline with output forward matches \"acme/+/+/+/state\"" +
		": those series reach the hub in no form, not even as raw values; to forward them too, add a pipeline {match: [\"acme/+/+/+/state\"], stages: []}\n"
	if stderr != wantWarnings {
		t.Errorf("stderr without --explain:\n%s\nwant the warnings:\n%s", stderr, wantWarnings)
	}
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := []string{
		// Running from 0 s, local.
		`{"series":"acme/hall1/line1/press/running","ts":1700000000000,"value":1,"q":"good","to":"local"}`,
		// seq matches no pipeline: unchanged (an integer stays an integer).
		`{"series":"acme/hall1/line1/press/seq","ts":1700000001000,"value":7,"q":"good"}`,
		`{"series":"acme/hall1/line1/press/running","ts":1700000005000,"value":0,"q":"good","to":"local"}`,
		// The state changed at 5 s: the running interval 0–5 s closes.
		`{"event":"state","asset":"acme/hall1/line1/press","start":1700000000000,"end":1700000005000,"attrs":{"duration_s":"5","state":"running"}}`,
		// The window 0–10 s closes with the point at 12 s.
		`{"series":"acme/hall1/line1/press/temp/mean_10s","ts":1700000000000,"value":21.5,"q":"good"}`,
		`{"series":"acme/hall1/line1/press/temp/max_10s","ts":1700000000000,"value":23.0,"q":"good"}`,
		// The tick at 20 s, before the point at 20 s, closes the window
		// 10–20 s; its quality is the worst of its points.
		`{"series":"acme/hall1/line1/press/temp/mean_10s","ts":1700000010000,"value":30.5,"q":"uncertain"}`,
		`{"series":"acme/hall1/line1/press/temp/max_10s","ts":1700000010000,"value":30.5,"q":"uncertain"}`,
		`{"series":"acme/hall1/line1/press/running","ts":1700000020000,"value":1,"q":"good","to":"local"}`,
		// Running again at 20 s: the down interval closes, and is downtime.
		// The running interval from 20 s stays open: not emitted.
		`{"event":"state","asset":"acme/hall1/line1/press","start":1700000005000,"end":1700000020000,"attrs":{"duration_s":"15","state":"down"}}`,
		`{"event":"downtime","asset":"acme/hall1/line1/press","start":1700000005000,"end":1700000020000,"attrs":{"duration_s":"15","reason":"down","state":"down"}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPipelineTestExplain(t *testing.T) {
	code, stdout, stderr := runPipelineTest(t, testPipelineSpec, testPipelineInput, "--explain")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "mean_10s") {
		t.Errorf("--explain changed the output:\n%s", stdout)
	}
	// Each row: its label, then in, out and events (and skips).
	want := [][]string{
		{"pipeline", "stage", "in", "out", "events", "non_finite", "wrong_type", "late", "eval_error"},
		{"temps", "→", "forward", "3", "4", "0", "0", "0", "0", "0"},
		{"0", "window", "3", "4", "0", "0", "0", "0", "0"},
		{"states", "→", "drop", "3", "3", "3", "0", "0", "0", "0"},
		{"0", "state", "3", "3", "3", "0", "0", "0", "0"},
		{"running", "→", "local", "3", "3", "0", "0", "0", "0", "0"},
		{"0", "map", "3", "3", "0", "0", "0", "0", "0"},
		{"(no", "pipeline)", "→", "forward", "1", "1"},
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("--explain printed %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, line := range lines {
		if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("--explain line %d: %q, want fields %q", i+1, line, want[i])
		}
	}
}

func TestPipelineTestErrors(t *testing.T) {
	tests := []struct {
		name        string
		spec, input string
		want        []string // in stderr
	}{
		{
			name: "bad value",
			spec: "pipelines:\n  - match: \"acme/#\"\n    stages:\n      - deadband: {}\n      - window: {size: 0s}\n",
			want: []string{"pipeline.yaml: ", "pipelines[0].stages[1].window.size: must be > 0"},
		},
		{
			name: "unknown field",
			spec: "pipelines:\n  - match: \"acme/#\"\n    stages:\n      - map: {serie: \"{asset}/x\"}\n",
			want: []string{"pipeline.yaml: ", "pipelines[0].stages[0].map.serie: unknown field"},
		},
		{
			name: "unknown operator",
			spec: "pipelines:\n  - match: \"acme/#\"\n    stages:\n      - smooth: {}\n",
			want: []string{"pipeline.yaml: ", `pipelines[0].stages[0]: unknown operator "smooth"`},
		},
		{
			name:  "bad input line",
			spec:  testPipelineSpec,
			input: "{\"series\":\"acme/hall1/line1/press/temp\",\"ts\":1700000000000,\"value\":20.0}\n\n{\"series\":\"acme/hall1/line1/press/temp\",\"ts\":1700000001000,\"value\":}\n",
			want:  []string{"input line 3"},
		},
		{
			name:  "input line without ts",
			spec:  testPipelineSpec,
			input: "# recorded\n{\"series\":\"acme/hall1/line1/press/temp\",\"value\":20.0}\n",
			want:  []string{"input line 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runPipelineTest(t, tt.spec, tt.input)
			if code == 0 {
				t.Fatalf("exit 0, want an error mentioning %q", tt.want)
			}
			if _, last, _ := strings.Cut(stderr, "\nmolen: "); last != "" {
				stderr = "molen: " + last // after the specification's warnings
			}
			if !strings.HasPrefix(stderr, "molen: ") {
				t.Errorf("stderr %q, want it to start with \"molen: \"", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q, want it to mention %q", stderr, w)
				}
			}
		})
	}
}

func TestPipelineTestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	var errOut bytes.Buffer
	code := Main([]string{"pipeline", "test", "--config", filepath.Join(dir, "none.yaml")}, &bytes.Buffer{}, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "none.yaml") {
		t.Errorf("missing config: exit %d, stderr %q, want an error naming the file", code, errOut.String())
	}
	errOut.Reset()
	code = Main([]string{"pipeline", "test", "--input", filepath.Join(dir, "points.jsonl")}, &bytes.Buffer{}, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "config") {
		t.Errorf("no --config: exit %d, stderr %q, want an error about --config", code, errOut.String())
	}
}
