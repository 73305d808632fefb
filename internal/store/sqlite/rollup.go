package sqlite

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// Rollup resolutions (store.RollupSpans): every compaction also stores, per
// series, the partial aggregates of its points by minute and by hour.
// Minute rollups keep no first values (nor their timestamps): first by the
// minute comes from the points, and for the points retention removed, from
// the minute firsts it keeps of them (res minuteFirsts: the count and
// first point of the removed points of each minute; see Expire). The
// first values took a sixth of the minute rollups (ADR 0010, step 8);
// last values, which PromQL and the charts' last mode ask for, stay.
const (
	minute       = store.RollupMinute
	hour         = store.RollupHour
	minuteFirsts = -minute
)

// The flags of a rollup of version 3: which of the first and last values
// (and their timestamps) it holds.
const (
	rollupFirst = 1 << iota
	rollupLast
)

// rollupFlags returns what rollups of res keep.
func rollupFlags(res int64) byte {
	switch res {
	case minute:
		return rollupLast
	case minuteFirsts:
		return rollupFirst
	}
	return rollupFirst | rollupLast
}

// rollupVersion is the first byte of an encoded rollup. Version 1 stored
// sums, minima and maxima as XORed float bits and the offsets of the first
// and last timestamps in ns, version 2 had no floatsMean columns and no
// flags (every rollup had first and last values); both are still read.
const rollupVersion = 3

// sumTolerance is how far, relative to its size, a stored sum may be from
// the sum computed in float64: a sum of decimals with d digits is stored as
// a decimal of d digits where it is that close, which only removes the
// rounding errors of adding in binary.
const sumTolerance = 1e-12

// encodeRollup encodes partials (of one series and resolution, by start)
// as columns: a byte of flags (rollupFlags), starts as deltas in units of
// the resolution, counts, numeric counts, then float columns
// (appendFloats) of minima, maxima and sums (sums as decimals of the
// minima's and maxima's digits where they are within sumTolerance of one),
// the offsets from the start of the first and of the last timestamps in a
// common unit (see encodeBlock), then the first and the last values; of
// first and last only those the flags name.
func encodeRollup(b []byte, res int64, ps []store.Partial) []byte {
	return encodeRollupFlags(b, res, ps, rollupFlags(res))
}

func encodeRollupFlags(b []byte, res int64, ps []store.Partial, flags byte) []byte {
	res = max(res, -res) // minuteFirsts are by the minute
	b = append(b, rollupVersion, flags)
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
	b = colblock.AppendFloats(b, mins)
	b = colblock.AppendFloats(b, maxs)
	if d := colblock.Decimals(append(mins, maxs...)); d >= 0 && nearDecimals(sums, d) {
		b = colblock.AppendDecimals(b, sums, d)
	} else {
		b = colblock.AppendFloats(b, sums)
	}
	if flags == 0 {
		return b
	}
	first, last := flags&rollupFirst != 0, flags&rollupLast != 0
	e := colblock.MaxUnit
	for _, p := range ps {
		if first {
			e = colblock.UnitOf(e, p.FirstTS-p.Start)
		}
		if last {
			e = colblock.UnitOf(e, p.LastTS-p.Start)
		}
	}
	b = append(b, byte(e))
	for _, p := range ps {
		if first {
			b = binary.AppendUvarint(b, uint64((p.FirstTS-p.Start)/colblock.IPow10[e]))
		}
	}
	for _, p := range ps {
		if last {
			b = binary.AppendUvarint(b, uint64((p.LastTS-p.Start)/colblock.IPow10[e]))
		}
	}
	var firsts, lasts colblock.ValueCols
	for _, p := range ps {
		firsts.Add(p.First)
		lasts.Add(p.Last)
	}
	if first {
		b = firsts.AppendTo(b)
	}
	if last {
		b = lasts.AppendTo(b)
	}
	return b
}

