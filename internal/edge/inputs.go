package edge

import (
	"context"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"

	_ "github.com/molen-io/molen/internal/connector/modbus" // registers the input kinds
	_ "github.com/molen-io/molen/internal/connector/mqtt"
	_ "github.com/molen-io/molen/internal/connector/opcua"
)

// input is a running connector input.
type input struct {
	path, kind string
	in         connector.Input
}

// sink is what the edge gives its inputs: Write returns once the points are
// in the outbox, so an input acknowledges its peer only for durable data.
type sink struct{ e *Edge }

func (s sink) Write(ctx context.Context, pts []uns.Point) error {
	return s.e.accept(ctx, pts)
}

// buildInputs makes the inputs of cfg.InputsFile.
func (e *Edge) buildInputs() error {
	conf, err := connector.LoadInputs(e.cfg.InputsFile)
	if err != nil {
		return err
	}
	for _, c := range conf {
		in, err := c.Build(e.log)
		if err != nil {
			return err
		}
		e.inputs = append(e.inputs, input{path: c.Path, kind: c.Kind, in: in})
	}
	return nil
}

// InputStatus is an input as the status API shows it.
type InputStatus struct {
	Input string `json:"input"` // its place in the inputs file, inputs[i]
	Kind  string `json:"kind"`
	connector.Status
}

func (e *Edge) inputStatus() []InputStatus {
	out := make([]InputStatus, len(e.inputs))
	for i, in := range e.inputs {
		out[i] = InputStatus{Input: in.path, Kind: in.kind, Status: in.in.Status()}
	}
	return out
}
