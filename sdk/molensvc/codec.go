package molensvc

import (
	"encoding/binary"
	"errors"
	"math"
	"unsafe"
)

// The wire format of molen-svc/1, little-endian (docs/services.md):
//
//	batch  = u32 count, point*
//	point  = u16 len, series, i64 ts, u8 kind, u8 quality, value
//	value  = f64 | i64 | u8 (bool) | u32 len, bytes (string)
//	result = u8 status (0 ok), then for ok: batch, u32 count, event*;
//	         for an error: u32 len, message
//	event  = u16 len, asset, u8 len, kind, i64 start, i64 end, u8 count,
//	         (u16 len, key, u16 len, value)*
//
// The module decodes batches and encodes results; the host does the
// reverse.

var errShort = errors.New("molensvc: truncated batch")

// decoder decodes batches. Series names are not copied: they point into
// the input buffer, which the next batch overwrites (see Service). A
// copy per point, or interning through a map, costs 4x the whole call in
// WebAssembly (docs/adr/0016-service-abi.md).
type decoder struct{}

// decodeBatch decodes a batch, appending its points to dst.
func (decoder) decodeBatch(dst []Point, b []byte) ([]Point, error) {
	if len(b) < 4 {
		return dst, errShort
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	for range n {
		if len(b) < 2 {
			return dst, errShort
		}
		l := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+l+10 {
			return dst, errShort
		}
		p := Point{Series: unsafe.String(&b[2], l)} // valid during the call: see Service
		b = b[2+l:]
		p.TS = int64(binary.LittleEndian.Uint64(b))
		p.Value.Kind, p.Quality = Kind(b[8]), Quality(b[9])
		b = b[10:]
		switch p.Value.Kind {
		case KindFloat, KindInt:
			if len(b) < 8 {
				return dst, errShort
			}
			u := binary.LittleEndian.Uint64(b)
			if p.Value.Kind == KindFloat {
				p.Value.F = math.Float64frombits(u)
			} else {
				p.Value.I = int64(u)
			}
			b = b[8:]
		case KindBool:
			if len(b) < 1 {
				return dst, errShort
			}
			p.Value.B = b[0] == 1
			b = b[1:]
		case KindString:
			if len(b) < 4 {
				return dst, errShort
			}
			l := int(binary.LittleEndian.Uint32(b))
			if len(b) < 4+l {
				return dst, errShort
			}
			p.Value.S = string(b[4 : 4+l])
			b = b[4+l:]
		default:
			return dst, errors.New("molensvc: unknown value kind")
		}
		dst = append(dst, p)
	}
	return dst, nil
}

// appendResult encodes out as an ok result.
func appendResult(b []byte, out *Output) []byte {
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(out.Points)))
	for i := range out.Points {
		b = appendPoint(b, &out.Points[i])
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(out.Events)))
	for _, e := range out.Events {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Asset)))
		b = append(b, e.Asset...)
		b = append(b, uint8(len(e.Kind)))
		b = append(b, e.Kind...)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Start))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.End))
		b = append(b, uint8(len(e.Attrs)))
		for k, v := range e.Attrs {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(k)))
			b = append(b, k...)
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

func appendPoint(b []byte, p *Point) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Series)))
	b = append(b, p.Series...)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.TS))
	b = append(b, byte(p.Value.Kind), byte(p.Quality))
	switch p.Value.Kind {
	case KindFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Value.F))
	case KindInt:
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Value.I))
	case KindBool:
		var c byte
		if p.Value.B {
			c = 1
		}
		b = append(b, c)
	case KindString:
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Value.S)))
		b = append(b, p.Value.S...)
	}
	return b
}

// appendError encodes an error result.
func appendError(b []byte, err error) []byte {
	msg := err.Error()
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(msg)))
	return append(b, msg...)
}
