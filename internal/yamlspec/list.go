package yamlspec

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// Entry is one component of a list file: its name (the kind), its place
// ("inputs[2]") and its validated config.
type Entry struct {
	Kind, Path string
	Config     Validator
}

// List decodes a file whose only key, key, holds a list of components
// (the edge's inputs and outputs files):
//
//	inputs:
//	  - modbus: {url: tcp://10.0.0.5:502, registers: [...]}
//
// what names a component ("input kind") and example shows one, for the
// errors; lookup and kinds are as for Component. Every problem is recorded
// in d, by its place; List returns the entries that decoded.
func (d *Decoder) List(data []byte, key, what, example string, lookup func(name string) (Validator, bool), kinds []string) []Entry {
	doc, err := Parse(data)
	if err != nil {
		d.errs = append(d.errs, err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.Fail("", "empty: want an '%s' list", key)
		return nil
	}
	root := Deref(doc.Content[0])
	if !d.Mapping(root, "") {
		return nil
	}
	var out []Entry
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, val := root.Content[i].Value, Deref(root.Content[i+1])
		if k != key {
			d.Fail(k, "unknown field (want %s)", key)
			continue
		}
		found = true
		if val.Kind != yaml.SequenceNode {
			d.Fail(key, "want a list of %s", key)
			continue
		}
		for j, n := range val.Content {
			path := key + "[" + strconv.Itoa(j) + "]"
			if kind, cfg, ok := d.Component(n, path, what, example, lookup, kinds); ok {
				out = append(out, Entry{Kind: kind, Path: path, Config: cfg})
			}
		}
	}
	if !found {
		d.Fail(key, "missing")
	}
	return out
}
