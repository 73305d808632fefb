package sqlite

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Rollup resolutions: every compaction also stores, per series, the
// partial aggregates of its points by minute and by hour.
const (
	minute = int64(60e9)
	hour   = 60 * minute
)

// partial is the aggregate state of the points of one bucket that one
// source (a block, a rollup row, a head) holds. Partials of one bucket from
// several sources merge, in ingest order, into the bucket's aggregate:
// every aggregate store.Points offers is mergeable this way.
type partial struct {
	start           int64
	count           int64 // every point
	ncount          int64 // numeric points (not strings)
	sum, min, max   float64
	firstTS, lastTS int64
	first, last     uns.Value
}

// add adds a point; points must come in ingest order so that among equal
// timestamps first keeps the one ingested first and last the one ingested
// last.
func (p *partial) add(ts int64, v uns.Value) {
	if p.count == 0 || ts < p.firstTS {
		p.firstTS, p.first = ts, v
	}
	if p.count == 0 || ts >= p.lastTS {
		p.lastTS, p.last = ts, v
	}
	p.count++
	if f, ok := v.AsFloat(); ok {
		if p.ncount == 0 {
			p.min, p.max = f, f
		} else {
			p.min, p.max = math.Min(p.min, f), math.Max(p.max, f)
		}
		p.ncount++
		p.sum += f
	}
}

// merge adds q, whose points were all ingested after p's.
func (p *partial) merge(q *partial) {
	if q.count == 0 {
		return
	}
	if p.count == 0 {
		start := p.start
		*p = *q
		p.start = start
		return
	}
	if q.firstTS < p.firstTS {
		p.firstTS, p.first = q.firstTS, q.first
	}
	if q.lastTS >= p.lastTS {
		p.lastTS, p.last = q.lastTS, q.last
	}
	p.count += q.count
	if q.ncount > 0 {
		if p.ncount == 0 {
			p.min, p.max = q.min, q.max
		} else {
			p.min, p.max = math.Min(p.min, q.min), math.Max(p.max, q.max)
		}
		p.ncount += q.ncount
		p.sum += q.sum
	}
}

// bucket finishes p as the bucket of agg; ok is false when the aggregate
// used none of its points.
func (p *partial) bucket(agg store.Agg) (b store.Bucket, ok bool) {
	b.Start = p.start
	switch agg {
	case store.Count:
		b.Value, b.Count = uns.Int(p.count), p.count
	case store.First:
		b.Value, b.Count = p.first, p.count
	case store.Last:
		b.Value, b.Count = p.last, p.count
	default:
		b.Count = p.ncount
		switch agg {
		case store.Avg:
			b.Value = uns.Float(p.sum / float64(p.ncount))
		case store.Min:
			b.Value = uns.Float(p.min)
		case store.Max:
			b.Value = uns.Float(p.max)
		case store.Sum:
			b.Value = uns.Float(p.sum)
		}
	}
	return b, b.Count > 0
}

// rollupVersion is the first byte of an encoded rollup.
const rollupVersion = 1

// encodeRollup encodes partials (of one series and resolution, by start)
// as columns: starts as deltas in units of res, counts, numeric counts,
// sums, minima and maxima as XORed float bits, the offsets of the first
// and last timestamps from the start, then the first and last values.
func encodeRollup(b []byte, res int64, ps []partial) []byte {
	b = append(b, rollupVersion)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	var prev int64
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64((p.start-prev)/res))
		prev = p.start
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.count))
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.ncount))
	}
	for _, f := range []func(*partial) float64{
		func(p *partial) float64 { return p.sum },
		func(p *partial) float64 { return p.min },
		func(p *partial) float64 { return p.max },
	} {
		var prev uint64
		for i := range ps {
			bits := math.Float64bits(f(&ps[i]))
			b = binary.LittleEndian.AppendUint64(b, bits^prev)
			prev = bits
		}
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.firstTS-p.start))
	}
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p.lastTS-p.start))
	}
	var first, last valueCols
	for _, p := range ps {
		first.add(p.first)
		last.add(p.last)
	}
	b = first.appendTo(b)
	return last.appendTo(b)
}

// decodeRollup appends the partials of an encoded rollup to dst.
func decodeRollup(dst []partial, res int64, b []byte) ([]partial, error) {
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
		dst = append(dst, partial{start: start})
	}
	ps := dst[base:]
	for i := range ps {
		ps[i].count = int64(r.uvarint())
	}
	for i := range ps {
		ps[i].ncount = int64(r.uvarint())
	}
	var prev uint64
	for i := range ps {
		prev ^= r.uint64()
		ps[i].sum = math.Float64frombits(prev)
	}
	prev = 0
	for i := range ps {
		prev ^= r.uint64()
		ps[i].min = math.Float64frombits(prev)
	}
	prev = 0
	for i := range ps {
		prev ^= r.uint64()
		ps[i].max = math.Float64frombits(prev)
	}
	for i := range ps {
		ps[i].firstTS = ps[i].start + int64(r.uvarint())
	}
	for i := range ps {
		ps[i].lastTS = ps[i].start + int64(r.uvarint())
	}
	kinds := r.readValues(n, nil, func(i int, v uns.Value) { ps[i].first = v })
	r.readValues(n, kinds, func(i int, v uns.Value) { ps[i].last = v })
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
func rollupOf(ss []sample, res int64) []partial {
	var out []partial
	for _, s := range ss {
		start := s.ts - s.ts%res
		if len(out) == 0 || out[len(out)-1].start != start {
			out = append(out, partial{start: start})
		}
		out[len(out)-1].add(s.ts, s.v)
	}
	return out
}
