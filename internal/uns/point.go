package uns

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a Value.
type Kind uint8

// The value kinds. The zero Kind is invalid so that an unset Value is detectable.
const (
	KindInvalid Kind = iota
	KindFloat
	KindInt
	KindBool
	KindString
)

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
	return "invalid"
}

// Value is a float64, int64, bool or string. It is a small value type so
// that batches of points are one allocation.
type Value struct {
	kind Kind
	bits uint64 // float64 bits, int64, or 0/1 for bool
	str  string
}

// Float returns a float Value.
func Float(f float64) Value { return Value{kind: KindFloat, bits: math.Float64bits(f)} }

// Int returns an integer Value.
func Int(i int64) Value { return Value{kind: KindInt, bits: uint64(i)} }

// Bool returns a boolean Value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.bits = 1
	}
	return v
}

// String returns a string Value.
func String(s string) Value { return Value{kind: KindString, str: s} }

// Kind reports the type of v.
func (v Value) Kind() Kind { return v.kind }

// AsFloat returns v as float64: floats as they are, ints converted, bools as
// 0 or 1. ok is false for strings and invalid values.
func (v Value) AsFloat() (f float64, ok bool) {
	switch v.kind {
	case KindFloat:
		return math.Float64frombits(v.bits), true
	case KindInt:
		return float64(int64(v.bits)), true
	case KindBool:
		return float64(v.bits), true
	}
	return 0, false
}

// Int returns the integer of an int Value (0 otherwise).
func (v Value) Int() int64 {
	if v.kind == KindInt {
		return int64(v.bits)
	}
	return 0
}

// Bool returns the boolean of a bool Value (false otherwise).
func (v Value) Bool() bool { return v.kind == KindBool && v.bits == 1 }

// Str returns the string of a string Value ("" otherwise).
func (v Value) Str() string { return v.str }

// Float64 returns the float of a float Value (0 otherwise).
func (v Value) Float64() float64 {
	if v.kind == KindFloat {
		return math.Float64frombits(v.bits)
	}
	return 0
}

// String formats v the way JSON would show it.
func (v Value) String() string {
	switch v.kind {
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 64)
	case KindInt:
		return strconv.FormatInt(int64(v.bits), 10)
	case KindBool:
		return strconv.FormatBool(v.bits == 1)
	case KindString:
		return strconv.Quote(v.str)
	}
	return "invalid"
}

// Any returns v as float64, int64, bool or string, for JSON encoding.
func (v Value) Any() any {
	switch v.kind {
	case KindFloat:
		return math.Float64frombits(v.bits)
	case KindInt:
		return int64(v.bits)
	case KindBool:
		return v.bits == 1
	case KindString:
		return v.str
	}
	return nil
}

// Quality says how far a value can be trusted, as OPC UA and Sparkplug do.
type Quality uint8

// The qualities. Good is the zero value: a point without a stated quality is good.
const (
	Good Quality = iota
	Uncertain
	Bad
)

func (q Quality) String() string {
	switch q {
	case Good:
		return "good"
	case Uncertain:
		return "uncertain"
	case Bad:
		return "bad"
	}
	return "quality(" + strconv.Itoa(int(q)) + ")"
}

// ParseQuality parses "good", "uncertain" or "bad".
func ParseQuality(s string) (Quality, error) {
	switch s {
	case "good":
		return Good, nil
	case "uncertain":
		return Uncertain, nil
	case "bad":
		return Bad, nil
	}
	// A copy, so that s does not escape: decoders pass views of payloads.
	return 0, fmt.Errorf("quality %q: want good, uncertain or bad", strings.Clone(s))
}

// Point is one value of one series at one time.
type Point struct {
	Series  string  // UNS path, validated by ParsePath
	TS      int64   // unix nanoseconds
	Value   Value   // never KindInvalid once accepted
	Quality Quality // Good unless stated
}
