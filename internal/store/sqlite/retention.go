package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
)

// Retention: Expire first flushes the head (as a compaction does), so
// that every old point is in a block; then it finds the org's blocks that
// start before their resolution's cutoff, and in one transaction deletes
// those that end before it and rewrites, in place (same id and gen, so
// ingest order among ties stays), those that straddle it. It holds
// compactMu throughout, so no compaction or merge changes blocks
// meanwhile, and commits with flushMu (txCommit), updating the first
// timestamps in memory in the same step for readers.

// expiring is a block that holds something older than its cutoff.
type expiring struct {
	id, series, res, gen, maxTS int64
	n                           int
}

// rewritten is a straddling block without its old points or buckets.
type rewritten struct {
	id, minTS, maxTS int64
	n                int
	data             []byte
}

// Expire implements store.Points.
func (s *Store) Expire(ctx context.Context, org string, r store.Retention, now time.Time) (store.ExpireStats, error) {
	var stats store.ExpireStats
	for _, d := range []time.Duration{r.Raw, r.Minute, r.Hour} {
		if d < 0 {
			return stats, fmt.Errorf("expire %s: %w: period %v is negative", org, store.ErrInvalid, d)
		}
	}
	cutoff := func(d time.Duration) int64 {
		if d == 0 {
			return math.MinInt64 // nothing is older
		}
		return now.Add(-d).UnixNano()
	}
	cuts := map[int64]int64{0: cutoff(r.Raw), minute: cutoff(r.Minute), hour: cutoff(r.Hour)}
	for _, res := range []int64{minute, hour} {
		if cuts[res] != math.MinInt64 {
			cuts[res] = store.RollupCutoff(cuts[res], res)
		}
	}
	cuts[minuteFirsts] = cuts[minute]
	if r == (store.Retention{}) {
		return stats, nil
	}

	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	// Runs after the writer lock below is given back. The blocks are
	// expired by then; small blocks left unmerged and pages left free are
	// the next compaction's, so a failure here is only logged. The flush
	// below writes a small block per series, and minute firsts are small:
	// they are merged as a compaction does, or a store whose heads are all
	// flushed by retention would keep one block per series and run
	// (measured in SteadyState: most of its pages were such blocks and
	// their index entries).
	defer func() {
		if err := s.merge(ctx, false); err != nil && !errors.Is(err, ErrClosed) {
			s.opts.Logger.Warn("storage: merging blocks after retention failed; the next compaction retries", "err", err)
		}
		if err := s.reclaim(ctx, reclaimRetention); err != nil && !errors.Is(err, ErrClosed) {
			s.opts.Logger.Warn("storage: returning free pages after retention failed; the next compaction retries", "err", err)
		}
	}()
	if err := s.flush(ctx); err != nil {
		return stats, fmt.Errorf("expire %s: flush head: %w", org, err)
	}
	old, err := s.expiring(ctx, org, cuts)
	if err != nil {
		return stats, fmt.Errorf("expire %s: %w", org, err)
	}
	if len(old) == 0 {
		return stats, nil
	}

	// Blocks change only under compactMu, which we hold: decode and
	// rewrite the straddling ones without the writer lock.
	count := func(res int64, n int) {
		switch res {
		case 0:
			stats.Points += int64(n)
		case minute: // not minuteFirsts: the same minutes as minute's
			stats.Minutes += int64(n)
		case hour:
			stats.Hours += int64(n)
		}
	}
	var (
		drop     []any
		rewrite  []rewritten
		touched  []int64 // series whose points change, by id
		gone     []colblock.Sample
		minFirst []newBlock // the minute firsts of the points removed
		gen      int64
	)
	// The points removed, by series in ingest order, become the minute
	// firsts of their series (see minuteFirsts), where the minute
	// rollups keep them.
	addFirsts := func() {
		if len(gone) == 0 {
			return
		}
		sortSamples(gone)
		var ps []store.Partial
		for _, p := range rollupOf(gone, minute) {
			if p.Start >= cuts[minute] {
				ps = append(ps, firstOnly(p))
			}
		}
		for part := range slices.Chunk(ps, colblock.MaxPoints) {
			minFirst = append(minFirst, newBlock{series: touched[len(touched)-1], res: minuteFirsts, gen: gen,
				minTS: part[0].Start, maxTS: part[len(part)-1].Start, n: len(part), data: colblock.Compress(encodeRollup(nil, minuteFirsts, part))})
		}
		gone, gen = gone[:0], 0
	}
	for _, b := range old {
		if b.res == 0 && (len(touched) == 0 || touched[len(touched)-1] != b.series) {
			addFirsts()
			touched = append(touched, b.series)
		}
		if b.res == 0 {
			gen = max(gen, b.gen)
		}
		if b.maxTS < cuts[b.res] {
			drop = append(drop, b.id)
			count(b.res, b.n)
			if b.res == 0 {
				ss, err := s.blockSamples(ctx, b.id)
				if err != nil {
					return stats, fmt.Errorf("expire %s: %w", org, err)
				}
				gone = append(gone, ss...)
			}
			continue
		}
		rw, removed, err := s.trimBlock(ctx, b, cuts[b.res])
		if err != nil {
			return stats, fmt.Errorf("expire %s: %w", org, err)
		}
		gone = append(gone, removed...)
		rewrite = append(rewrite, rw)
		count(b.res, b.n-rw.n)
	}
	addFirsts()

	type first struct {
		ts int64
		ok bool // a block holds a point of the series
	}
	firsts := make(map[int64]first, len(touched))
	if err := s.lockWriter(ctx); err != nil {
		return store.ExpireStats{}, fmt.Errorf("expire %s: %w", org, err)
	}
	defer s.unlockWriter()
	err = s.txCommit(ctx, func() error {
		for _, id := range drop {
			if _, err := s.deleteBlock.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("delete block %v: %w", id, err)
			}
		}
		for _, rw := range rewrite {
			if _, err := s.w.ExecContext(ctx, `UPDATE blocks SET min_ts = ?, max_ts = ?, n = ?, data = ? WHERE id = ?`,
				rw.minTS, rw.maxTS, rw.n, rw.data, rw.id); err != nil {
				return fmt.Errorf("rewrite block %d: %w", rw.id, err)
			}
		}
		for _, b := range minFirst {
			if _, err := s.insertBlock.ExecContext(ctx, b.series, b.res, b.gen, b.minTS, b.maxTS, b.n, b.data); err != nil {
				return fmt.Errorf("insert minute firsts: %w", err)
			}
		}
		// The first timestamp as stored: the oldest point in a block, or
		// the latest value's when none is left. Points of the ingest log
		// lower it again when they are read back (see load).
		for _, id := range touched {
			var ts sql.NullInt64
			if err := s.w.QueryRowContext(ctx, `SELECT min(min_ts) FROM blocks WHERE series_id = ? AND res = 0`, id).Scan(&ts); err != nil {
				return fmt.Errorf("first of series %d: %w", id, err)
			}
			f := first{ts: ts.Int64, ok: ts.Valid}
			if !f.ok {
				err := s.w.QueryRowContext(ctx, `SELECT ts FROM latest WHERE series_id = ?`, id).Scan(&ts)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("latest of series %d: %w", id, err)
				}
			}
			if ts.Valid {
				if _, err := s.setFirst.ExecContext(ctx, ts.Int64, id); err != nil {
					return fmt.Errorf("store first of series %d: %w", id, err)
				}
			}
			firsts[id] = f
		}
		return nil
	}, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for id, f := range firsts {
			st := s.idx.byID[id]
			// Points ingested since the flush are in the head, and may be
			// older still. One committed but not yet in the head lowers
			// first itself when it gets there (observe).
			for _, h := range []*head{s.frozen, s.active} {
				if h == nil || h.series[id] == nil {
					continue
				}
				for _, smp := range h.series[id].ss {
					if !f.ok || smp.TS < f.ts {
						f = first{ts: smp.TS, ok: true}
					}
				}
			}
			if !f.ok {
				f.ts = st.latest.TS
			}
			st.first = f.ts
		}
	})
	if err != nil {
		return store.ExpireStats{}, fmt.Errorf("expire %s: %w", org, err)
	}
	return stats, nil
}

