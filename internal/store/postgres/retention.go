package postgres

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
)

var (
	sqlExpirePoints = sqlText(`DELETE FROM {s}.points
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND ts < $2`)
	sqlExpireRollups = sqlText(`DELETE FROM {s}.rollups
		WHERE series_id IN (SELECT id FROM {s}.series WHERE org = $1) AND res = $2 AND b < $3`)
	// The first timestamp becomes the oldest point left, or the latest
	// value's when none is (the latest row stays). Under read committed
	// this statement sees points committed after the DELETE, too.
	sqlExpireFirst = sqlText(`UPDATE {s}.series AS s SET first_ts = coalesce(
			(SELECT min(p.ts) FROM {s}.points p WHERE p.series_id = s.id),
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
		tag, err := tx.Exec(ctx, s.sql(sqlExpirePoints), org, cut)
		if err != nil {
			return fmt.Errorf("delete points: %w", err)
		}
		stats.Points = tag.RowsAffected()
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
