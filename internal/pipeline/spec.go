package pipeline

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/yamlspec"
)

// ErrInvalidSpec is wrapped by every error of Parse and Load.
var ErrInvalidSpec = yamlspec.ErrInvalid

// Destination is where the results of a pipeline go.
type Destination uint8

// The destinations of a pipeline's results.
const (
	Forward Destination = iota // on to the hub (the default)
	Local                      // kept on the edge, not forwarded
	Drop                       // discarded: the pipeline is run for its events
)

func (d Destination) String() string {
	switch d {
	case Forward:
		return "forward"
	case Local:
		return "local"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("destination(%d)", uint8(d))
}

// Definition is a parsed and validated pipeline specification: the input
// of NewRunner and Runner.Reload.
type Definition struct {
	Pipelines []Pipeline
}

// Pipeline is one declared pipeline: the series it takes, its ordered
// stages and where its results go.
type Pipeline struct {
	Name   string
	Match  []Glob
	Stages []StageDef
	Output Destination
}

// StageDef is one stage of a pipeline: an operator kind and its decoded,
// validated config (the value the operator's Spec.New returned).
type StageDef struct {
	Operator string
	Config   Config
}

// Load reads and parses the pipeline specification in file.
func Load(file string) (*Definition, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read pipeline specification: %w", err)
	}
	def, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return def, nil
}

// Parse decodes and validates a pipeline specification:
//
//	pipelines:
//	  - name: line1-temps          # optional; unique; default "pipelines[i]"
//	    match: ["acme/+/line1/+/temp"]  # UNS globs, see Glob
//	    output: forward            # forward (default) | local | drop
//	    stages:                    # run in order; each one operator
//	      - deadband: {absolute: 0.5}
//	      - window: {size: 1m, aggregates: [mean, max]}
//
// Unknown fields and bad values are errors naming their place, as in
// "pipelines[0].stages[1].window.size: must be > 0". All errors found are
// returned, joined, each wrapping ErrInvalidSpec.
func Parse(data []byte) (*Definition, error) {
	doc, err := yamlspec.Parse(data)
	if err != nil {
		return nil, err
	}
	d := &decoder{}
	def := d.definition(doc)
	if err := d.Err(); err != nil {
		return nil, err
	}
	return def, nil
}

// decoder decodes a pipeline specification; yamlspec.Decoder does the
// strict decoding and keeps the errors.
type decoder struct {
	yamlspec.Decoder
}

func (d *decoder) definition(doc *yaml.Node) *Definition {
	def := &Definition{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.Fail("", "empty specification: want a 'pipelines' list")
		return def
	}
	root := yamlspec.Deref(doc.Content[0])
	if !d.Mapping(root, "") {
		return def
	}
	var seen bool
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, yamlspec.Deref(root.Content[i+1])
		switch key {
		case "pipelines":
			seen = true
			if val.Kind != yaml.SequenceNode {
				d.Fail("pipelines", "want a list of pipelines")
				continue
			}
			names := map[string]string{}
			for j, n := range val.Content {
				path := fmt.Sprintf("pipelines[%d]", j)
				p := d.pipeline(yamlspec.Deref(n), path)
				if prev, dup := names[p.Name]; dup {
					d.Fail(path+".name", "%q is already the name of %s", p.Name, prev)
				}
				names[p.Name] = path
				def.Pipelines = append(def.Pipelines, p)
			}
		default:
			d.Fail(key, "unknown field (want pipelines)")
		}
	}
	if !seen {
		d.Fail("pipelines", "missing")
	}
	return def
}

