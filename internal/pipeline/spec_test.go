package pipeline

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	def, err := Parse([]byte(`
pipelines:
  - name: scaled
    match: ["a/+/temp", "b/#"]
    output: local
    stages:
      - test_scale: {by: 2, inner: {size: 3}}
      - test_hold:
  - match: c/d
    stages: []
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(def.Pipelines); got != 2 {
		t.Fatalf("got %d pipelines, want 2", got)
	}
	p := def.Pipelines[0]
	if p.Name != "scaled" || p.Output != Local || len(p.Match) != 2 || len(p.Stages) != 2 {
		t.Errorf("pipeline 0 = %+v", p)
	}
	if got := p.Stages[0].Config.(*scaleConfig); got.By != 2 || got.Inner.Size != 3 {
		t.Errorf("scale config = %+v, want by 2, inner.size 3", got)
	}
	if got := p.Stages[1].Config.(*holdConfig).Wait.String(); got != "1s" {
		t.Errorf("hold config kept default wait %s, want 1s", got)
	}
	if q := def.Pipelines[1]; q.Name != "pipelines[1]" || q.Output != Forward || len(q.Stages) != 0 {
		t.Errorf("pipeline 1 = %+v", q)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "pipelines: [", "YAML syntax, line 1, column 12: sequence end token ']' not found\n>  1 | pipelines: [\n                  ^"},
		{"empty", "", "empty specification: want a 'pipelines' list"},
		{"unknown top field", "pipeline: []", "pipeline: unknown field (want pipelines)\npipelines: missing"},
		{"no match", "pipelines: [{stages: []}]", `pipelines[0].match: missing: say which series the pipeline takes, e.g. "site/+/+/+/temp" or "#"`},
		{"bad glob", `pipelines: [{match: ["a/#/b"], stages: []}]`, `pipelines[0].match[0]: glob "a/#/b": '#' must be the last segment`},
		{"bad output", "pipelines: [{match: '#', output: hub, stages: []}]", `pipelines[0].output: "hub": want forward, local or drop`},
		{"unknown pipeline field", "pipelines: [{match: '#', stages: [], when: x}]", "pipelines[0].when: unknown field (want name, match, output or stages)"},
		{"duplicate name", "pipelines: [{name: a, match: '#', stages: []}, {name: a, match: '#', stages: []}]", `pipelines[1].name: "a" is already the name of pipelines[0]`},
		{"unknown operator", "pipelines: [{match: '#', stages: [{nope: {}}]}]", `pipelines[0].stages[0]: unknown operator "nope"`},
		{"two operators", "pipelines: [{match: '#', stages: [{test_scale: {}, test_hold: {}}]}]", "pipelines[0].stages[0]: want exactly one operator, like {window: {size: 10s}}"},
		{"unknown config field", "pipelines: [{match: '#', stages: [{test_scale: {by: 2, size: 3}}]}]", "pipelines[0].stages[0].test_scale.size: unknown field (want one of by, inner, wait)"},
		{"unknown nested field", "pipelines: [{match: '#', stages: [{test_scale: {inner: {sise: 3}}}]}]", "pipelines[0].stages[0].test_scale.inner.sise: unknown field (want one of size)"},
		{"wrong type", "pipelines: [{match: '#', stages: [{test_scale: {by: lots}}]}]", `pipelines[0].stages[0].test_scale.by: "lots" is not a number (line 1)`},
		{"int as duration", "pipelines: [{match: '#', stages: [{test_scale: {wait: 10}}]}]", `pipelines[0].stages[0].test_scale.wait: "10" is not a duration like 10s, 1m30s or 500ms (line 1)`},
		{"validate", "pipelines: [{match: '#', stages: [{test_scale: {}}, {test_scale: {}}, {test_hold: {wait: 0s}}]}]", "pipelines[0].stages[2].test_hold.wait: must be > 0"},
		{"validate nested", "pipelines: [{match: '#', stages: [{test_scale: {by: 1, inner: {size: -1}}}]}]", "pipelines[0].stages[0].test_scale.inner.size: must be > 0"},
		{"all errors", "pipelines: [{match: '#', stages: [{test_hold: {wait: 0s}}]}, {match: '#', output: x, stages: []}]",
			"pipelines[0].stages[0].test_hold.wait: must be > 0\npipelines[1].output: \"x\": want forward, local or drop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tt.want)
			}
			got := err.Error()
			if tt.name == "unknown operator" {
				got, _, _ = strings.Cut(got, " (have")
			}
			if got != tt.want {
				t.Errorf("error\n got  %s\n want %s", got, tt.want)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %v does not wrap ErrInvalidSpec", err)
			}
		})
	}
}

func TestWarningsRawValuesSwallowed(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings, one per warning
	}{
		{"local pipeline alone", `pipelines: [{name: as-number, match: "acme/+/+/+/state", output: local, stages: [{test_scale: {}}]}]`,
			[]string{`pipelines[0] (as-number): output local keeps its results on the edge, and no pipeline with output forward matches "acme/+/+/+/state"`}},
		{"drop pipeline for events", `pipelines: [{match: ["acme/#"], output: drop, stages: [{test_scale: {}}]}]`,
			[]string{`pipelines[0]: output drop discards its results, and no pipeline with output forward matches "acme/#": those series reach the hub in no form, not even as raw values; to forward them too, add a pipeline {match: ["acme/#"], stages: []}`}},
		{"forwarded by a broader pipeline", `pipelines: [{match: "acme/+/+/+/state", output: local, stages: [{test_scale: {}}]}, {match: "acme/#", stages: []}]`, nil},
		{"only partly forwarded", `pipelines: [{match: ["a/+/state", "a/+/temp"], output: drop, stages: [{test_scale: {}}]}, {match: "a/x/state", stages: []}, {match: "+/+/temp", stages: []}]`,
			[]string{`no pipeline with output forward matches "a/+/state"`}},
		{"drop without stages is deliberate", `pipelines: [{match: "acme/+/+/+/seq", output: drop, stages: []}]`, nil},
		{"forward pipelines", `pipelines: [{match: "#", stages: [{test_scale: {}}]}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := def.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d\n got  %s\n want …%s…", i, got[i], w)
				}
			}
		})
	}
}
