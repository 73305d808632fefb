package pipeline

import (
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/yamlspec"
)

// Stage transforms a batch of points. It may reuse pts' backing array for its
// result and must not keep pts after returning. Process is called from many
// device connections at once, so a Stage must be safe for concurrent use.
type Stage interface {
	Process(pts []uns.Point) []uns.Point
}

// Passthrough forwards every point unchanged.
type Passthrough struct{}

// Process returns pts.
func (Passthrough) Process(pts []uns.Point) []uns.Point { return pts }

// Event is something that happened to an asset over an interval: a machine
// state, a downtime, an alarm, an anomaly. End is 0 while it lasts. Once an
// operator has appended an Event to an Output, the Event and its Attrs map
// belong to the runner: the operator must not change them afterwards.
type Event = uns.Event

// Output collects what an operator emits. Operators append; the runner owns
// and resets the slices between batches, so appending does not allocate in
// steady state.
type Output struct {
	Points []uns.Point
	Events []Event
	// Skipped counts the input points the operator could not use, by
	// reason. Operators count with Skip; the runner adds the counts to the
	// stage's statistics.
	Skipped [NumReasons]uint64
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	o.Points = o.Points[:0]
	o.Events = o.Events[:0]
	o.Skipped = [NumReasons]uint64{}
}

// Skip counts one input point that the operator dropped (or passed on
// unprocessed) for reason r.
func (o *Output) Skip(r Reason) { o.Skipped[r]++ }

// Reason says why an operator skipped a point. Bad values never stop a
// pipeline: they are counted per stage and shown by 'molen pipeline test
// --explain' and the edge's statistics.
type Reason uint8

// The reasons an operator skips a point.
const (
	NonFinite  Reason = iota // a NaN or ±Inf value (in or computed)
	WrongType                // a value of a kind the operator cannot use, e.g. a string for a numeric operator
	Late                     // older than the operator accepts (behind a closed window, out of order)
	EvalError                // an expression or name template failed at run time
	NumReasons               // the number of reasons; not a reason
)

func (r Reason) String() string {
	switch r {
	case NonFinite:
		return "non_finite"
	case WrongType:
		return "wrong_type"
	case Late:
		return "late"
	case EvalError:
		return "eval_error"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Waiter is implemented by operators that hold data for a while before
// emitting what it causes: windows until they close, delays, timeouts.
// MaxWait is the longest such time after the last input; at the end of
// input the runner ticks at the last event time plus the sum of its
// stages' waits, so everything held comes out.
type Waiter interface {
	MaxWait() time.Duration
}

// Operator is one step of a pipeline. Operators are not safe for concurrent
// use: the runner calls one operator from one goroutine at a time.
//
// Process receives points in arrival order (per series in time order unless
// a device sends late data, which operators must handle) and appends what
// passes or results to out. Tick is called with the current time (unix ns)
// at least once a second, and at the end of input with the last event time
// plus the operator's largest wait, so windows close, heartbeats fire and
// timeouts expire without new input.
type Operator interface {
	Process(in []uns.Point, out *Output)
	Tick(now int64, out *Output)
}

// Config is an operator's typed configuration. Validate returns errors whose
// text names the field ("size: must be > 0"); the loader prefixes the path
// of the operator in the spec.
type Config interface {
	Validate() error
}

// Spec registers an operator kind.
type Spec struct {
	Name string        // the key in a pipeline stage, e.g. "deadband"
	Doc  string        // one line for --help and error messages
	New  func() Config // a pointer to a config holding the defaults; the loader decodes into it (unknown fields are errors)
	// Build makes an operator from a validated config (the value New returned).
	Build func(cfg Config) (Operator, error)
}

var registry = yamlspec.NewRegistry[Spec]("pipeline: operator")

// Register adds an operator kind; it panics on a duplicate or incomplete
// spec, as registration happens in init.
func Register(s Spec) { registry.Register(s.Name, s, s.New != nil && s.Build != nil) }

// Lookup returns the spec of an operator kind.
func Lookup(name string) (Spec, bool) { return registry.Lookup(name) }

// Operators lists the registered operator kinds by name.
func Operators() []string { return registry.Names() }