func (d *decoder) pipeline(n *yaml.Node, path string) Pipeline {
	p := Pipeline{Name: path}
	if !d.Mapping(n, path) {
		return p
	}
	var hasMatch, hasStages bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, yamlspec.Deref(n.Content[i+1])
		kpath := path + "." + key
		switch key {
		case "name":
			if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
				d.Fail(kpath, "want a non-empty string")
				continue
			}
			p.Name = val.Value
		case "match":
			hasMatch = true
			var globs []string
			switch val.Kind {
			case yaml.ScalarNode:
				globs = []string{val.Value}
			case yaml.SequenceNode:
				for j, g := range val.Content {
					if g = yamlspec.Deref(g); g.Kind != yaml.ScalarNode {
						d.Fail(fmt.Sprintf("%s[%d]", kpath, j), "want a glob string")
						continue
					}
					globs = append(globs, g.Value)
				}
			default:
				d.Fail(kpath, "want a glob or a list of globs")
			}
			if len(globs) == 0 && val.Kind == yaml.SequenceNode {
				d.Fail(kpath, "must list at least one glob")
			}
			for j, s := range globs {
				g, err := ParseGlob(s)
				if err != nil {
					gp := kpath
					if val.Kind == yaml.SequenceNode {
						gp = fmt.Sprintf("%s[%d]", kpath, j)
					}
					d.Fail(gp, "%v", err)
					continue
				}
				p.Match = append(p.Match, g)
			}
		case "output":
			switch val.Value {
			case "forward":
				p.Output = Forward
			case "local":
				p.Output = Local
			case "drop":
				p.Output = Drop
			default:
				d.Fail(kpath, "%q: want forward, local or drop", val.Value)
			}
		case "stages":
			hasStages = true
			if val.Kind != yaml.SequenceNode {
				d.Fail(kpath, "want a list of stages")
				continue
			}
			for j, s := range val.Content {
				if sd, ok := d.stage(yamlspec.Deref(s), fmt.Sprintf("%s[%d]", kpath, j)); ok {
					p.Stages = append(p.Stages, sd)
				}
			}
		default:
			d.Fail(kpath, "unknown field (want name, match, output or stages)")
		}
	}
	if !hasMatch {
		d.Fail(path+".match", "missing: say which series the pipeline takes, e.g. \"site/+/+/+/temp\" or \"#\"")
	}
	if !hasStages {
		d.Fail(path+".stages", "missing")
	}
	return p
}

func (d *decoder) stage(n *yaml.Node, path string) (StageDef, bool) {
	name, cfg, ok := d.Component(n, path, "operator", "{window: {size: 10s}}", func(name string) (yamlspec.Validator, bool) {
		spec, ok := Lookup(name)
		if !ok {
			return nil, false
		}
		return spec.New(), true
	}, Operators())
	if !ok {
		return StageDef{}, false
	}
	return StageDef{Operator: name, Config: cfg.(Config)}, true
}

// Warnings lists what in def is valid but probably not meant: series whose
// values reach the hub in no form, because every pipeline that takes them
// keeps its results on the edge (output local) or discards them (output
// drop, run for its events), and no pipeline with output forward matches
// them. A point a pipeline takes does not pass on by itself, so such a
// pipeline silently stops the raw values. A drop pipeline without stages
// drops its series on purpose and is not reported.
func (def *Definition) Warnings() []string {
	var out []string
	for i, p := range def.Pipelines {
		if p.Output == Forward || (p.Output == Drop && len(p.Stages) == 0) {
			continue
		}
		var lost []string
		for _, g := range p.Match {
			if !def.forwards(g) {
				lost = append(lost, strconv.Quote(g.String()))
			}
		}
		if len(lost) == 0 {
			continue
		}
		where := fmt.Sprintf("pipelines[%d]", i)
		if p.Name != where {
			where += " (" + p.Name + ")"
		}
		kept := "keeps its results on the edge"
		if p.Output == Drop {
			kept = "discards its results"
		}
		out = append(out, fmt.Sprintf("%s: output %s %s, and no pipeline with output forward matches %s: "+
			"those series reach the hub in no form, not even as raw values; to forward them too, add a pipeline "+
			"{match: [%s], stages: []}", where, p.Output, kept, strings.Join(lost, ", "), strings.Join(lost, ", ")))
	}
	return out
}

// forwards reports whether a pipeline with output forward takes every
// series g matches.
func (def *Definition) forwards(g Glob) bool {
	for _, p := range def.Pipelines {
		if p.Output != Forward {
			continue
		}
		for _, f := range p.Match {
			if f.Covers(g) {
				return true
			}
		}
	}
	return false
}
