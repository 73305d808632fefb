package sqlite

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Rollup resolutions (store.RollupSpans): every compaction also stores, per
// series, the partial aggregates of its points by minute and by hour.
const (
	minute = store.RollupMinute
	hour   = store.RollupHour
)

// rollupVersion is the first byte of an encoded rollup. Version 1 stored
// sums, minima and maxima as XORed float bits and the offsets of the first
// and last timestamps in ns, version 2 had no floatsMean columns; both are
// still read.
const rollupVersion = 3

// sumTolerance is how far, relative to its size, a stored sum may be from
// the sum computed in float64: a sum of decimals with d digits is stored as
// a decimal of d digits where it is that close, which only removes the
// rounding errors of adding in binary.
const sumTolerance = 1e-12

// encodeRollup encodes partials (of one series and resolution, by start)
// as columns: starts as deltas in units of res, counts, numeric counts,
// then float columns (appendFloats) of minima, maxima and sums (sums as
// decimals of the minima's and maxima's digits where they are within
// sumTolerance of one), the offsets of the first and last timestamps from
// the start in a common unit (see encodeBlock), then the first and last
// values.
func encodeRollup(b []byte, res int64, ps []store.Partial) []byte {
	b = append(b, rollupVersion)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	var prev int64
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64((p.Start-prev)/res))
		prev = p.Start
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.Count))
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.NCount))
	}
	mins, maxs, sums := make([]float64, len(ps)), make([]float64, len(ps)), make([]float64, len(ps))
	for i, p := range ps {
		mins[i], maxs[i], sums[i] = p.Min, p.Max, p.Sum
	}
	b = appendFloats(b, mins)
	b = appendFloats(b, maxs)
	if d := decimals(append(mins, maxs...)); d >= 0 && nearDecimals(sums, d) {
		b = appendDecimals(b, sums, d)
	} else {
		b = appendFloats(b, sums)
	}
	e := maxUnit
	for _, p := range ps {
		e = unitOf(unitOf(e, p.FirstTS-p.Start), p.LastTS-p.Start)
	}
	b = append(b, byte(e))
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64((p.FirstTS-p.Start)/ipow10[e]))
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64((p.LastTS-p.Start)/ipow10[e]))
	}
	var first, last valueCols
	for _, p := range ps {
		first.add(p.First)
		last.add(p.Last)
	}
	b = first.appendTo(b)
	return last.appendTo(b)
}

// nearDecimals reports whether every float of fs is within sumTolerance
// of a decimal of d digits.
func nearDecimals(fs []float64, d int) bool {
	for _, f := range fs {
		k := math.Round(f * pow10[d])
		if math.Abs(k) >= 1<<53 || math.Abs(k/pow10[d]-f) > sumTolerance*max(1, math.Abs(f)) {
			return false
		}
	}
	return true
}

// decodeRollup appends the partials of an encoded rollup to dst.
func decodeRollup(dst []store.Partial, res int64, b []byte) ([]store.Partial, error) {
	r := &reader{b: b}
	version := r.byte()
	if version < 1 || version > rollupVersion {
		return dst, fmt.Errorf("%w: unknown rollup version", errCorrupt)
	}
	n64 := r.uvarint()
	if n64 > maxBlockPoints {
		return dst, fmt.Errorf("%w: %d buckets in a rollup", errCorrupt, n64)
	}
	n := int(n64)
	base := len(dst)
	var start int64
	for i := 0; i < n && r.err == nil; i++ {
		start += int64(r.uvarint()) * res
		dst = append(dst, store.Partial{Start: start})
	}
	ps := dst[base:]
	for i := range ps {
		ps[i].Count = int64(r.uvarint())
	}
	for i := range ps {
		ps[i].NCount = int64(r.uvarint())
	}
	unit := int64(1)
	if version == 1 {
		for _, f := range []func(*store.Partial, float64){
			func(p *store.Partial, v float64) { p.Sum = v },
			func(p *store.Partial, v float64) { p.Min = v },
			func(p *store.Partial, v float64) { p.Max = v },
		} {
			var prev uint64
			for i := range ps {
				prev ^= r.uint64()
				f(&ps[i], math.Float64frombits(prev))
			}
		}
	} else {
		for _, f := range []func(*store.Partial, float64){
			func(p *store.Partial, v float64) { p.Min = v },
			func(p *store.Partial, v float64) { p.Max = v },
			func(p *store.Partial, v float64) { p.Sum = v },
		} {
			fr := newFloatReader(r)
			for i := range ps {
				f(&ps[i], fr.next())
			}
		}
		e := r.byte()
		if e > maxUnit {
			r.fail()
		} else {
			unit = ipow10[e]
		}
	}
	for i := range ps {
		ps[i].FirstTS = ps[i].Start + int64(r.uvarint())*unit
	}
	for i := range ps {
		ps[i].LastTS = ps[i].Start + int64(r.uvarint())*unit
	}
	kinds := r.readValues(n, nil, func(i int, v uns.Value) { ps[i].First = v })
	r.readValues(n, kinds, func(i int, v uns.Value) { ps[i].Last = v })
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return dst[:base], r.err
	}
	return dst, nil
}

// rollupOf computes the partials of ss (sorted by time, ties in ingest
// order) by res, sorted by start.
func rollupOf(ss []sample, res int64) []store.Partial {
	var out []store.Partial
	for _, s := range ss {
		start := s.ts - s.ts%res
		if len(out) == 0 || out[len(out)-1].Start != start {
			out = append(out, store.Partial{Start: start})
		}
		out[len(out)-1].Add(s.ts, s.v)
	}
	return out
}
