package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/molen-io/molen/internal/uns"
)

// Limits the decoder enforces on untrusted input.
const (
	MaxRecordPoints  = 1 << 20
	MaxBatchRecords  = 1 << 16
	MaxBatchBytes    = 8 << 20 // decompressed body; the edge sends at most 1 MiB
	MaxBatchPoints   = 256 << 10
	maxStreamLen     = 128
	pointsVersion    = 1 // a record of points
	recordVersion    = 2 // a record of points and events
	batchVersion     = 1
	batchMagic       = "MLNB"
	kindBoolTrue     = 0x0f // kind nibble for bool true; bool false uses uns.KindBool
	maxStringValue   = uns.MaxPayload
	maxSeriesStrings = MaxRecordPoints
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed uplink data")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// EncodePoints appends the encoding of pts to dst (a record without events).
func EncodePoints(dst []byte, pts []uns.Point) []byte {
	return EncodeRecord(dst, pts, nil)
}

// smallTable is how many series EncodeRecord looks up without a map.
const smallTable = 16

// EncodeRecord appends the encoding of a record of points and events to
// dst: version 1 without events, version 2 with.
func EncodeRecord(dst []byte, pts []uns.Point, evs []uns.Event) []byte {
	if len(evs) == 0 {
		dst = binary.AppendUvarint(dst, pointsVersion)
	} else {
		dst = binary.AppendUvarint(dst, recordVersion)
	}
	// String table of series paths, in order of first use. Small records
	// dominate (the edge writes one per device message, often of two
	// values): up to smallTable series are found by a linear search in an
	// array on the stack; a map only past that, for large batches.
	var small [smallTable]string
	order := small[:0]
	var index map[string]uint64
	seriesOf := func(s string) (uint64, bool) {
		if index != nil {
			i, ok := index[s]
			return i, ok
		}
		for i, o := range order {
			if o == s {
				return uint64(i), true
			}
		}
		return 0, false
	}
	for _, p := range pts {
		if _, ok := seriesOf(p.Series); ok {
			continue
		}
		if index == nil && len(order) == smallTable {
			index = make(map[string]uint64, 4*smallTable)
			for i, o := range order {
				index[o] = uint64(i)
			}
		}
		if index != nil {
			index[p.Series] = uint64(len(order))
		}
		order = append(order, p.Series)
	}
	dst = binary.AppendUvarint(dst, uint64(len(order)))
	for _, s := range order {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	var prev int64
	for _, p := range pts {
		i, _ := seriesOf(p.Series)
		dst = binary.AppendUvarint(dst, i)
		dst = binary.AppendVarint(dst, p.TS-prev)
		prev = p.TS
		k := byte(p.Value.Kind())
		if k == byte(uns.KindBool) && p.Value.Bool() {
			k = kindBoolTrue
		}
		dst = append(dst, k<<4|byte(p.Quality))
		switch p.Value.Kind() {
		case uns.KindFloat:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Value.Float64()))
		case uns.KindInt:
			dst = binary.AppendVarint(dst, p.Value.Int())
		case uns.KindString:
			dst = binary.AppendUvarint(dst, uint64(len(p.Value.Str())))
			dst = append(dst, p.Value.Str()...)
		}
	}
	if len(evs) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(evs)))
		for _, e := range evs {
			dst = appendString(dst, e.Asset)
			dst = appendString(dst, e.Kind)
			dst = binary.AppendVarint(dst, e.Start)
			dst = binary.AppendVarint(dst, e.End)
			dst = binary.AppendUvarint(dst, uint64(len(e.Attrs)))
			keys := make([]string, 0, len(e.Attrs))
			for k := range e.Attrs {
				keys = append(keys, k)
			}
			slices.Sort(keys) // deterministic encoding
			for _, k := range keys {
				dst = appendString(dst, k)
				dst = appendString(dst, e.Attrs[k])
			}
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader decodes varints from untrusted bytes, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = malformed("%s: bad uvarint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = malformed("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string, max uint64) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > max || n > uint64(len(r.b)) {
		r.err = malformed("%s: length %d exceeds %d or remaining %d bytes", what, n, max, len(r.b))
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = malformed("%s: unexpected end", what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// DecodePoints appends the points encoded in b to dst. It validates every
// series path, kind, quality and float, so what it returns is safe to store.
// On error dst is returned unchanged.
func DecodePoints(dst []uns.Point, b []byte) ([]uns.Point, error) {
	pts, _, err := DecodeRecord(dst, nil, b)
	return pts, err
}

// DecodeRecord appends the points and events encoded in b to dst and evs.
// It validates everything (paths, kinds, qualities, floats, events), so what
// it returns is safe to store. On error dst and evs are returned unchanged.
func DecodeRecord(dst []uns.Point, evs []uns.Event, b []byte) ([]uns.Point, []uns.Event, error) {
	r := reader{b: b}
	version := r.uvarint("version")
	if r.err == nil && version != pointsVersion && version != recordVersion {
		return dst, evs, malformed("record version %d, want %d or %d", version, pointsVersion, recordVersion)
	}
	ns := r.uvarint("string count")
	if r.err == nil && ns > uint64(len(r.b)) { // each string takes at least one byte
		return dst, evs, malformed("string count %d exceeds remaining %d bytes", ns, len(r.b))
	}
	if r.err != nil {
		return dst, evs, r.err
	}
	series := make([]string, ns)
	for i := range series {
		s := string(r.bytes("series", uns.MaxPathLen))
		if r.err != nil {
			return dst, evs, r.err
		}
		if err := uns.ValidatePath(s); err != nil {
			return dst, evs, malformed("series %d: %v", i, err)
		}
		series[i] = s
	}
	np := r.uvarint("point count")
	if r.err == nil && (np > MaxRecordPoints || np > uint64(len(r.b))/3) { // a point takes at least 3 bytes
		return dst, evs, malformed("point count %d too large for %d bytes", np, len(r.b))
	}
	n0 := len(dst)
	var ts int64
	for i := uint64(0); i < np && r.err == nil; i++ {
		si := r.uvarint("series index")
		ts += r.varint("timestamp")
		kq := r.byte("kind")
		if r.err != nil {
			break
		}
		if si >= uint64(len(series)) {
			r.err = malformed("point %d: series index %d of %d", i, si, len(series))
			break
		}
		if ts < 0 {
			r.err = malformed("point %d: timestamp before 1970", i)
			break
		}
		q := uns.Quality(kq & 0x0f)
		if q > uns.Bad {
			r.err = malformed("point %d: quality %d", i, q)
			break
		}
		var v uns.Value
		switch k := kq >> 4; k {
		case byte(uns.KindFloat):
			if len(r.b) < 8 {
				r.err = malformed("point %d: float: unexpected end", i)
				break
			}
			f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
			if math.IsNaN(f) || math.IsInf(f, 0) {
				r.err = malformed("point %d: non-finite float", i)
				break
			}
			v = uns.Float(f)
		case byte(uns.KindInt):
			v = uns.Int(r.varint("int"))
		case byte(uns.KindBool):
			v = uns.Bool(false)
		case kindBoolTrue:
			v = uns.Bool(true)
		case byte(uns.KindString):
			v = uns.String(string(r.bytes("string value", maxStringValue)))
		default:
			r.err = malformed("point %d: kind %d", i, k)
		}
		if r.err != nil {
			break
		}
		dst = append(dst, uns.Point{Series: series[si], TS: ts, Value: v, Quality: q})
	}
	e0 := len(evs)
	if r.err == nil && version == recordVersion {
		evs = r.events(evs)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = malformed("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return dst[:n0], evs[:e0], r.err
	}
	return dst, evs, nil
}

// events reads the events section of a version 2 record.
func (r *reader) events(evs []uns.Event) []uns.Event {
	n := r.uvarint("event count")
	if r.err == nil && n > uint64(len(r.b))/4 { // an event takes at least 4 bytes
		r.err = malformed("event count %d too large for %d bytes", n, len(r.b))
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		var e uns.Event
		e.Asset = string(r.bytes("event asset", uns.MaxPathLen))
		e.Kind = string(r.bytes("event kind", uns.MaxEventKind))
		e.Start = r.varint("event start")
		e.End = r.varint("event end")
		na := r.uvarint("attribute count")
		if r.err == nil && na > uns.MaxEventAttrs {
			r.err = malformed("event %d: %d attributes, limit %d", i, na, uns.MaxEventAttrs)
		}
		for j := uint64(0); j < na && r.err == nil; j++ {
			k := string(r.bytes("attribute key", uns.MaxAttrLen))
			v := string(r.bytes("attribute value", uns.MaxAttrLen))
			if e.Attrs == nil {
				e.Attrs = make(map[string]string, na)
			}
			e.Attrs[k] = v
		}
		if r.err != nil {
			break
		}
		if err := uns.ValidateEvent(e); err != nil {
			r.err = malformed("event %d: %v", i, err)
			break
		}
		evs = append(evs, e)
	}
	return evs
}

// RawRecord is a record as it travels: its sequence number and its point
// encoding, not yet decoded.
type RawRecord struct {
	Seq  uint64
	Data []byte
}

// Batch is consecutive records of one stream of one edge.
type Batch struct {
	Stream  string
	Records []RawRecord // strictly increasing Seq
}

// EncodeBatch appends the encoding of b to dst.
func EncodeBatch(dst []byte, b Batch) []byte {
	dst = append(dst, batchMagic...)
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.Stream)))
	dst = append(dst, b.Stream...)
	dst = binary.AppendUvarint(dst, uint64(len(b.Records)))
	var prev uint64
	for _, r := range b.Records {
		dst = binary.AppendUvarint(dst, r.Seq-prev)
		prev = r.Seq
		dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
		dst = append(dst, r.Data...)
	}
	return dst
}

// DecodeBatch decodes a batch. Record data alias b.
func DecodeBatch(b []byte) (Batch, error) {
	if len(b) < len(batchMagic)+1 || string(b[:len(batchMagic)]) != batchMagic {
		return Batch{}, malformed("not a molen batch (bad magic)")
	}
	if v := b[len(batchMagic)]; v != batchVersion {
		return Batch{}, malformed("batch version %d, want %d", v, batchVersion)
	}
	r := reader{b: b[len(batchMagic)+1:]}
	stream := string(r.bytes("stream", maxStreamLen))
	n := r.uvarint("record count")
	if r.err != nil {
		return Batch{}, r.err
	}
	if stream == "" {
		return Batch{}, malformed("empty stream")
	}
	if n > MaxBatchRecords || n > uint64(len(r.b))/2 {
		return Batch{}, malformed("record count %d too large for %d bytes", n, len(r.b))
	}
	out := Batch{Stream: stream, Records: make([]RawRecord, 0, n)}
	var seq uint64
	for i := uint64(0); i < n; i++ {
		d := r.uvarint("seq")
		data := r.bytes("record", MaxBatchBytes)
		if r.err != nil {
			return Batch{}, r.err
		}
		if d == 0 || seq+d < seq {
			return Batch{}, malformed("record %d: sequence not increasing", i)
		}
		seq += d
		out.Records = append(out.Records, RawRecord{Seq: seq, Data: data})
	}
	if len(r.b) != 0 {
		return Batch{}, malformed("%d trailing bytes", len(r.b))
	}
	return out, nil
}
