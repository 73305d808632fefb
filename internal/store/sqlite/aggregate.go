package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
)

// view reads one series consistently: blocks and rollups from the
// database, then the heads. The caller of read holds flushMu for reading,
// so no compaction moves points from a head into blocks meanwhile, and
// every point is in exactly one of them.
type view struct {
	s  *Store
	tx *sql.Tx
	id int64
}

// read runs fn on a view of org's series, or does nothing if the series
// does not exist.
func (s *Store) read(ctx context.Context, org, series string, fn func(*view) error) error {
	s.flushMu.RLock()
	defer s.flushMu.RUnlock()
	s.mu.RLock()
	st := s.idx.byKey[seriesKey{org, series}]
	s.mu.RUnlock()
	if st == nil {
		return nil
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&view{s: s, tx: tx, id: st.id})
}

// blobs returns the data of the blocks of resolution res (0 for points) of
// the series that overlap [from, to), in ingest order (gen, then id).
func (v *view) blobs(ctx context.Context, res, from, to int64) ([][]byte, error) {
	rows, err := v.tx.QueryContext(ctx, `SELECT data FROM blocks
		WHERE series_id = ? AND res = ? AND max_ts >= ? AND min_ts < ? ORDER BY gen, id`, v.id, res, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if b, err = colblock.Decompress(b); err != nil {
			return nil, fmt.Errorf("block of series %d: %w", v.id, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// heads appends the head samples of the series in [from, to), in ingest
// order.
func (v *view) heads(dst []colblock.Sample, from, to int64) []colblock.Sample {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	if f := v.s.frozen; f != nil {
		dst = f.appendRange(dst, v.id, from, to)
	}
	return v.s.active.appendRange(dst, v.id, from, to)
}

// samples returns the points of the series in [from, to) in time order,
// ties in ingest order.
func (v *view) samples(ctx context.Context, from, to int64) ([]colblock.Sample, error) {
	ss, err := v.stored(ctx, nil, from, to)
	if err != nil {
		return nil, err
	}
	ss = v.heads(ss, from, to)
	sortSamples(ss)
	return ss, nil
}

// stored appends the points of blocks in [from, to), in ingest order by
// block.
func (v *view) stored(ctx context.Context, dst []colblock.Sample, from, to int64) ([]colblock.Sample, error) {
	if from >= to {
		return dst, nil
	}
	bs, err := v.blobs(ctx, 0, from, to)
	if err != nil {
		return nil, err
	}
	var buf []colblock.Sample
	for _, b := range bs {
		if buf, err = colblock.Decode(buf[:0], b); err != nil {
			return nil, fmt.Errorf("block of series %d: %w", v.id, err)
		}
		lo, _ := slices.BinarySearchFunc(buf, from, func(s sample, t int64) int { return cmp.Compare(s.TS, t) })
		hi, _ := slices.BinarySearchFunc(buf, to, func(s sample, t int64) int { return cmp.Compare(s.TS, t) })
		dst = append(dst, buf[lo:hi]...)
	}
	return dst, nil
}

// Aggregate implements store.Points. Count in a bucket is the number of
// points the aggregate looked at: numeric points (not strings) for avg,
// min, max and sum; every point for count, first and last. A bucket with
// only strings is empty for the numeric aggregates and so omitted.
//
// With a step that is a multiple of an hour (a minute), the whole hours
// (minutes) of the range come from the hourly (minutely) rollups and only
// the ragged ends and the heads from points; see store.RollupSpans.
func (s *Store) Aggregate(ctx context.Context, org, series string, from, to, step int64, agg store.Agg) ([]store.Bucket, error) {
	if step <= 0 {
		return nil, fmt.Errorf("aggregate %s: %w: step %d must be positive", series, store.ErrInvalid, step)
	}
	if _, err := store.ParseAgg(string(agg)); err != nil {
		return nil, fmt.Errorf("aggregate %s: %w: %w", series, store.ErrInvalid, err)
	}
	var out []store.Bucket
	err := s.read(ctx, org, series, func(v *view) error {
		var err error
		out, err = v.aggregate(ctx, from, to, step, agg, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("aggregate %s %s by %d: %w", agg, series, step, err)
	}
	return out, nil
}

// aggregate computes the buckets; useRollups false reads points only
// (BenchmarkAggregate compares both).
func (v *view) aggregate(ctx context.Context, from, to, step int64, agg store.Agg, useRollups bool) ([]store.Bucket, error) {
	if from >= to {
		return nil, nil
	}
	bs := store.NewBuckets(from, to, step)
	addSamples := func(ss []colblock.Sample) {
		for _, smp := range ss {
			bs.Get(smp.TS).Add(smp.TS, smp.V)
		}
	}

	// Whole rollup buckets from the rollups, coarsest first; the rest
	// from the stored points.
	spans := []store.Span{{From: from, To: to}}
	if useRollups {
		spans = store.RollupSpans(from, to, step)
	}
	var ps []store.Partial
	for _, sp := range spans {
		if sp.Res == 0 {
			ss, err := v.stored(ctx, nil, sp.From, sp.To)
			if err != nil {
				return nil, err
			}
			addSamples(ss)
			continue
		}
		// Minute rollups keep no first values: those come from the
		// minute firsts of the points retention removed, then (ingested
		// after them) from the points left.
		res := sp.Res
		firsts := res == minute && agg == store.First
		if firsts {
			res = minuteFirsts
		}
		blobs, err := v.blobs(ctx, res, sp.From, sp.To)
		if err != nil {
			return nil, err
		}
		for _, b := range blobs {
			if ps, err = decodeRollup(ps[:0], res, b); err != nil {
				return nil, fmt.Errorf("rollup of series %d: %w", v.id, err)
			}
			for i := range ps {
				if ps[i].Start >= sp.From && ps[i].Start < sp.To {
					bs.Get(ps[i].Start).Merge(&ps[i])
				}
			}
		}
		if firsts {
			ss, err := v.stored(ctx, nil, sp.From, sp.To)
			if err != nil {
				return nil, err
			}
			addSamples(ss)
		}
	}
	// The heads come last: their points were ingested after every stored
	// one, and no rollup holds them yet.
	addSamples(v.heads(nil, from, to))

	return bs.Result(agg), nil
}
