package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
)

var (
	sqlExpirePoints = sqlText(`DELETE FROM {s}.points
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND ts < $2`)
	sqlExpireBlocks = sqlText(`DELETE FROM {s}.blocks
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND t1 < $2 RETURNING n`)
	// Blocks that straddle the cut: their points before it go.
	sqlStraddling = sqlText(`SELECT id, data FROM {s}.blocks
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND t0 < $2 AND t1 >= $2 FOR UPDATE`)
	sqlRewriteBlock  = sqlText(`UPDATE {s}.blocks SET t0 = $2, n = $3, data = $4 WHERE id = $1`)
	sqlExpireRollups = sqlText(`DELETE FROM {s}.rollups
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND res = $2 AND b < $3`)
	// The first timestamp becomes the oldest point left, or the latest
	// value's when none is (the latest row stays). Under read committed
	// this statement sees points committed after the DELETE, too.
	sqlExpireFirst = sqlText(`UPDATE {s}.series AS s SET first_ts = coalesce(
			least((SELECT min(p.ts) FROM {s}.points p WHERE p.series_id = s.id),
				(SELECT min(b.t0) FROM {s}.blocks b WHERE b.series_id = s.id)),
			(SELECT l.ts FROM {s}.latest l WHERE l.series_id = s.id),
			s.first_ts)
		WHERE s.org = $1 AND s.first_ts < $2`)
)

// Expire implements store.Points: in one transaction it deletes org's
// points older than now-r.Raw and raises the first timestamps of its
// series; then it deletes its minute (hour) rollups that end at or before
// now-r.Minute (now-r.Hour; store.RollupCutoff). Deleted rows leave space
// that VACUUM reuses; partitions are not dropped, since they hold every
// organisation's points.
func (s *Store) Expire(ctx context.Context, org string, r store.Retention, now time.Time) (store.ExpireStats, error) {
	var stats store.ExpireStats
	for _, d := range []time.Duration{r.Raw, r.Minute, r.Hour} {
		if d < 0 {
			return stats, fmt.Errorf("expire %s: %w: period %v is negative", org, store.ErrInvalid, d)
		}
	}
	if !store.Text(org) {
		return stats, nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if r.Raw == 0 {
			return nil
		}
		cut := now.Add(-r.Raw).UnixNano()
		// After a compaction, not beside one: its blocks are seen whole.
		if _, err := tx.Exec(ctx, s.sql(sqlCompactLock), s.schema); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		tag, err := tx.Exec(ctx, s.sql(sqlExpirePoints), org, cut)
		if err != nil {
			return fmt.Errorf("delete points: %w", err)
		}
		stats.Points = tag.RowsAffected()
		n, err := s.expireBlocks(ctx, tx, org, cut)
		if err != nil {
			return err
		}
		stats.Points += n
		if _, err := tx.Exec(ctx, s.sql(sqlExpireFirst), org, cut); err != nil {
			return fmt.Errorf("update first timestamps: %w", err)
		}
		return nil
	})
	if err == nil && stats.Points > 0 {
		// The cached first_ts of org's series may be below the committed
		// one now; a lower cached value would keep Ingest from lowering it.
		s.mu.Lock()
		maps.DeleteFunc(s.series, func(k seriesKey, _ seriesEntry) bool { return k.org == org })
		s.mu.Unlock()
	}
	// Rollups go in transactions of their own: holding series rows (above)
	// while waiting for rollup rows would invert Ingest's lock order.
	for _, roll := range []struct {
		res int64
		d   time.Duration
		n   *int64
	}{{store.RollupMinute, r.Minute, &stats.Minutes}, {store.RollupHour, r.Hour, &stats.Hours}} {
		if err != nil || roll.d == 0 {
			continue
		}
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, s.sql(sqlExpireRollups), org, roll.res, store.RollupCutoff(now.Add(-roll.d).UnixNano(), roll.res))
			if err != nil {
				return fmt.Errorf("delete rollups: %w", err)
			}
			*roll.n = tag.RowsAffected()
			return nil
		})
	}
	if err != nil {
		return store.ExpireStats{}, fmt.Errorf("expire %s: %w", org, err)
	}
	return stats, nil
}

// expireBlocks deletes org's blocks that end before cut and rewrites
// those that straddle it without their points before it (so Raw and
// Series' First are exact at the cut, as for rows); it returns the number
// of points removed.
func (s *Store) expireBlocks(ctx context.Context, tx pgx.Tx, org string, cut int64) (int64, error) {
	rows, err := tx.Query(ctx, s.sql(sqlExpireBlocks), org, cut)
	if err != nil {
		return 0, fmt.Errorf("delete blocks: %w", err)
	}
	var gone int64
	var n int32
	if _, err := pgx.ForEachRow(rows, []any{&n}, func() error { gone += int64(n); return nil }); err != nil {
		return 0, fmt.Errorf("delete blocks: %w", err)
	}
	rows, err = tx.Query(ctx, s.sql(sqlStraddling), org, cut)
	if err != nil {
		return 0, fmt.Errorf("read blocks at the cut: %w", err)
	}
	type rewrite struct {
		id   int64
		keep []colblock.Sample
	}
	var rws []rewrite
	var id int64
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		ss, err := readBlock(nil, data)
		if err != nil {
			return fmt.Errorf("block %d: %w", id, err)
		}
		i, _ := slices.BinarySearchFunc(ss, cut, func(smp colblock.Sample, t int64) int { return cmp.Compare(smp.TS, t) })
		gone += int64(i)
		rws = append(rws, rewrite{id, ss[i:]})
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read blocks at the cut: %w", err)
	}
	for _, rw := range rws {
		if _, err := tx.Exec(ctx, s.sql(sqlRewriteBlock), rw.id, rw.keep[0].TS, len(rw.keep),
			colblock.Compress(colblock.Encode(nil, rw.keep))); err != nil {
			return 0, fmt.Errorf("rewrite block %d: %w", rw.id, err)
		}
	}
	return gone, nil
}
