package colblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/klauspost/compress/zstd"

	"github.com/molen-io/molen/internal/uns"
)

// This file holds the column encodings of blocks, and the pieces of the
// embedded store's rollups and chunks. All
// of them are sequences of varints and raw bytes; blocks and rollups are
// then compressed with zstd as a whole (see Compress).
//
// A column of values (ValueCols) keeps each kind in a stream of its own:
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

var ErrCorrupt = errors.New("stored block is corrupt")

// maxDecimals is the most decimals a float column is scaled by; above it
// floats are stored as XORed bits.
const maxDecimals = 15

var Pow10 = func() (p [maxDecimals + 1]float64) {
	for i := range p {
		p[i] = math.Pow10(i)
	}
	return p
}()

func Zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func Unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// decimals returns the fewest decimals d (up to maxDecimals) for which
// every float of fs is k/10^d for an integer k below 2^53 in magnitude,
// or -1 if there is none.
func Decimals(fs []float64) int {
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
	k := math.Round(f * Pow10[d])
	return math.Abs(k) < 1<<53 && math.Float64bits(k/Pow10[d]) == math.Float64bits(f)
}

// ValueCols accumulates a column of values.
type ValueCols struct {
	kinds   []byte
	floats  []float64
	ints    []byte
	lastInt int64
	strs    []byte
}

func (c *ValueCols) Add(v uns.Value) {
	c.kinds = append(c.kinds, byte(v.Kind()))
	switch v.Kind() {
	case uns.KindFloat:
		c.floats = append(c.floats, v.Float64())
	case uns.KindInt, uns.KindBool:
		i := v.Int()
		if v.Kind() == uns.KindBool && v.Bool() {
			i = 1
		}
		c.ints = binary.AppendUvarint(c.ints, Zigzag(i-c.lastInt))
		c.lastInt = i
	case uns.KindString:
		c.strs = binary.AppendUvarint(c.strs, uint64(len(v.Str())))
		c.strs = append(c.strs, v.Str()...)
	}
}

