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
	id, series, res, maxTS int64
	n                      int
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
	if r == (store.Retention{}) {
		return stats, nil
	}

	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	// Runs after the writer lock below is given back. The blocks are
	// expired by then; pages left free are the next compaction's to
	// reclaim, so a failure here is only logged.
	defer func() {
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
		case minute:
			stats.Minutes += int64(n)
		case hour:
			stats.Hours += int64(n)
		}
	}
	var (
		drop    []any
		rewrite []rewritten
		touched []int64 // series whose points change, by id
	)
	for _, b := range old {
		if b.res == 0 && (len(touched) == 0 || touched[len(touched)-1] != b.series) {
			touched = append(touched, b.series)
		}
		if b.maxTS < cuts[b.res] {
			drop = append(drop, b.id)
			count(b.res, b.n)
			continue
		}
		rw, err := s.trimBlock(ctx, b, cuts[b.res])
		if err != nil {
			return stats, fmt.Errorf("expire %s: %w", org, err)
		}
		rewrite = append(rewrite, rw)
		count(b.res, b.n-rw.n)
	}

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
					if !f.ok || smp.ts < f.ts {
						f = first{ts: smp.ts, ok: true}
					}
				}
			}
			if !f.ok {
				f.ts = st.latest.ts
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, series_id, res, max_ts, n FROM blocks
		WHERE series_id IN (SELECT id FROM series WHERE org = ?)
			AND (res = 0 AND min_ts < ? OR res = ? AND min_ts < ? OR res = ? AND min_ts < ?)
		ORDER BY series_id, res, gen, id`, org, cuts[0], minute, cuts[minute], hour, cuts[hour])
	if err != nil {
		return nil, fmt.Errorf("find old blocks: %w", err)
	}
	defer rows.Close()
	var out []expiring
	for rows.Next() {
		var b expiring
		if err := rows.Scan(&b.id, &b.series, &b.res, &b.maxTS, &b.n); err != nil {
			return nil, fmt.Errorf("find old blocks: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find old blocks: %w", err)
	}
	return out, nil
}

// trimBlock returns block b without its points (or buckets) before cut;
// b ends at or after cut, so something is left.
func (s *Store) trimBlock(ctx context.Context, b expiring, cut int64) (rewritten, error) {
	rw := rewritten{id: b.id}
	var data []byte
	if err := s.r.QueryRowContext(ctx, `SELECT data FROM blocks WHERE id = ?`, b.id).Scan(&data); err != nil {
		return rw, fmt.Errorf("read block %d: %w", b.id, err)
	}
	data, err := decompress(data)
	if err != nil {
		return rw, fmt.Errorf("block %d: %w", b.id, err)
	}
	if b.res == 0 {
		ss, err := decodeBlock(nil, data)
		if err != nil {
			return rw, fmt.Errorf("block %d: %w", b.id, err)
		}
		i, _ := slices.BinarySearchFunc(ss, cut, func(s sample, t int64) int { return cmp.Compare(s.ts, t) })
		ss = ss[i:]
		rw.n, rw.minTS, rw.maxTS = len(ss), ss[0].ts, ss[len(ss)-1].ts
		rw.data = compress(encodeBlock(nil, ss))
		return rw, nil
	}
	ps, err := decodeRollup(nil, b.res, data)
	if err != nil {
		return rw, fmt.Errorf("rollup block %d: %w", b.id, err)
	}
	i, _ := slices.BinarySearchFunc(ps, cut, func(p store.Partial, t int64) int { return cmp.Compare(p.Start, t) })
	ps = ps[i:]
	rw.n, rw.minTS, rw.maxTS = len(ps), ps[0].Start, ps[len(ps)-1].Start
	rw.data = compress(encodeRollup(nil, b.res, ps))
	return rw, nil
}
