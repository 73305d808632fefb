// Package yamlspec decodes YAML specifications (pipelines, edge inputs)
// into typed configurations strictly: unknown keys, values of the wrong type
// and failed validations are errors that name their place, like
// "pipelines[0].stages[2].window.size: must be > 0", all of them at once.
package yamlspec

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every Error.
var ErrInvalid = errors.New("invalid specification")

// Error is one problem of a specification, at a path like
// "pipelines[0].stages[2].window.size".
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap makes every Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// maxErrors bounds the errors reported for one specification: past a few,
// more of them help nobody.
const maxErrors = 20

// Decoder collects the errors of one specification.
type Decoder struct {
	errs []error
}

// Fail records an error at path.
func (d *Decoder) Fail(path string, format string, args ...any) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// Errs is how many errors were recorded so far.
func (d *Decoder) Errs() int { return len(d.errs) }

// Err joins the recorded errors, nil if none.
func (d *Decoder) Err() error { return errors.Join(d.errs...) }

// Validator is a configuration that checks itself; its errors name the
// field first ("size: must be > 0").
type Validator interface {
	Validate() error
}

// Component decodes n, which must be a mapping with exactly one key naming
// a registered component (an operator, an input kind), into the config
// lookup returns for that name, and validates it. kinds names the known
// components and example shows one ("{window: {size: 10s}}") for the error
// messages. It returns the name and the config, or ok false after recording
// the errors.
func (d *Decoder) Component(n *yaml.Node, path, what, example string, lookup func(name string) (Validator, bool), kinds []string) (name string, cfg Validator, ok bool) {
	n = Deref(n)
	if !d.Mapping(n, path) {
		return "", nil, false
	}
	if len(n.Content) != 2 {
		d.Fail(path, "want exactly one %s, like %s", what, example)
		return "", nil, false
	}
	name, body := n.Content[0].Value, Deref(n.Content[1])
	cfg, ok = lookup(name)
	if !ok {
		d.Fail(path, "unknown %s %q (have %s)", what, name, strings.Join(kinds, ", "))
		return "", nil, false
	}
	cpath := path + "." + name
	before := len(d.errs)
	d.Decode(body, reflect.ValueOf(cfg), cpath)
	if len(d.errs) > before {
		return "", nil, false
	}
	if !d.Validated(cfg, cpath) {
		return "", nil, false
	}
	return name, cfg, true
}

// Validated runs cfg.Validate and records its errors under path, one per
// joined error, joining a leading field name to the path with a dot.
func (d *Decoder) Validated(cfg Validator, path string) bool {
	err := cfg.Validate()
	if err == nil {
		return true
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap() // errors.Join: one line each
	}
	for _, e := range errs {
		msg := e.Error()
		if field, rest, found := strings.Cut(msg, ": "); found && field != "" && !strings.ContainsAny(field, " \t\n") {
			d.Fail(path+"."+field, "%s", rest)
		} else {
			d.Fail(path, "%s", msg)
		}
	}
	return false
}

// Mapping records an error unless n is a mapping.
func (d *Decoder) Mapping(n *yaml.Node, path string) bool {
	if n.Kind != yaml.MappingNode {
		d.Fail(path, "want a mapping (key: value)")
		return false
	}
	return true
}

// Deref follows YAML aliases.
func Deref(n *yaml.Node) *yaml.Node {
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

// Decode decodes n into v strictly: a key that names no field is an error
// at its path, and so is a value of the wrong type. Fields absent from n
// keep the defaults v already holds.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value, path string) {
	n = Deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "window:" with no body keeps the defaults
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.Decode(n, v.Elem(), path)
		return
	}
	if pt := reflect.PointerTo(v.Type()); pt.Implements(yamlUnmarshaler) || pt.Implements(textUnmarshaler) {
		d.leaf(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if !d.Mapping(n, path) {
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
				d.Fail(kpath, "unknown field (want one of %s)", strings.Join(names, ", "))
				continue
			}
			if seen[key] {
				d.Fail(kpath, "given twice")
				continue
			}
			seen[key] = true
			d.Decode(n.Content[i+1], v.FieldByIndex(idx), kpath)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Fail(path, "want a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.Decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if !d.Mapping(n, path) {
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
				d.Fail(kpath, "given twice")
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.Decode(n.Content[i+1], e, kpath)
			v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
		}
	default:
		d.leaf(n, v, path)
	}
}

// leaf decodes a scalar with yaml's own rules and rewrites its error to
// name the path.
func (d *Decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	if err := n.Decode(v.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if n.Kind == yaml.ScalarNode && errors.As(err, &te) {
			d.Fail(path, "%q is not %s (line %d)", n.Value, describe(v.Type()), n.Line)
			return
		}
		d.Fail(path, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
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
