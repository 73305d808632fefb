package pipeline

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalidSpec is wrapped by every error of Parse and Load.
var ErrInvalidSpec = errors.New("invalid pipeline specification")

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
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	d := &decoder{}
	def := d.definition(&doc)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return def, nil
}

// SpecError is one problem of a specification, at a path like
// "pipelines[0].stages[2].window.size".
type SpecError struct {
	Path string
	Msg  string
}

func (e *SpecError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap makes every SpecError match ErrInvalidSpec.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// maxErrors bounds the errors reported for one specification: past a few,
// more of them help nobody.
const maxErrors = 20

type decoder struct {
	errs []error
}

func (d *decoder) fail(path string, format string, args ...any) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, &SpecError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

func (d *decoder) definition(doc *yaml.Node) *Definition {
	def := &Definition{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.fail("", "empty specification: want a 'pipelines' list")
		return def
	}
	root := deref(doc.Content[0])
	if !d.mapping(root, "") {
		return def
	}
	var seen bool
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, deref(root.Content[i+1])
		switch key {
		case "pipelines":
			seen = true
			if val.Kind != yaml.SequenceNode {
				d.fail("pipelines", "want a list of pipelines")
				continue
			}
			names := map[string]string{}
			for j, n := range val.Content {
				path := fmt.Sprintf("pipelines[%d]", j)
				p := d.pipeline(deref(n), path)
				if prev, dup := names[p.Name]; dup {
					d.fail(path+".name", "%q is already the name of %s", p.Name, prev)
				}
				names[p.Name] = path
				def.Pipelines = append(def.Pipelines, p)
			}
		default:
			d.fail(key, "unknown field (want pipelines)")
		}
	}
	if !seen {
		d.fail("pipelines", "missing")
	}
	return def
}

func (d *decoder) pipeline(n *yaml.Node, path string) Pipeline {
	p := Pipeline{Name: path}
	if !d.mapping(n, path) {
		return p
	}
	var hasMatch, hasStages bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, deref(n.Content[i+1])
		kpath := path + "." + key
		switch key {
		case "name":
			if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
				d.fail(kpath, "want a non-empty string")
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
					if g = deref(g); g.Kind != yaml.ScalarNode {
						d.fail(fmt.Sprintf("%s[%d]", kpath, j), "want a glob string")
						continue
					}
					globs = append(globs, g.Value)
				}
			default:
				d.fail(kpath, "want a glob or a list of globs")
			}
			if len(globs) == 0 && val.Kind == yaml.SequenceNode {
				d.fail(kpath, "must list at least one glob")
			}
			for j, s := range globs {
				g, err := ParseGlob(s)
				if err != nil {
					gp := kpath
					if val.Kind == yaml.SequenceNode {
						gp = fmt.Sprintf("%s[%d]", kpath, j)
					}
					d.fail(gp, "%v", err)
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
				d.fail(kpath, "%q: want forward, local or drop", val.Value)
			}
		case "stages":
			hasStages = true
			if val.Kind != yaml.SequenceNode {
				d.fail(kpath, "want a list of stages")
				continue
			}
			for j, s := range val.Content {
				if sd, ok := d.stage(deref(s), fmt.Sprintf("%s[%d]", kpath, j)); ok {
					p.Stages = append(p.Stages, sd)
				}
			}
		default:
			d.fail(kpath, "unknown field (want name, match, output or stages)")
		}
	}
	if !hasMatch {
		d.fail(path+".match", "missing: say which series the pipeline takes, e.g. \"site/+/+/+/temp\" or \"#\"")
	}
	if !hasStages {
		d.fail(path+".stages", "missing")
	}
	return p
}

func (d *decoder) stage(n *yaml.Node, path string) (StageDef, bool) {
	if !d.mapping(n, path) {
		return StageDef{}, false
	}
	if len(n.Content) != 2 {
		d.fail(path, "want exactly one operator, like {window: {size: 10s}}")
		return StageDef{}, false
	}
	name, body := n.Content[0].Value, deref(n.Content[1])
	spec, ok := Lookup(name)
	if !ok {
		d.fail(path, "unknown operator %q (have %s)", name, strings.Join(Operators(), ", "))
		return StageDef{}, false
	}
	cfg := spec.New()
	opath := path + "." + name
	before := len(d.errs)
	d.decode(body, reflect.ValueOf(cfg), opath)
	if len(d.errs) > before {
		return StageDef{}, false
	}
	if err := cfg.Validate(); err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap() // errors.Join: one line each
		}
		for _, e := range errs {
			// Validate names the field first ("size: must be > 0"): join
			// it to the path with a dot rather than ": ".
			msg := e.Error()
			if field, rest, found := strings.Cut(msg, ": "); found && field != "" && !strings.ContainsAny(field, " \t\n") {
				d.fail(opath+"."+field, "%s", rest)
			} else {
				d.fail(opath, "%s", msg)
			}
		}
		return StageDef{}, false
	}
	return StageDef{Operator: name, Config: cfg}, true
}

func (d *decoder) mapping(n *yaml.Node, path string) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(path, "want a mapping (key: value)")
		return false
	}
	return true
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// decode decodes n into v strictly: a key that names no field is an error
// at its path, and so is a value of the wrong type. Fields absent from n
// keep the defaults v already holds.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "window:" with no body keeps the defaults
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if pt := reflect.PointerTo(v.Type()); pt.Implements(yamlUnmarshaler) || pt.Implements(textUnmarshaler) {
		d.leaf(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if !d.mapping(n, path) {
			return
		}
		fields := yamlFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			kpath := key
			if path != "" {
				kpath = path + "." + key
			}
			idx, ok := fields[key]
			if !ok {
				names := make([]string, 0, len(fields))
				for k := range fields {
					names = append(names, k)
				}
				slices.Sort(names)
				d.fail(kpath, "unknown field (want one of %s)", strings.Join(names, ", "))
				continue
			}
			if seen[key] {
				d.fail(kpath, "given twice")
				continue
			}
			seen[key] = true
			d.decode(n.Content[i+1], v.FieldByIndex(idx), kpath)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, "want a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if !d.mapping(n, path) {
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			d.leaf(n, v, path)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			kpath := path + "." + key
			if v.MapIndex(reflect.ValueOf(key).Convert(v.Type().Key())).IsValid() {
				d.fail(kpath, "given twice")
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(n.Content[i+1], e, kpath)
			v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
		}
	default:
		d.leaf(n, v, path)
	}
}

// leaf decodes a scalar with yaml's own rules and rewrites its error to
// name the path.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	if err := n.Decode(v.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if n.Kind == yaml.ScalarNode && errors.As(err, &te) {
			d.fail(path, "%q is not %s (line %d)", n.Value, describe(v.Type()), n.Line)
			return
		}
		d.fail(path, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
}

func describe(t reflect.Type) string {
	if t == durationType {
		return "a duration like 10s, 1m30s or 500ms"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

// yamlFields maps the YAML keys of struct type t to field indexes,
// following the yaml tags ("name", "-", ",inline"); an untagged field's key
// is its name in lower case, as yaml.v3 does.
func yamlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}
