package operator

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
)

// fenced returns the bodies of the ```lang blocks of a Markdown text.
func fenced(md, lang string) []string {
	var blocks []string
	var cur *strings.Builder
	for line := range strings.SplitSeq(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// TestDocExamples loads every YAML example of docs/pipelines.md and runs it
// on the page's sample input, as 'molen pipeline test' would.
func TestDocExamples(t *testing.T) {
	md, err := os.ReadFile("../../docs/pipelines.md")
	if err != nil {
		t.Fatal(err)
	}
	inputs := fenced(string(md), "jsonl")
	if len(inputs) != 1 {
		t.Fatalf("docs/pipelines.md has %d jsonl blocks, want the one sample input", len(inputs))
	}
	examples := fenced(string(md), "yaml")
	if len(examples) < 7 {
		t.Fatalf("found %d yaml examples in docs/pipelines.md, want at least 7", len(examples))
	}
	for i, ex := range examples {
		def, err := pipeline.Parse([]byte(ex))
		if err != nil {
			t.Errorf("example %d does not load: %v\n%s", i+1, err, ex)
			continue
		}
		// An example is something to copy: it must not lose data silently.
		for _, w := range def.Warnings() {
			t.Errorf("example %d warns: %s\n%s", i+1, w, ex)
		}
		var out bytes.Buffer
		stats, err := pipeline.Replay(def, strings.NewReader(inputs[0]), &out)
		if err != nil {
			t.Errorf("example %d does not run: %v\n%s", i+1, err, ex)
			continue
		}
		var in uint64
		for _, p := range stats.Pipelines {
			in += p.In
		}
		if in == 0 {
			t.Errorf("example %d took none of the sample input: make the sample show it\n%s", i+1, ex)
		}
	}
}

// TestDocErrorExample checks the error messages the page shows.
func TestDocErrorExample(t *testing.T) {
	_, err := pipeline.Parse([]byte(`
pipelines:
  - match: "#"
    stages:
      - map: {serie: x}
      - filter: {if: "true"}
      - window: {size: 0s}
  - match: "#"
    output: hub
    stages: []
`))
	md, rerr := os.ReadFile("../../docs/pipelines.md")
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, line := range []string{
		"pipelines[0].stages[2].window.size: must be > 0",
		`pipelines[1].output: "hub": want forward, local or drop`,
		"pipelines[0].stages[0].map.serie: unknown field (want one of inputs, keep_inputs, on_error, series, tolerance, value)",
	} {
		if err == nil || !strings.Contains(err.Error(), line) {
			t.Errorf("loader error %v lacks %q", err, line)
		}
		if !strings.Contains(string(md), line) {
			t.Errorf("docs/pipelines.md no longer shows %q", line)
		}
	}
}
