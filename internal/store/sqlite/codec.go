package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/klauspost/compress/zstd"

	"github.com/molen-io/molen/internal/uns"
)

// This file holds the column encodings of blocks, rollups and chunks. All
// of them are sequences of varints and raw bytes; blocks and rollups are
// then compressed with zstd as a whole (see compress).
//
// A column of values (valueCols) keeps each kind in a stream of its own:
//
//	kinds    runs of (uvarint length, kind byte)
//	floats   one byte mode, then per float: with mode d+1, the zigzag varint
//	         delta of k where the float is k/10^d exactly (the decimals a
//	         sensor reports); with mode floatsShifted and a byte z, when the
//	         bits of every float end in z >= minShift zeros (a float32, or a
//	         sum of float32s, has 29 or some 20), the zigzag varint delta of
//	         the float's magnitude bits shifted right by z, negated (minus
//	         one) for a negative float, so that the sizes follow the
//	         differences of the values; with mode 0, the 8 bytes of its bits
//	         XOR the previous float's. The first two modes with floatsMean
//	         set store each integer's difference from the mean of the
//	         meanWindow before it instead of from the one before (see
//	         predictor)
//	ints     zigzag varint deltas (bools as ints 0 and 1)
//	strings  uvarint length and bytes
//
// Decimal floats are what makes factory data small: 21.47 and 21.52 are
// ints 2147 and 2152, a delta of one byte, where their float bits share
// only a few leading bits.

var errCorrupt = errors.New("stored block is corrupt")

// maxDecimals is the most decimals a float column is scaled by; above it
// floats are stored as XORed bits.
const maxDecimals = 15

var pow10 = func() (p [maxDecimals + 1]float64) {
	for i := range p {
		p[i] = math.Pow10(i)
	}
	return p
}()

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// decimals returns the fewest decimals d (up to maxDecimals) for which
// every float of fs is k/10^d for an integer k below 2^53 in magnitude,
// or -1 if there is none.
func decimals(fs []float64) int {
	d := 0
	for _, f := range fs {
		for !isDecimal(f, d) {
			if d++; d > maxDecimals {
				return -1
			}
		}
	}
	return d
}

func isDecimal(f float64, d int) bool {
	k := math.Round(f * pow10[d])
	return math.Abs(k) < 1<<53 && math.Float64bits(k/pow10[d]) == math.Float64bits(f)
}

// valueCols accumulates a column of values.
type valueCols struct {
	kinds   []byte
	floats  []float64
	ints    []byte
	lastInt int64
	strs    []byte
}

func (c *valueCols) add(v uns.Value) {
	c.kinds = append(c.kinds, byte(v.Kind()))
	switch v.Kind() {
	case uns.KindFloat:
		c.floats = append(c.floats, v.Float64())
	case uns.KindInt, uns.KindBool:
		i := v.Int()
		if v.Kind() == uns.KindBool && v.Bool() {
			i = 1
		}
		c.ints = binary.AppendUvarint(c.ints, zigzag(i-c.lastInt))
		c.lastInt = i
	case uns.KindString:
		c.strs = binary.AppendUvarint(c.strs, uint64(len(v.Str())))
		c.strs = append(c.strs, v.Str()...)
	}
}

