package connector

import (
	"fmt"
	"log/slog"
	"os"

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
	var d yamlspec.Decoder
	entries := d.List(data, "inputs", "input kind", "{modbus: {url: tcp://10.0.0.5:502, …}}",
		yamlspec.Configs(registry, func(s Spec) Config { return s.New() }), Kinds())
	if err := d.Err(); err != nil {
		return nil, err
	}
	out := make([]Configured, len(entries))
	for i, e := range entries {
		out[i] = Configured{Kind: e.Kind, Path: e.Path, Config: e.Config.(Config)}
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