// expiring returns the blocks of org's series that start before the
// cutoff of their resolution, by series.
func (s *Store) expiring(ctx context.Context, org string, cuts map[int64]int64) ([]expiring, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, series_id, res, gen, max_ts, n FROM blocks
		WHERE series_id IN (SELECT id FROM series WHERE org = ?)
			AND (res = 0 AND min_ts < ? OR res IN (?, ?) AND min_ts < ? OR res = ? AND min_ts < ?)
		ORDER BY series_id, res, gen, id`, org, cuts[0], minute, minuteFirsts, cuts[minute], hour, cuts[hour])
	if err != nil {
		return nil, fmt.Errorf("find old blocks: %w", err)
	}
	defer rows.Close()
	var out []expiring
	for rows.Next() {
		var b expiring
		if err := rows.Scan(&b.id, &b.series, &b.res, &b.gen, &b.maxTS, &b.n); err != nil {
			return nil, fmt.Errorf("find old blocks: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find old blocks: %w", err)
	}
	return out, nil
}

// readBlock returns the data of block id, decompressed.
func (s *Store) readBlock(ctx context.Context, id int64) ([]byte, error) {
	var data []byte
	if err := s.blockData.QueryRowContext(ctx, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("read block %d: %w", id, err)
	}
	data, err := colblock.Decompress(data)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	return data, nil
}

// blockSamples returns the points of block id.
func (s *Store) blockSamples(ctx context.Context, id int64) ([]colblock.Sample, error) {
	data, err := s.readBlock(ctx, id)
	if err != nil {
		return nil, err
	}
	ss, err := colblock.Decode(nil, data)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	return ss, nil
}

// trimBlock returns block b without its points (or buckets) before cut,
// and the points it removed; b ends at or after cut, so something is
// left.
func (s *Store) trimBlock(ctx context.Context, b expiring, cut int64) (rewritten, []colblock.Sample, error) {
	rw := rewritten{id: b.id}
	if b.res == 0 {
		ss, err := s.blockSamples(ctx, b.id)
		if err != nil {
			return rw, nil, err
		}
		i, _ := slices.BinarySearchFunc(ss, cut, func(s sample, t int64) int { return cmp.Compare(s.TS, t) })
		left := ss[i:]
		rw.n, rw.minTS, rw.maxTS = len(left), left[0].TS, left[len(left)-1].TS
		rw.data = colblock.Compress(colblock.Encode(nil, left))
		return rw, ss[:i], nil
	}
	data, err := s.readBlock(ctx, b.id)
	if err != nil {
		return rw, nil, err
	}
	ps, err := decodeRollup(nil, b.res, data)
	if err != nil {
		return rw, nil, fmt.Errorf("rollup block %d: %w", b.id, err)
	}
	i, _ := slices.BinarySearchFunc(ps, cut, func(p store.Partial, t int64) int { return cmp.Compare(p.Start, t) })
	ps = ps[i:]
	rw.n, rw.minTS, rw.maxTS = len(ps), ps[0].Start, ps[len(ps)-1].Start
	rw.data = colblock.Compress(encodeRollup(nil, b.res, ps))
	return rw, nil, nil
}

// firstsOfOldRollups keeps, when a database of schema version 5 is
// opened, the first values its minute rollups held of points retention
// has removed: retention removes a series' points from the oldest on, so
// those are the points before the series' oldest stored point. Each minute
// whose first point is before it gets a minute first (see minuteFirsts),
// counting the points of the minute no longer stored. The old minute
// rollups stay as they are; their first values are no longer read.
func firstsOfOldRollups(s *Store, ctx context.Context) error {
	type old struct {
		series, gen int64
		data        []byte
	}
	var olds []old
	rows, err := s.w.QueryContext(ctx, `SELECT series_id, gen, data FROM blocks WHERE res = ? ORDER BY series_id, gen, id`, minute)
	if err != nil {
		return err
	}
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.series, &o.gen, &o.data); err != nil {
			rows.Close()
			return err
		}
		olds = append(olds, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// How many points of a series in [from, to) its point blocks hold.
	stored := func(series, from, to int64) (int64, error) {
		rows, err := s.w.QueryContext(ctx, `SELECT data FROM blocks WHERE series_id = ? AND res = 0 AND max_ts >= ? AND min_ts < ?`, series, from, to)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var n int64
		for rows.Next() {
			var b []byte
			err := rows.Scan(&b)
			if err == nil {
				b, err = colblock.Decompress(b)
			}
			var ss []colblock.Sample
			if err == nil {
				ss, err = colblock.Decode(nil, b)
			}
			if err != nil {
				return 0, fmt.Errorf("block of series %d: %w", series, err)
			}
			for _, smp := range ss {
				if smp.TS >= from && smp.TS < to {
					n++
				}
			}
		}
		return n, rows.Err()
	}
	for i := 0; i < len(olds); {
		series, gen := olds[i].series, int64(0)
		var ps []store.Partial
		for ; i < len(olds) && olds[i].series == series; i++ {
			b, err := colblock.Decompress(olds[i].data)
			if err != nil {
				return fmt.Errorf("minute rollup of series %d: %w", series, err)
			}
			if !rollupHasFirst(b) {
				continue
			}
			if ps, err = decodeRollup(ps, minute, b); err != nil {
				return fmt.Errorf("minute rollup of series %d: %w", series, err)
			}
			gen = max(gen, olds[i].gen)
		}
		if len(ps) == 0 {
			continue
		}
		first := int64(math.MaxInt64) // the oldest point still stored
		var ts sql.NullInt64
		if err := s.w.QueryRowContext(ctx, `SELECT min(min_ts) FROM blocks WHERE series_id = ? AND res = 0`, series).Scan(&ts); err != nil {
			return err
		}
		if ts.Valid {
			first = ts.Int64
		}
		var firsts []store.Partial
		for _, p := range mergePartials(ps) {
			if p.FirstTS >= first {
				continue
			}
			if p.LastTS >= first {
				n, err := stored(series, p.Start, p.Start+minute)
				if err != nil {
					return err
				}
				if p.Count -= n; p.Count <= 0 {
					continue
				}
			}
			firsts = append(firsts, firstOnly(p))
		}
		for part := range slices.Chunk(firsts, colblock.MaxPoints) {
			if _, err := s.w.ExecContext(ctx, `INSERT INTO blocks (series_id, res, gen, min_ts, max_ts, n, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				series, minuteFirsts, gen, part[0].Start, part[len(part)-1].Start, len(part), colblock.Compress(encodeRollup(nil, minuteFirsts, part))); err != nil {
				return fmt.Errorf("minute firsts of series %d: %w", series, err)
			}
		}
	}
	return nil
}

// firstOnly is what a minute first keeps of a partial: its count, first
// timestamp and first value.
func firstOnly(p store.Partial) store.Partial {
	return store.Partial{Start: p.Start, Count: p.Count, FirstTS: p.FirstTS, First: p.First}
}
