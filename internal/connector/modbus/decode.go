package modbus

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/molen-io/molen/internal/uns"
)

// Type is how the words of a register are interpreted.
type Type uint8

// The types. Bool is the type of coils and discrete inputs; the others are
// register types of one (16-bit), two (32-bit) or four (64-bit) words.
const (
	typeInvalid Type = iota
	Bool
	Int16
	Uint16
	Int32
	Uint32
	Float32
	Float64
)

var typeNames = [...]string{
	typeInvalid: "invalid",
	Bool:        "bool",
	Int16:       "int16",
	Uint16:      "uint16",
	Int32:       "int32",
	Uint32:      "uint32",
	Float32:     "float32",
	Float64:     "float64",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", t)
}

// ParseType parses a type name as written in the config.
func ParseType(s string) (Type, error) {
	for t, name := range typeNames {
		if t != int(typeInvalid) && name == s {
			return Type(t), nil
		}
	}
	return typeInvalid, fmt.Errorf("unknown type %q (want bool, int16, uint16, int32, uint32, float32 or float64)", s)
}

// Words is the number of 16-bit registers a value of type t spans; 0 for
// Bool, which lives in the bit tables.
func (t Type) Words() int {
	switch t {
	case Int16, Uint16:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Float64:
		return 4
	}
	return 0
}

// Order is the byte and word order of a value. Modbus itself only says that
// a register travels big-endian; how a device lays a 32- or 64-bit value
// over several registers varies by vendor, and some swap the bytes of each
// register too. Vendors name the orders after the bytes of 0xAABBCCDD as
// they appear on the wire: ABCD, CDAB, BADC, DCBA.
type Order struct {
	ByteSwap     bool // bytes swapped within each register (byte_order: little)
	LowWordFirst bool // the least significant register first (word_order: low_first)
}

// The orders by their vendor names.
var (
	ABCD = Order{}                                   // the Modbus default: big-endian, high word first
	CDAB = Order{LowWordFirst: true}                 // word-swapped
	BADC = Order{ByteSwap: true}                     // byte-swapped
	DCBA = Order{ByteSwap: true, LowWordFirst: true} // little-endian throughout
)

// Decoding errors; a caller counts them by reason.
var (
	ErrShort     = errors.New("not enough words")
	ErrNotFinite = errors.New("not a finite number")
)

// Decode turns the words of one register value (each as read, a big-endian
// 16-bit register) into a raw value: int16, uint16, int32 and uint32 become
// uns.Int, float32 and float64 uns.Float. Words beyond t.Words() are ignored.
// NaN and infinities are returned as they are; the caller decides.
func Decode(words []uint16, t Type, o Order) (uns.Value, error) {
	n := t.Words()
	if n == 0 {
		return uns.Value{}, fmt.Errorf("decode %v from registers: not a register type", t)
	}
	if len(words) < n {
		return uns.Value{}, fmt.Errorf("decode %v: %w: have %d, need %d", t, ErrShort, len(words), n)
	}
	var u uint64
	for i := range n {
		w := words[i]
		if o.LowWordFirst {
			w = words[n-1-i]
		}
		if o.ByteSwap {
			w = bits.ReverseBytes16(w)
		}
		u = u<<16 | uint64(w)
	}
	switch t {
	case Int16:
		return uns.Int(int64(int16(u))), nil
	case Uint16:
		return uns.Int(int64(uint16(u))), nil
	case Int32:
		return uns.Int(int64(int32(u))), nil
	case Uint32:
		return uns.Int(int64(uint32(u))), nil
	case Float32:
		return uns.Float(float64(math.Float32frombits(uint32(u)))), nil
	default: // Float64
		return uns.Float(math.Float64frombits(u)), nil
	}
}

// Encode is the inverse of Decode: it returns the words a device with order
// o holds for v as type t. Ints must fit t; floats are rounded to float32 for
// Float32. Tests and simulators use it to fill registers.
func Encode(v uns.Value, t Type, o Order) ([]uint16, error) {
	var u uint64
	switch t {
	case Int16, Uint16, Int32, Uint32:
		if v.Kind() != uns.KindInt {
			return nil, fmt.Errorf("encode %v as %v: want an int", v, t)
		}
		i := v.Int()
		if lo, hi := intRange(t); i < lo || i > hi {
			return nil, fmt.Errorf("encode %d as %v: out of range", i, t)
		}
		u = uint64(i) & (1<<(16*t.Words()) - 1)
	case Float32, Float64:
		f, ok := v.AsFloat()
		if !ok {
			return nil, fmt.Errorf("encode %v as %v: want a number", v, t)
		}
		if t == Float32 {
			u = uint64(math.Float32bits(float32(f)))
		} else {
			u = math.Float64bits(f)
		}
	default:
		return nil, fmt.Errorf("encode as %v: not a register type", t)
	}
	n := t.Words()
	words := make([]uint16, n)
	for i := range n {
		w := uint16(u >> (16 * (n - 1 - i)))
		if o.ByteSwap {
			w = bits.ReverseBytes16(w)
		}
		if o.LowWordFirst {
			words[n-1-i] = w
		} else {
			words[i] = w
		}
	}
	return words, nil
}

func intRange(t Type) (lo, hi int64) {
	switch t {
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	default: // Uint32
		return 0, math.MaxUint32
	}
}
