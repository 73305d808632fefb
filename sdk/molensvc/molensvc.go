package molensvc

import (
	"math"
	"strconv"
)

// ABI is the version of the module ABI this SDK implements.
const ABI = "molen-svc/1"

// Kind is the type of a Value.
type Kind uint8

// The value kinds, as encoded on the wire.
const (
	KindFloat  Kind = 1
	KindInt    Kind = 2
	KindBool   Kind = 3
	KindString Kind = 4
)

// Quality says how far a value can be trusted.
type Quality uint8

// The qualities, as encoded on the wire. Good is the zero value.
const (
	Good Quality = iota
	Uncertain
	Bad
)

// Value is a float64, int64, bool or string; Kind says which field holds it.
type Value struct {
	Kind Kind
	F    float64
	I    int64
	B    bool
	S    string
}

// Float returns a float Value.
func Float(f float64) Value { return Value{Kind: KindFloat, F: f} }

// Int returns an integer Value.
func Int(i int64) Value { return Value{Kind: KindInt, I: i} }

// Bool returns a boolean Value.
func Bool(b bool) Value { return Value{Kind: KindBool, B: b} }

// String returns a string Value.
func String(s string) Value { return Value{Kind: KindString, S: s} }

// Number returns v as a float64: ints converted, bools as 0 or 1. ok is
// false for strings and for NaN or ±Inf.
func (v Value) Number() (f float64, ok bool) {
	switch v.Kind {
	case KindFloat:
		f = v.F
	case KindInt:
		f = float64(v.I)
	case KindBool:
		if v.B {
			f = 1
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Point is one value of one series at one time (unix nanoseconds).
//
// In Process, a point's Series points into the input buffer, which the
// next batch overwrites: keep it beyond the call with strings.Clone. A map
// may be looked up with it, but not assigned to with it as the key, even
// a key already there (m[p.Series] = v, m[tag] += v): a Go map assignment
// stores the key it is given.
type Point struct {
	Series  string
	TS      int64
	Value   Value
	Quality Quality
}

// Event is something that happened to an asset over an interval; End is 0
// while it lasts.
type Event struct {
	Asset string
	Kind  string
	Start int64
	End   int64
	Attrs map[string]string
}

// Output collects what a service emits; the SDK empties it between calls.
type Output struct {
	Points []Point
	Events []Event
}

// Point appends a point.
func (o *Output) Point(series string, ts int64, v Value, q Quality) {
	o.Points = append(o.Points, Point{Series: series, TS: ts, Value: v, Quality: q})
}

// Event appends an event.
func (o *Output) Event(e Event) { o.Events = append(o.Events, e) }

func (o *Output) reset() {
	clear(o.Points)
	o.Points = o.Points[:0]
	clear(o.Events)
	o.Events = o.Events[:0]
}

// Service is what a module implements. The host calls Init once per start
// with the install's parameters (a JSON object), then Process for each
// batch of points (in arrival order) and Tick at least once a second with the host's
// clock (unix ns), so time passes without input. An error fails the batch:
// the host applies the install's failure policy to its points.
type Service interface {
	Init(params []byte) error
	Process(in []Point, out *Output) error
	Tick(now int64, out *Output) error
}

// Level is a log level.
type Level int32

// The log levels (slog's values).
const (
	Debug Level = -4
	Info  Level = 0
	Warn  Level = 4
	Error Level = 8
)

var registered Service

// Register makes s the module's service. Call it from an init function: a
// module built with -buildmode=c-shared does not run main.
func Register(s Service) {
	if registered != nil {
		panic("molensvc: Register called twice")
	}
	registered = s
}

func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}
