package connector

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/yamlspec"
)

// Configured is one input of an inputs file: its kind, its place in the
// file, and its validated config.
type Configured struct {
	Kind   string
	Path   string // "inputs[2]"
	Config Config
}

// LoadInputs reads an inputs file:
//
//	inputs:
//	  - modbus: {url: tcp://10.0.0.5:502, registers: [...]}
//	  - opcua:  {...}
//
// Unknown kinds, unknown fields and bad values are errors naming their
// place ("inputs[1].modbus.unit_id: must be 1..247"), all at once.
func LoadInputs(file string) ([]Configured, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("inputs file: %w", err)
	}
	ins, err := ParseInputs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ins, nil
}

// ParseInputs is LoadInputs on the file's content.
func ParseInputs(data []byte) ([]Configured, error) {
	doc, err := yamlspec.Parse(data)
	if err != nil {
		return nil, err
	}
	var d yamlspec.Decoder
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.Fail("", "empty: want an 'inputs' list")
		return nil, d.Err()
	}
	root := yamlspec.Deref(doc.Content[0])
	if !d.Mapping(root, "") {
		return nil, d.Err()
	}
	var out []Configured
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, yamlspec.Deref(root.Content[i+1])
		if key != "inputs" {
			d.Fail(key, "unknown field (want inputs)")
			continue
		}
		found = true
		if val.Kind != yaml.SequenceNode {
			d.Fail("inputs", "want a list of inputs")
			continue
		}
		for j, n := range val.Content {
			path := "inputs[" + strconv.Itoa(j) + "]"
			kind, cfg, ok := d.Component(n, path, "input kind", "{modbus: {url: tcp://10.0.0.5:502, …}}",
				func(name string) (yamlspec.Validator, bool) {
					spec, ok := Lookup(name)
					if !ok {
						return nil, false
					}
					return spec.New(), true
				}, Kinds())
			if ok {
				out = append(out, Configured{Kind: kind, Path: path, Config: cfg.(Config)})
			}
		}
	}
	if !found {
		d.Fail("inputs", "missing")
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Build makes the Input of a configured input.
func (c Configured) Build(log *slog.Logger) (Input, error) {
	spec, ok := Lookup(c.Kind)
	if !ok {
		return nil, fmt.Errorf("%s: unknown input kind %q", c.Path, c.Kind)
	}
	in, err := spec.Build(c.Config, log.With("input", c.Path, "kind", c.Kind))
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", c.Path, c.Kind, err)
	}
	return in, nil
}
