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

// rollupVersion is the first byte of an encoded rollup.
const rollupVersion = 1

// encodeRollup encodes partials (of one series and resolution, by start)
// as columns: starts as deltas in units of res, counts, numeric counts,
// sums, minima and maxima as XORed float bits, the offsets of the first
// and last timestamps from the start, then the first and last values.
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
	for _, f := range []func(*store.Partial) float64{
		func(p *store.Partial) float64 { return p.Sum },
		func(p *store.Partial) float64 { return p.Min },
		func(p *store.Partial) float64 { return p.Max },
	} {
		var prev uint64
		for i := range ps {
			bits := math.Float64bits(f(&ps[i]))
			b = binary.LittleEndian.AppendUint64(b, bits^prev)
			prev = bits
		}
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.FirstTS-p.Start))
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.LastTS-p.Start))
	}
	var first, last valueCols
	for _, p := range ps {
		first.add(p.First)
		last.add(p.Last)
	}
	b = first.appendTo(b)
	return last.appendTo(b)
}

// decodeRollup appends the partials of an encoded rollup to dst.
func decodeRollup(dst []store.Partial, res int64, b []byte) ([]store.Partial, error) {
	r := &reader{b: b}
	if r.byte() != rollupVersion {
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
	var prev uint64
	for i := range ps {
		prev ^= r.uint64()
		ps[i].Sum = math.Float64frombits(prev)
	}
	prev = 0
	for i := range ps {
		prev ^= r.uint64()
		ps[i].Min = math.Float64frombits(prev)
	}
	prev = 0
	for i := range ps {
		prev ^= r.uint64()
		ps[i].Max = math.Float64frombits(prev)
	}
	for i := range ps {
		ps[i].FirstTS = ps[i].Start + int64(r.uvarint())
	}
	for i := range ps {
		ps[i].LastTS = ps[i].Start + int64(r.uvarint())
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