// nearDecimals reports whether every float of fs is within sumTolerance
// of a decimal of d digits.
func nearDecimals(fs []float64, d int) bool {
	for _, f := range fs {
		k := math.Round(f * colblock.Pow10[d])
		if math.Abs(k) >= 1<<53 || math.Abs(k/colblock.Pow10[d]-f) > sumTolerance*max(1, math.Abs(f)) {
			return false
		}
	}
	return true
}

// rollupHasFirst reports whether an encoded rollup holds first values:
// every rollup before version 3 does.
func rollupHasFirst(b []byte) bool {
	return len(b) > 0 && (b[0] < 3 || len(b) > 1 && b[1]&rollupFirst != 0)
}

// decodeRollup appends the partials of an encoded rollup to dst. Partials
// of a rollup without first (last) values have their first (last)
// timestamp at their start and no first (last) value.
func decodeRollup(dst []store.Partial, res int64, b []byte) ([]store.Partial, error) {
	res = max(res, -res)
	r := &colblock.Reader{B: b}
	version := r.Byte()
	if version < 1 || version > rollupVersion {
		return dst, fmt.Errorf("%w: unknown rollup version", colblock.ErrCorrupt)
	}
	flags := byte(rollupFirst | rollupLast)
	if version >= 3 {
		if flags = r.Byte(); flags&^(rollupFirst|rollupLast) != 0 {
			r.Fail()
		}
	}
	first, last := flags&rollupFirst != 0, flags&rollupLast != 0
	n64 := r.Uvarint()
	if n64 > colblock.MaxPoints {
		return dst, fmt.Errorf("%w: %d buckets in a rollup", colblock.ErrCorrupt, n64)
	}
	n := int(n64)
	base := len(dst)
	var start int64
	for i := 0; i < n && r.Err == nil; i++ {
		start += int64(r.Uvarint()) * res
		dst = append(dst, store.Partial{Start: start})
	}
	ps := dst[base:]
	for i := range ps {
		ps[i].Count = int64(r.Uvarint())
	}
	for i := range ps {
		ps[i].NCount = int64(r.Uvarint())
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
				prev ^= r.Uint64()
				f(&ps[i], math.Float64frombits(prev))
			}
		}
	} else {
		for _, f := range []func(*store.Partial, float64){
			func(p *store.Partial, v float64) { p.Min = v },
			func(p *store.Partial, v float64) { p.Max = v },
			func(p *store.Partial, v float64) { p.Sum = v },
		} {
			fr := colblock.NewFloatReader(r)
			for i := range ps {
				f(&ps[i], fr.Next())
			}
		}
		if first || last {
			if e := r.Byte(); e > colblock.MaxUnit {
				r.Fail()
			} else {
				unit = colblock.IPow10[e]
			}
		}
	}
	for i := range ps {
		ps[i].FirstTS, ps[i].LastTS = ps[i].Start, ps[i].Start
	}
	if first {
		for i := range ps {
			ps[i].FirstTS += int64(r.Uvarint()) * unit
		}
	}
	if last {
		for i := range ps {
			ps[i].LastTS += int64(r.Uvarint()) * unit
		}
	}
	var kinds []byte
	if first {
		kinds = r.ReadValues(n, kinds, func(i int, v uns.Value) { ps[i].First = v })
	}
	if last {
		r.ReadValues(n, kinds, func(i int, v uns.Value) { ps[i].Last = v })
	}
	if r.Err == nil && len(r.B) != 0 {
		r.Fail()
	}
	if r.Err != nil {
		return dst[:base], r.Err
	}
	return dst, nil
}

// rollupOf computes the partials of ss (sorted by time, ties in ingest
// order) by res, sorted by start.
func rollupOf(ss []colblock.Sample, res int64) []store.Partial {
	var out []store.Partial
	for _, s := range ss {
		start := s.TS - s.TS%res
		if len(out) == 0 || out[len(out)-1].Start != start {
			out = append(out, store.Partial{Start: start})
		}
		out[len(out)-1].Add(s.TS, s.V)
	}
	return out
}
