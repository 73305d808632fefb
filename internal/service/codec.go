package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/molen-io/molen/internal/uns"
)

// The batch encoding of molen-svc/1 (docs/services.md; the module's side
// is sdk/molensvc): little-endian, length-prefixed, no schema. The host
// encodes batches and decodes results; a result comes from a module and
// is untrusted: decodeResult checks every length (FuzzDecodeResult).

// Wire kinds of values.
const (
	wireFloat  = 1
	wireInt    = 2
	wireBool   = 3
	wireString = 4
)

// ErrBadResult is wrapped when a module's result cannot be decoded.
var ErrBadResult = errors.New("malformed result")

// appendBatch encodes pts as a batch.
func appendBatch(b []byte, pts []uns.Point) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pts)))
	for i := range pts {
		p := &pts[i]
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Series)))
		b = append(b, p.Series...)
		b = binary.LittleEndian.AppendUint64(b, uint64(p.TS))
		v := p.Value
		switch v.Kind() {
		case uns.KindFloat:
			b = append(b, wireFloat, byte(p.Quality))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float64()))
		case uns.KindInt:
			b = append(b, wireInt, byte(p.Quality))
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
		case uns.KindBool:
			c := byte(0)
			if v.Bool() {
				c = 1
			}
			b = append(b, wireBool, byte(p.Quality), c)
		default:
			s := v.Str()
			b = append(b, wireString, byte(p.Quality))
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// batchSize is the exact size of pts' encoding.
func batchSize(pts []uns.Point) int {
	n := 4
	for i := range pts {
		n += 2 + len(pts[i].Series) + 10
		switch pts[i].Value.Kind() {
		case uns.KindFloat, uns.KindInt:
			n += 8
		case uns.KindBool:
			n++
		default:
			n += 4 + len(pts[i].Value.Str())
		}
	}
	return n
}

// resultDecoder decodes results, interning series names so that a module
// that emits the series it was given costs no string allocations.
type resultDecoder struct {
	names map[string]string
}

const maxNames = 1 << 16

func (d *resultDecoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	if d.names == nil || len(d.names) >= maxNames {
		d.names = make(map[string]string)
	}
	s := string(b)
	d.names[s] = s
	return s
}

// ModuleError is an error a module reported for a batch (its Process,
// Tick or Init returned an error).
type ModuleError struct{ Msg string }

func (e *ModuleError) Error() string { return "module error: " + e.Msg }

// decodeResult decodes a result, appending its points and events. A
// module's own error is a *ModuleError; anything malformed wraps
// ErrBadResult.
func (d *resultDecoder) decodeResult(b []byte, pts []uns.Point, evs []uns.Event) ([]uns.Point, []uns.Event, error) {
	r := reader{b: b}
	switch r.u8() {
	case 0:
	case 1:
		msg := r.bytes(int(r.u32()))
		if r.bad {
			return pts, evs, fmt.Errorf("%w: truncated error", ErrBadResult)
		}
		return pts, evs, &ModuleError{Msg: string(msg)}
	default:
		return pts, evs, fmt.Errorf("%w: status byte", ErrBadResult)
	}
	n := int(r.u32())
	if n > len(b)/13 { // no point is shorter than 13 bytes
		return pts, evs, fmt.Errorf("%w: %d points in %d bytes", ErrBadResult, n, len(b))
	}
	for range n {
		series := r.bytes(int(r.u16()))
		ts := int64(r.u64())
		kind, q := r.u8(), uns.Quality(r.u8())
		var v uns.Value
		switch kind {
		case wireFloat:
			v = uns.Float(math.Float64frombits(r.u64()))
		case wireInt:
			v = uns.Int(int64(r.u64()))
		case wireBool:
			v = uns.Bool(r.u8() == 1)
		case wireString:
			v = uns.String(string(r.bytes(int(r.u32()))))
		default:
			r.bad = true
		}
		if r.bad || q > uns.Bad {
			return pts, evs, fmt.Errorf("%w: point %d", ErrBadResult, len(pts))
		}
		pts = append(pts, uns.Point{Series: d.name(series), TS: ts, Value: v, Quality: q})
	}
	ne := int(r.u32())
	if ne > len(b)/20 {
		return pts, evs, fmt.Errorf("%w: %d events in %d bytes", ErrBadResult, ne, len(b))
	}
	for range ne {
		e := uns.Event{Asset: string(r.bytes(int(r.u16())))}
		e.Kind = string(r.bytes(int(r.u8())))
		e.Start, e.End = int64(r.u64()), int64(r.u64())
		if na := int(r.u8()); na > 0 {
			e.Attrs = make(map[string]string, na)
			for range na {
				k := string(r.bytes(int(r.u16())))
				e.Attrs[k] = string(r.bytes(int(r.u16())))
			}
		}
		if r.bad {
			return pts, evs, fmt.Errorf("%w: event %d", ErrBadResult, len(evs))
		}
		evs = append(evs, e)
	}
	if r.bad || len(r.b) != 0 {
		return pts, evs, fmt.Errorf("%w: %d bytes after the events", ErrBadResult, len(r.b))
	}
	return pts, evs, nil
}

// reader reads little-endian values; past the end it sets bad and
// returns zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.take(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

func (r *reader) bytes(n int) []byte { return r.take(n) }
