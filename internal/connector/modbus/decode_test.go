package modbus

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		words []uint16
		typ   Type
		order Order
		want  uns.Value
	}{
		{"int16 negative", []uint16{0xfffe}, Int16, ABCD, uns.Int(-2)},
		{"int16 byte-swapped", []uint16{0xfeff}, Int16, BADC, uns.Int(-2)},
		{"uint16 max", []uint16{0xffff}, Uint16, ABCD, uns.Int(65535)},
		{"uint16 ignores extra words", []uint16{0x0102, 0xffff}, Uint16, ABCD, uns.Int(0x0102)},
		{"int32 ABCD", []uint16{0xffff, 0xfffe}, Int32, ABCD, uns.Int(-2)},
		{"int32 CDAB", []uint16{0xfffe, 0xffff}, Int32, CDAB, uns.Int(-2)},
		{"uint32 ABCD", []uint16{0xaabb, 0xccdd}, Uint32, ABCD, uns.Int(0xaabbccdd)},
		{"uint32 CDAB", []uint16{0xccdd, 0xaabb}, Uint32, CDAB, uns.Int(0xaabbccdd)},
		{"uint32 BADC", []uint16{0xbbaa, 0xddcc}, Uint32, BADC, uns.Int(0xaabbccdd)},
		{"uint32 DCBA", []uint16{0xddcc, 0xbbaa}, Uint32, DCBA, uns.Int(0xaabbccdd)},
		{"float32 10 ABCD", []uint16{0x4120, 0x0000}, Float32, ABCD, uns.Float(10)},
		{"float32 10 CDAB", []uint16{0x0000, 0x4120}, Float32, CDAB, uns.Float(10)},
		{"float32 -1.5 DCBA", []uint16{0x0000, 0xc0bf}, Float32, DCBA, uns.Float(-1.5)},
		{"float64 1 ABCD", []uint16{0x3ff0, 0, 0, 0}, Float64, ABCD, uns.Float(1)},
		{"float64 1 CDAB", []uint16{0, 0, 0, 0x3ff0}, Float64, CDAB, uns.Float(1)},
		{"float64 1 DCBA", []uint16{0, 0, 0, 0xf03f}, Float64, DCBA, uns.Float(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.words, tt.typ, tt.order)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Decode = %v (%v), want %v (%v)", got, got.Kind(), tt.want, tt.want.Kind())
			}
			n := tt.typ.Words()
			words, err := Encode(tt.want, tt.typ, tt.order)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(words, tt.words[:n]) {
				t.Errorf("Encode = %04x, want %04x", words, tt.words[:n])
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := Decode([]uint16{1}, Int32, ABCD); err == nil {
		t.Error("int32 from one word: no error")
	}
	if _, err := Decode([]uint16{1}, Bool, ABCD); err == nil {
		t.Error("bool from a register: no error")
	}
	if _, err := Encode(uns.Int(70000), Uint16, ABCD); err == nil {
		t.Error("70000 as uint16: no error")
	}
	if _, err := Encode(uns.Int(-1), Uint32, ABCD); err == nil {
		t.Error("-1 as uint32: no error")
	}
}

var (
	registerTypes = []Type{Int16, Uint16, Int32, Uint32, Float32, Float64}
	orders        = []Order{ABCD, CDAB, BADC, DCBA}
)

// FuzzDecode decodes raw register bytes, as a device sends them, with every
// type and order. It checks that decoding never panics, that DCBA is ABCD of
// the reversed bytes, that integers survive Encode, and that scaling never
// lets a non-finite value through.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x41, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xfe})
	f.Add([]byte{0x7f, 0xc0, 0x00, 0x00}) // float32 NaN
	f.Add([]byte{0x7f, 0xf0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x01})
	f.Fuzz(func(t *testing.T, raw []byte) {
		words := make([]uint16, len(raw)/2)
		for i := range words {
			words[i] = binary.BigEndian.Uint16(raw[2*i:])
		}
		for _, typ := range registerTypes {
			for _, o := range orders {
				v, err := Decode(words, typ, o)
				if len(words) < typ.Words() {
					if err == nil {
						t.Fatalf("%v %+v from %d words: no error", typ, o, len(words))
					}
					continue
				}
				if err != nil {
					t.Fatalf("%v %+v: %v", typ, o, err)
				}
				if v.Kind() == uns.KindInvalid {
					t.Fatalf("%v %+v: invalid value", typ, o)
				}
				if v.Kind() == uns.KindInt {
					back, err := Encode(v, typ, o)
					if err != nil || !slices.Equal(back, words[:typ.Words()]) {
						t.Fatalf("%v %+v: Encode(%v) = %04x, %v; want %04x", typ, o, v, back, err, words[:typ.Words()])
					}
				}
				f := field{typ: typ, order: o, scale: 0.1, offset: 1, scaled: true}
				if sv, err := f.value(words); err == nil {
					if x := sv.Float64(); math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("%v %+v: scaled value %v passed", typ, o, x)
					}
				}
			}
			// DCBA is the full byte reversal of ABCD.
			n := 2 * typ.Words()
			if len(raw) < n {
				continue
			}
			rev := slices.Clone(raw[:n])
			slices.Reverse(rev)
			rw := make([]uint16, n/2)
			for i := range rw {
				rw[i] = binary.BigEndian.Uint16(rev[2*i:])
			}
			a, _ := Decode(words, typ, DCBA)
			b, _ := Decode(rw, typ, ABCD)
			if a != b && !(isNaN(a) && isNaN(b)) {
				t.Fatalf("%v: DCBA %v != ABCD of reversed bytes %v", typ, a, b)
			}
		}
	})
}

func isNaN(v uns.Value) bool { return v.Kind() == uns.KindFloat && math.IsNaN(v.Float64()) }