// appendTo writes the column: kinds as runs, then each stream with its
// length in front.
func (c *valueCols) appendTo(b []byte) []byte {
	b = appendRuns(b, c.kinds)
	fb := appendFloats(nil, c.floats)
	for _, s := range [][]byte{fb, c.ints, c.strs} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// floatsBits and floatsShifted are the modes of a float column that are
// not decimals (those are d+1 for d decimals). floatsMean is a flag on the
// decimal and shifted modes: the integers are stored as differences from
// the mean of the meanWindow before them (see predictor).
const (
	floatsBits    = 0
	floatsShifted = 0x80
	floatsMean    = 0x40
)

// meanWindow is how many of the previous integers of a column a
// floatsMean column predicts from.
const meanWindow = 8

// predictor predicts the next integer of a column from those before it:
// the previous one, or with mean (after the first meanWindow) the mean of
// the last meanWindow, rounded. A sensor's reading is a slow signal plus
// noise: the difference from the previous reading carries the noise of
// both, the difference from a mean of eight little more than the noise of
// one, which is about half a bit a value less (ADR 0010, step 7). Data
// that steps or ramps is better predicted by the previous value; the
// encoder takes whichever is cheaper (meanPays).
type predictor struct {
	mean bool
	last [meanWindow]int64 // the last meanWindow integers, by n mod meanWindow
	sum  int64             // of last
	n    int               // integers seen
}

func (p *predictor) predict() int64 {
	switch {
	case p.n == 0:
		return 0
	case !p.mean || p.n < meanWindow:
		return p.last[(p.n-1)%meanWindow]
	}
	return (p.sum + meanWindow/2) >> 3 // the mean, rounded (meanWindow is 8)
}

func (p *predictor) push(k int64) {
	i := p.n % meanWindow
	p.sum += k - p.last[i]
	p.last[i] = k
	p.n++
}

// meanPays reports whether predicting ks from the mean of the previous
// meanWindow costs fewer bits than from the previous one, counting the
// significant bits of each zigzagged difference (which is what the
// varints and then zstd pay for).
func meanPays(ks []int64) bool {
	prev, mean := predictor{}, predictor{mean: true}
	var cp, cm int
	for _, k := range ks {
		cp += bits.Len64(zigzag(k - prev.predict()))
		cm += bits.Len64(zigzag(k - mean.predict()))
		prev.push(k)
		mean.push(k)
	}
	return cm < cp
}

// appendInts writes the integers of a decimal or shifted float column:
// the mode, with floatsMean set where that pays, the bytes after the mode
// (z of floatsShifted), then each integer's zigzag varint difference from
// its prediction.
func appendInts(b []byte, mode byte, after []byte, ks []int64) []byte {
	p := predictor{mean: meanPays(ks)}
	if p.mean {
		mode |= floatsMean
	}
	b = append(append(b, mode), after...)
	for _, k := range ks {
		b = binary.AppendUvarint(b, zigzag(k-p.predict()))
		p.push(k)
	}
	return b
}

// minShift is the fewest trailing zero bits for which floatsShifted pays
// over XORed bits.
const minShift = 8

// signBit and magBits split a float64's bits.
const (
	signBit = 1 << 63
	magBits = signBit - 1
)

// appendFloats writes a float column: its mode, then every float in it.
func appendFloats(b []byte, fs []float64) []byte {
	if d := decimals(fs); d >= 0 {
		return appendDecimals(b, fs, d)
	}
	z := 63
	for _, f := range fs {
		if m := math.Float64bits(f) & magBits; m != 0 {
			z = min(z, bits.TrailingZeros64(m))
		}
	}
	if z >= minShift {
		ks := make([]int64, len(fs))
		for i, f := range fs {
			ks[i] = shiftedOf(math.Float64bits(f), z)
		}
		return appendInts(b, floatsShifted, []byte{byte(z)}, ks)
	}
	b = append(b, floatsBits)
	var prev uint64
	for _, f := range fs {
		bits := math.Float64bits(f)
		b = binary.LittleEndian.AppendUint64(b, bits^prev)
		prev = bits
	}
	return b
}

// shiftedOf maps float bits whose magnitude ends in z zeros to an integer
// in the order of the floats: the magnitude shifted right by z, negated
// minus one when negative (so -0 is -1 and +0 is 0).
func shiftedOf(b uint64, z int) int64 {
	m := int64(b & magBits >> z)
	if b&signBit != 0 {
		return -m - 1
	}
	return m
}

// bitsOfShifted is the inverse of shiftedOf.
func bitsOfShifted(k int64, z int) uint64 {
	if k < 0 {
		return signBit | uint64(-(k+1))<<z
	}
	return uint64(k) << z
}

// appendDecimals writes fs as a float column of mode d+1: each float
// rounded to k/10^d, the ks as appendInts writes them.
func appendDecimals(b []byte, fs []float64, d int) []byte {
	ks := make([]int64, len(fs))
	for i, f := range fs {
		ks[i] = int64(math.Round(f * pow10[d]))
	}
	return appendInts(b, byte(d+1), nil, ks)
}

// floatReader reads a float column written by appendFloats.
type floatReader struct {
	r    *reader
	mode byte // without floatsMean
	z    int  // the shift of floatsShifted
	p    predictor
	bits uint64
}

func newFloatReader(r *reader) *floatReader {
	fr := &floatReader{r: r, mode: r.byte()}
	if fr.mode&floatsMean != 0 && fr.mode != floatsMean {
		fr.mode &^= floatsMean
		fr.p.mean = true
	}
	switch {
	case fr.mode == floatsShifted:
		if fr.z = int(r.byte()); fr.z > 63 {
			r.fail()
		}
	case fr.mode > maxDecimals+1:
		r.fail()
	}
	return fr
}

func (fr *floatReader) next() float64 {
	if fr.r.err != nil {
		return 0
	}
	if fr.mode == floatsBits {
		fr.bits ^= fr.r.uint64()
		return math.Float64frombits(fr.bits)
	}
	k := fr.p.predict() + unzigzag(fr.r.uvarint())
	fr.p.push(k)
	if fr.mode == floatsShifted {
		return math.Float64frombits(bitsOfShifted(k, fr.z))
	}
	return float64(k) / pow10[fr.mode-1]
}

// appendRuns writes bs as runs of (uvarint length, byte).
func appendRuns(b, bs []byte) []byte {
	for i := 0; i < len(bs); {
		j := i + 1
		for j < len(bs) && bs[j] == bs[i] {
			j++
		}
		b = binary.AppendUvarint(b, uint64(j-i))
		b = append(b, bs[i])
		i = j
	}
	return b
}

// reader reads varints and bytes, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

// runs reads n bytes written by appendRuns.
func (r *reader) runs(dst []byte, n int) []byte {
	for len(dst) < n && r.err == nil {
		l, c := r.uvarint(), r.byte()
		if l == 0 || l > uint64(n-len(dst)) {
			r.fail()
			break
		}
		for range l {
			dst = append(dst, c)
		}
	}
	return dst
}

// readValues decodes a column of n values written by valueCols.appendTo,
// calling set for each in order.
func (r *reader) readValues(n int, kinds []byte, set func(i int, v uns.Value)) []byte {
	kinds = r.runs(kinds[:0], n)
	fs := &reader{b: r.bytes(r.uvarint())}
	is := &reader{b: r.bytes(r.uvarint())}
	ss := &reader{b: r.bytes(r.uvarint())}
	if r.err != nil {
		return kinds
	}
	floats := newFloatReader(fs)
	var lastInt int64
	for i := 0; i < n && r.err == nil; i++ {
		var v uns.Value
		switch uns.Kind(kinds[i]) {
		case uns.KindFloat:
			v = uns.Float(floats.next())
		case uns.KindInt:
			lastInt += unzigzag(is.uvarint())
			v = uns.Int(lastInt)
		case uns.KindBool:
			lastInt += unzigzag(is.uvarint())
			v = uns.Bool(lastInt != 0)
		case uns.KindString:
			v = uns.String(string(ss.bytes(ss.uvarint())))
		default:
			r.fail()
		}
		if r.err == nil {
			r.err = errors.Join(fs.err, is.err, ss.err)
		}
		set(i, v)
	}
	return kinds
}

// blockVersion is the first byte of an encoded block. Version 1 had no
// timestamp unit (it was always 1 ns), version 2 no floatsMean columns;
// both are still read.
const blockVersion = 3

// maxUnit is the largest exponent of a timestamp unit: 10^9 ns, a second.
const maxUnit = 9

var ipow10 = func() (p [maxUnit + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// unitOf returns the largest e (up to maxUnit) for which 10^e divides
// every ts: 6 for timestamps in whole milliseconds.
func unitOf(e int, ts int64) int {
	for e > 0 && ts%ipow10[e] != 0 {
		e--
	}
	return e
}

// sample is a stored point of a known series.
type sample struct {
	ts int64
	v  uns.Value
	q  uns.Quality
}

// encodeBlock encodes samples (of one series, in time order, ties in
// ingest order) as a block: version, count, the exponent e of the
// timestamps' unit (10^e ns, the largest that divides them all), the
// timestamps in that unit as the first one and zigzag delta-of-deltas,
// qualities as runs, then the values. Timestamps in whole milliseconds
// thus cost their jitter in milliseconds, not in nanoseconds.
func encodeBlock(b []byte, ss []sample) []byte {
	b = append(b, blockVersion)
	b = binary.AppendUvarint(b, uint64(len(ss)))
	e := maxUnit
	for _, s := range ss {
		e = unitOf(e, s.ts)
	}
	b = append(b, byte(e))
	unit := ipow10[e]
	var prev, delta int64
	for i, s := range ss {
		ts := s.ts / unit
		switch i {
		case 0:
			b = binary.AppendUvarint(b, uint64(ts))
		default:
			d := ts - prev
			b = binary.AppendUvarint(b, zigzag(d-delta))
			delta = d
		}
		prev = ts
	}
	qs := make([]byte, len(ss))
	vc := valueCols{kinds: make([]byte, 0, len(ss)), floats: make([]float64, 0, len(ss))}
	for i, s := range ss {
		qs[i] = byte(s.q)
		vc.add(s.v)
	}
	b = appendRuns(b, qs)
	return vc.appendTo(b)
}

// maxBlockPoints bounds the samples of a block, and so what one decode
// allocates.
const maxBlockPoints = 1 << 16

// decodeBlock appends the samples of an encoded block to dst.
func decodeBlock(dst []sample, b []byte) ([]sample, error) {
	r := &reader{b: b}
	version := r.byte()
	if version < 1 || version > blockVersion {
		return dst, fmt.Errorf("%w: unknown block version", errCorrupt)
	}
	n64 := r.uvarint()
	if n64 > maxBlockPoints {
		return dst, fmt.Errorf("%w: %d points in a block", errCorrupt, n64)
	}
	n := int(n64)
	unit := int64(1)
	if version > 1 {
		e := r.byte()
		if e > maxUnit {
			return dst, fmt.Errorf("%w: timestamp unit 10^%d", errCorrupt, e)
		}
		unit = ipow10[e]
	}
	base := len(dst)
	var ts, delta int64
	for i := 0; i < n && r.err == nil; i++ {
		if i == 0 {
			ts = int64(r.uvarint())
		} else {
			delta += unzigzag(r.uvarint())
			ts += delta
		}
		dst = append(dst, sample{ts: ts * unit})
	}
	qs := r.runs(make([]byte, 0, n), n)
	for i, q := range qs {
		dst[base+i].q = uns.Quality(q)
	}
	r.readValues(n, make([]byte, 0, n), func(i int, v uns.Value) { dst[base+i].v = v })
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return dst[:base], r.err
	}
	return dst, nil
}

// zstd encoder and decoder shared by every store; EncodeAll and DecodeAll
// are safe for concurrent use.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
)

func compress(b []byte) []byte { return zenc.EncodeAll(b, make([]byte, 0, len(b)/4+16)) }

func decompress(b []byte) ([]byte, error) {
	out, err := zdec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return out, nil
}