// appendTo writes the column: kinds as runs, then each stream with its
// length in front.
func (c *ValueCols) AppendTo(b []byte) []byte {
	b = appendRuns(b, c.kinds)
	fb := AppendFloats(nil, c.floats)
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
		cp += bits.Len64(Zigzag(k - prev.predict()))
		cm += bits.Len64(Zigzag(k - mean.predict()))
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
		b = binary.AppendUvarint(b, Zigzag(k-p.predict()))
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
func AppendFloats(b []byte, fs []float64) []byte {
	if d := Decimals(fs); d >= 0 {
		return AppendDecimals(b, fs, d)
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
func AppendDecimals(b []byte, fs []float64, d int) []byte {
	ks := make([]int64, len(fs))
	for i, f := range fs {
		ks[i] = int64(math.Round(f * Pow10[d]))
	}
	return appendInts(b, byte(d+1), nil, ks)
}

// FloatReader reads a float column written by appendFloats.
type FloatReader struct {
	r    *Reader
	mode byte // without floatsMean
	z    int  // the shift of floatsShifted
	p    predictor
	bits uint64
}

func NewFloatReader(r *Reader) *FloatReader {
	fr := &FloatReader{r: r, mode: r.Byte()}
	if fr.mode&floatsMean != 0 && fr.mode != floatsMean {
		fr.mode &^= floatsMean
		fr.p.mean = true
	}
	switch {
	case fr.mode == floatsShifted:
		if fr.z = int(r.Byte()); fr.z > 63 {
			r.Fail()
		}
	case fr.mode > maxDecimals+1:
		r.Fail()
	}
	return fr
}

func (fr *FloatReader) Next() float64 {
	if fr.r.Err != nil {
		return 0
	}
	if fr.mode == floatsBits {
		fr.bits ^= fr.r.Uint64()
		return math.Float64frombits(fr.bits)
	}
	k := fr.p.predict() + Unzigzag(fr.r.Uvarint())
	fr.p.push(k)
	if fr.mode == floatsShifted {
		return math.Float64frombits(bitsOfShifted(k, fr.z))
	}
	return float64(k) / Pow10[fr.mode-1]
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

// Reader reads varints and bytes, remembering the first error.
// Reader reads the varints and bytes of an encoding; after a failure
// every read returns zero and Err is set.
type Reader struct {
	B   []byte
	Err error
}

func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

func (r *Reader) Byte() byte {
	if len(r.B) == 0 {
		r.Fail()
		return 0
	}
	c := r.B[0]
	r.B = r.B[1:]
	return c
}

func (r *Reader) Uint64() uint64 {
	if b := r.Bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *Reader) Bytes(n uint64) []byte {
	if uint64(len(r.B)) < n {
		r.Fail()
		return nil
	}
	s := r.B[:n]
	r.B = r.B[n:]
	return s
}

func (r *Reader) Fail() {
	if r.Err == nil {
		r.Err = ErrCorrupt
	}
	r.B = nil
}

// runs reads n bytes written by appendRuns.
func (r *Reader) Runs(dst []byte, n int) []byte {
	for len(dst) < n && r.Err == nil {
		l, c := r.Uvarint(), r.Byte()
		if l == 0 || l > uint64(n-len(dst)) {
			r.Fail()
			break
		}
		for range l {
			dst = append(dst, c)
		}
	}
	return dst
}

// readValues decodes a column of n values written by ValueCols.appendTo,
// calling set for each in order.
func (r *Reader) ReadValues(n int, kinds []byte, set func(i int, v uns.Value)) []byte {
	kinds = r.Runs(kinds[:0], n)
	fs := &Reader{B: r.Bytes(r.Uvarint())}
	is := &Reader{B: r.Bytes(r.Uvarint())}
	ss := &Reader{B: r.Bytes(r.Uvarint())}
	if r.Err != nil {
		return kinds
	}
	floats := NewFloatReader(fs)
	var lastInt int64
	for i := 0; i < n && r.Err == nil; i++ {
		var v uns.Value
		switch uns.Kind(kinds[i]) {
		case uns.KindFloat:
			v = uns.Float(floats.Next())
		case uns.KindInt:
			lastInt += Unzigzag(is.Uvarint())
			v = uns.Int(lastInt)
		case uns.KindBool:
			lastInt += Unzigzag(is.Uvarint())
			v = uns.Bool(lastInt != 0)
		case uns.KindString:
			v = uns.String(string(ss.Bytes(ss.Uvarint())))
		default:
			r.Fail()
		}
		if r.Err == nil {
			r.Err = errors.Join(fs.Err, is.Err, ss.Err)
		}
		set(i, v)
	}
	return kinds
}

// blockVersion is the first byte of an encoded block. Version 1 had no
// timestamp unit (it was always 1 ns), version 2 no floatsMean columns;
// both are still read.
const blockVersion = 3

// MaxUnit is the largest exponent of a timestamp unit: 10^9 ns, a second.
const MaxUnit = 9

var IPow10 = func() (p [MaxUnit + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// UnitOf returns the largest e (up to MaxUnit) for which 10^e divides
// every ts: 6 for timestamps in whole milliseconds.
func UnitOf(e int, ts int64) int {
	for e > 0 && ts%IPow10[e] != 0 {
		e--
	}
	return e
}

// Sample is a stored point of a known series.
type Sample struct {
	TS int64
	V  uns.Value
	Q  uns.Quality
}

// Equal reports whether a and b are the same sample: floats by their bits
// (NaN, -0), as the codec keeps them.
func (a Sample) Equal(b Sample) bool {
	if a.TS != b.TS || a.Q != b.Q || a.V.Kind() != b.V.Kind() {
		return false
	}
	if a.V.Kind() == uns.KindFloat {
		return math.Float64bits(a.V.Float64()) == math.Float64bits(b.V.Float64())
	}
	return a.V == b.V
}

// Encode encodes samples (of one series, in time order, ties in
// ingest order) as a block: version, count, the exponent e of the
// timestamps' unit (10^e ns, the largest that divides them all), the
// timestamps in that unit as the first one and zigzag delta-of-deltas,
// qualities as runs, then the values. Timestamps in whole milliseconds
// thus cost their jitter in milliseconds, not in nanoseconds.
func Encode(b []byte, ss []Sample) []byte {
	b = append(b, blockVersion)
	b = binary.AppendUvarint(b, uint64(len(ss)))
	e := MaxUnit
	for _, s := range ss {
		e = UnitOf(e, s.TS)
	}
	b = append(b, byte(e))
	unit := IPow10[e]
	var prev, delta int64
	for i, s := range ss {
		ts := s.TS / unit
		switch i {
		case 0:
			b = binary.AppendUvarint(b, uint64(ts))
		default:
			d := ts - prev
			b = binary.AppendUvarint(b, Zigzag(d-delta))
			delta = d
		}
		prev = ts
	}
	qs := make([]byte, len(ss))
	vc := ValueCols{kinds: make([]byte, 0, len(ss)), floats: make([]float64, 0, len(ss))}
	for i, s := range ss {
		qs[i] = byte(s.Q)
		vc.Add(s.V)
	}
	b = appendRuns(b, qs)
	return vc.AppendTo(b)
}

// MaxPoints bounds the samples of a block, and so what one decode
// allocates.
const MaxPoints = 1 << 16

// Decode appends the samples of an encoded block to dst.
func Decode(dst []Sample, b []byte) ([]Sample, error) {
	r := &Reader{B: b}
	version := r.Byte()
	if version < 1 || version > blockVersion {
		return dst, fmt.Errorf("%w: unknown block version", ErrCorrupt)
	}
	n64 := r.Uvarint()
	if n64 > MaxPoints {
		return dst, fmt.Errorf("%w: %d points in a block", ErrCorrupt, n64)
	}
	n := int(n64)
	unit := int64(1)
	if version > 1 {
		e := r.Byte()
		if e > MaxUnit {
			return dst, fmt.Errorf("%w: timestamp unit 10^%d", ErrCorrupt, e)
		}
		unit = IPow10[e]
	}
	base := len(dst)
	var ts, delta int64
	for i := 0; i < n && r.Err == nil; i++ {
		if i == 0 {
			ts = int64(r.Uvarint())
		} else {
			delta += Unzigzag(r.Uvarint())
			ts += delta
		}
		dst = append(dst, Sample{TS: ts * unit})
	}
	qs := r.Runs(make([]byte, 0, n), n)
	for i, q := range qs {
		dst[base+i].Q = uns.Quality(q)
	}
	r.ReadValues(n, make([]byte, 0, n), func(i int, v uns.Value) { dst[base+i].V = v })
	if r.Err == nil && len(r.B) != 0 {
		r.Fail()
	}
	if r.Err != nil {
		return dst[:base], r.Err
	}
	return dst, nil
}

// zstd encoder and decoder shared by every store; EncodeAll and DecodeAll
// are safe for concurrent use.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
)

func Compress(b []byte) []byte { return zenc.EncodeAll(b, make([]byte, 0, len(b)/4+16)) }

func Decompress(b []byte) ([]byte, error) {
	out, err := zdec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return out, nil
}
