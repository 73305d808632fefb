package edge

import (
	"context"
	"fmt"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"

	_ "github.com/molen-io/molen/internal/connector/files" // registers the input kinds
	_ "github.com/molen-io/molen/internal/connector/httpin"
	_ "github.com/molen-io/molen/internal/connector/modbus"
	_ "github.com/molen-io/molen/internal/connector/mqtt"
	_ "github.com/molen-io/molen/internal/connector/mtconnect"
	_ "github.com/molen-io/molen/internal/connector/opcua"
	_ "github.com/molen-io/molen/internal/connector/s7"
	_ "github.com/molen-io/molen/internal/connector/sparkplug"
	_ "github.com/molen-io/molen/internal/connector/vda5050"
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

// WriteMessages is Write for an input whose peer redelivers (the mqtt
// input): a message is recognised as a redelivery of one stored as a device
// resend is (see resend.go), and its points are not stored again. The
// others' points go into one record, which carries their identities.
func (s sink) WriteMessages(ctx context.Context, msgs []connector.Message) (int, error) {
	var (
		pts     []uns.Point
		ids     []resendID
		skipped int
	)
	for _, m := range msgs {
		if m.Session != "" {
			id := newResendID(m.Session, m.Packet, m.Topic, m.Payload)
			if s.e.resends.has(id) && stamped(m.Points, m.Received) {
				skipped++
				continue
			}
			ids = append(ids, id)
		}
		pts = append(pts, m.Points...)
	}
	if len(pts) > 0 {
		if err := s.e.accept(ctx, pts, ids...); err != nil {
			return 0, err
		}
	}
	s.e.metrics.resendsSkipped.Add(float64(skipped))
	return len(pts), nil
}

// WriteEvents stores events an input derives itself (a VDA 5050 vehicle's
// errors, a broken connection); they go to the outbox as they are, not
// through the pipeline, which works on points.
func (s sink) WriteEvents(ctx context.Context, evs []uns.Event) error {
	if len(evs) == 0 {
		return nil
	}
	for _, ev := range evs {
		if err := uns.ValidateEvent(ev); err != nil {
			return fmt.Errorf("event of %s: %w", ev.Asset, err)
		}
	}
	if _, err := s.e.outbox.Append(ctx, uplink.EncodeRecord(nil, nil, evs), len(evs)); err != nil {
		return fmt.Errorf("append events to outbox: %w", err)
	}
	s.e.metrics.events.Add(float64(len(evs)))
	return nil
}

// buildInputs makes the inputs of c (they start with the edge).
func (e *Edge) buildInputs(c config) error {
	for _, ci := range c.inputs {
		in, err := ci.Build(e.log)
		if err != nil {
			return err
		}
		e.inputs = append(e.inputs, managedInput{input: input{path: ci.Path, kind: ci.Kind, in: in}, digest: c.digest[ci.Path], conf: ci})
	}
	return nil
}

// InputStatus is an input as the status API shows it.
type InputStatus struct {
	Input string `json:"input"` // its place in the inputs file, inputs[i], or its name in the manifest, inputs.<name>
	Kind  string `json:"kind"`
	connector.Status
}

func (e *Edge) inputStatus() []InputStatus {
	e.inputsMu.Lock()
	defer e.inputsMu.Unlock()
	out := make([]InputStatus, len(e.inputs))
	for i, in := range e.inputs {
		out[i] = InputStatus{Input: in.path, Kind: in.kind, Status: in.in.Status()}
	}
	return out
}
