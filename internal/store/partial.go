package store

import (
	"cmp"
	"math"
	"slices"

	"github.com/molen-io/molen/internal/uns"
)

// Rollup resolutions: backends keep, per series, the partial aggregates of
// its points by minute and by hour, and answer Aggregate from them for the
// whole rollup buckets of a range.
const (
	RollupMinute = int64(60e9)
	RollupHour   = 60 * RollupMinute
)

// rollupSpan returns the part [lo, hi) of [from, to) that whole buckets of
// res cover; lo == hi when there is none.
func rollupSpan(from, to, res int64) (lo, hi int64) {
	lo = from - from%res
	if lo < from {
		if lo > math.MaxInt64-res { // the next bucket would start past int64
			return from, from
		}
		lo += res
	}
	hi = to - to%res
	if lo >= hi {
		return from, from
	}
	return lo, hi
}

// Span is a part of an aggregate's range and where it is read from:
// rollups of resolution Res, or the points when Res is 0.
type Span struct {
	Res, From, To int64
}

// RollupSpans splits [from, to) for buckets of step: the whole buckets of
// the coarsest rollup resolution that divides step from its rollups, what
// is left at either end from the whole buckets of the next finer one that
// divides step, and the rest from the points. Every rollup bucket of a
// span lies within one bucket of step. The spans are in time order.
func RollupSpans(from, to, step int64) []Span {
	var out []Span
	var cover func(from, to int64, levels []int64)
	cover = func(from, to int64, levels []int64) {
		if from >= to {
			return
		}
		for i, res := range levels {
			if step%res != 0 {
				continue
			}
			if lo, hi := rollupSpan(from, to, res); lo < hi {
				cover(from, lo, levels[i+1:])
				out = append(out, Span{res, lo, hi})
				cover(hi, to, levels[i+1:])
				return
			}
		}
		out = append(out, Span{0, from, to})
	}
	cover(from, to, []int64{RollupHour, RollupMinute})
	return out
}

// RollupCutoff returns, for the cutoff cut of a rollup retention, the
// start of the bucket of res that holds cut: buckets that start before it
// end at or before cut and may be removed; the bucket holding cut stays,
// since its later points may still be stored raw (a raw period as long as
// the rollups' is valid).
func RollupCutoff(cut, res int64) int64 { return cut - cut%res }

// Partial is the aggregate state of the points of one bucket that one
// source (a block, a rollup row, a range of points) holds. Partials of one
// bucket from several sources merge into the bucket's aggregate: every
// aggregate Points offers is mergeable this way.
type Partial struct {
	Start           int64
	Count           int64 // every point
	NCount          int64 // numeric points (not strings)
	Sum, Min, Max   float64
	FirstTS, LastTS int64
	First, Last     uns.Value
}

// Add adds a point; points must come in ingest order so that among equal
// timestamps First keeps the one ingested first and Last the one ingested
// last.
func (p *Partial) Add(ts int64, v uns.Value) {
	if p.Count == 0 || ts < p.FirstTS {
		p.FirstTS, p.First = ts, v
	}
	if p.Count == 0 || ts >= p.LastTS {
		p.LastTS, p.Last = ts, v
	}
	p.Count++
	if f, ok := v.AsFloat(); ok {
		if p.NCount == 0 {
			p.Min, p.Max = f, f
		} else {
			p.Min, p.Max = math.Min(p.Min, f), math.Max(p.Max, f)
		}
		p.NCount++
		p.Sum += f
	}
}

// Merge adds q, whose points were all ingested after p's (which decides
// only between equal timestamps).
func (p *Partial) Merge(q *Partial) {
	if q.Count == 0 {
		return
	}
	if p.Count == 0 {
		start := p.Start
		*p = *q
		p.Start = start
		return
	}
	if q.FirstTS < p.FirstTS {
		p.FirstTS, p.First = q.FirstTS, q.First
	}
	if q.LastTS >= p.LastTS {
		p.LastTS, p.Last = q.LastTS, q.Last
	}
	p.Count += q.Count
	if q.NCount > 0 {
		if p.NCount == 0 {
			p.Min, p.Max = q.Min, q.Max
		} else {
			p.Min, p.Max = math.Min(p.Min, q.Min), math.Max(p.Max, q.Max)
		}
		p.NCount += q.NCount
		p.Sum += q.Sum
	}
}

// Bucket finishes p as the bucket of agg; ok is false when the aggregate
// used none of its points.
func (p *Partial) Bucket(agg Agg) (b Bucket, ok bool) {
	b.Start = p.Start
	switch agg {
	case Count:
		b.Value, b.Count = uns.Int(p.Count), p.Count
	case First:
		b.Value, b.Count = p.First, p.Count
	case Last:
		b.Value, b.Count = p.Last, p.Count
	default:
		b.Count = p.NCount
		switch agg {
		case Avg:
			b.Value = uns.Float(p.Sum / float64(p.NCount))
		case Min:
			b.Value = uns.Float(p.Min)
		case Max:
			b.Value = uns.Float(p.Max)
		case Sum:
			b.Value = uns.Float(p.Sum)
		}
	}
	return b, b.Count > 0
}

// Buckets collects the partials of the buckets of step in a range, by
// start: in a slice by index when the range has few enough of them (a
// chart's), else in a map.
type Buckets struct {
	step, first int64
	dense       []Partial
	sparse      map[int64]*Partial
}

// NewBuckets returns the buckets of step for [from, to), from < to.
func NewBuckets(from, to, step int64) *Buckets {
	b := &Buckets{step: step, first: from - from%step}
	if n := (to-1)/step - b.first/step + 1; n <= 1<<16 {
		b.dense = make([]Partial, n)
	} else {
		b.sparse = make(map[int64]*Partial)
	}
	return b
}

// Get returns the partial of the bucket holding ts, which must be in the
// range.
func (b *Buckets) Get(ts int64) *Partial {
	start := ts - ts%b.step
	if b.dense != nil {
		p := &b.dense[(start-b.first)/b.step]
		p.Start = start
		return p
	}
	p := b.sparse[start]
	if p == nil {
		p = &Partial{Start: start}
		b.sparse[start] = p
	}
	return p
}

// Result returns the buckets of agg that used any point, by start.
func (b *Buckets) Result(agg Agg) []Bucket {
	var out []Bucket
	for i := range b.dense {
		if bk, ok := b.dense[i].Bucket(agg); ok {
			out = append(out, bk)
		}
	}
	for _, p := range b.sparse {
		if bk, ok := p.Bucket(agg); ok {
			out = append(out, bk)
		}
	}
	if b.sparse != nil {
		slices.SortFunc(out, func(x, y Bucket) int { return cmp.Compare(x.Start, y.Start) })
	}
	return out
}
