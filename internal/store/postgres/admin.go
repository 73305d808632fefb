package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
)

// Series administration runs in one transaction that locks the series
// rows it changes (FOR UPDATE), so an ingest of the same series waits for
// it, and forgets the changed series in the cache after the commit.
// Another hub on the same database keeps its cache: a point of a deleted
// series it ingests before it restarts is stored under the old id.

var (
	sqlSeriesForUpdate = sqlText(`SELECT id FROM {s}.series WHERE org = $1 AND path = $2 FOR UPDATE`)
	sqlDeleteSeries    = sqlText(`WITH p AS (DELETE FROM {s}.points WHERE series_id = $1),
		k AS (DELETE FROM {s}.blocks WHERE series_id = $1),
		r AS (DELETE FROM {s}.rollups WHERE series_id = $1),
		l AS (DELETE FROM {s}.latest WHERE series_id = $1)
		DELETE FROM {s}.series WHERE id = $1`)
	sqlRenameSeries = sqlText(`UPDATE {s}.series SET path = $2 WHERE id = $1`)
	sqlMovePoints   = sqlText(`UPDATE {s}.points SET series_id = $2 WHERE series_id = $1`)
	// Moved blocks may overlap the target's blocks of the same hours;
	// reads merge overlapping blocks (see mergeSamples).
	sqlMoveBlocks = sqlText(`UPDATE {s}.blocks SET series_id = $2 WHERE series_id = $1`)
	// sqlMergeRollups combines the rollups of $1 into those of $2: counts
	// and sums add, extremes widen, the first and last points are the
	// earlier and later by (ts, id).
	sqlMergeRollups = sqlText(`INSERT INTO {s}.rollups AS t
		SELECT $2, res, b, c, n, sum, mn, mx, f_ts, f_id, f_kind, f_vf, f_vi, f_vs, l_ts, l_id, l_kind, l_vf, l_vi, l_vs
		FROM {s}.rollups WHERE series_id = $1
		ON CONFLICT (series_id, res, b) DO UPDATE SET
			c = t.c + excluded.c, n = t.n + excluded.n, sum = t.sum + excluded.sum,
			mn = least(t.mn, excluded.mn), mx = greatest(t.mx, excluded.mx),
			f_ts = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_ts ELSE t.f_ts END,
			f_id = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_id ELSE t.f_id END,
			f_kind = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_kind ELSE t.f_kind END,
			f_vf = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_vf ELSE t.f_vf END,
			f_vi = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_vi ELSE t.f_vi END,
			f_vs = CASE WHEN (excluded.f_ts, excluded.f_id) < (t.f_ts, t.f_id) THEN excluded.f_vs ELSE t.f_vs END,
			l_ts = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_ts ELSE t.l_ts END,
			l_id = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_id ELSE t.l_id END,
			l_kind = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_kind ELSE t.l_kind END,
			l_vf = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_vf ELSE t.l_vf END,
			l_vi = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_vi ELSE t.l_vi END,
			l_vs = CASE WHEN (excluded.l_ts, excluded.l_id) > (t.l_ts, t.l_id) THEN excluded.l_vs ELSE t.l_vs END`)
	// sqlMergeLatest keeps the later of the two latest values.
	sqlMergeLatest = sqlText(`INSERT INTO {s}.latest AS t
		SELECT $2, ts, id, vf, vi, kind, q, vs FROM {s}.latest WHERE series_id = $1
		ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, id = excluded.id, vf = excluded.vf, vi = excluded.vi,
			kind = excluded.kind, q = excluded.q, vs = excluded.vs
		WHERE (excluded.ts, excluded.id) > (t.ts, t.id)`)
	sqlMergeFirst = sqlText(`UPDATE {s}.series SET first_ts = least(first_ts, (SELECT first_ts FROM {s}.series WHERE id = $1)) WHERE id = $2`)
)

// lockSeries returns the id of org's series path, locking its row.
func (s *Store) lockSeries(ctx context.Context, tx pgx.Tx, org, path string) (int32, error) {
	var id int32
	err := tx.QueryRow(ctx, s.sql(sqlSeriesForUpdate), org, path).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("series %s: %w", path, store.ErrNotFound)
	}
	return id, err
}

// forget drops paths of org from the cache.
func (s *Store) forget(org string, paths ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range paths {
		delete(s.series, seriesKey{org, p})
	}
}

// DeleteSeries implements store.SeriesAdmin.
func (s *Store) DeleteSeries(ctx context.Context, org, path string) error {
	if err := store.CheckAdmin(path); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := s.lockSeries(ctx, tx, org, path)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.sql(sqlDeleteSeries), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete series %s: %w", path, err)
	}
	s.forget(org, path)
	return nil
}

// RenameSeries implements store.SeriesAdmin.
func (s *Store) RenameSeries(ctx context.Context, org, from, to string) error {
	if err := store.CheckAdmin(from, to); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := s.lockSeries(ctx, tx, org, from)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.sql(sqlRenameSeries), id, to)
		if pgCode(err) == codeUniqueViolation {
			return fmt.Errorf("series %s: %w", to, store.ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("rename series %s to %s: %w", from, to, err)
	}
	s.forget(org, from, to)
	return nil
}

// MergeSeries implements store.SeriesAdmin.
func (s *Store) MergeSeries(ctx context.Context, org, from, into string) error {
	if err := store.CheckAdmin(from, into); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock in path order, as Ingest does.
		a, b := from, into
		if b < a {
			a, b = b, a
		}
		ids := map[string]int32{}
		for _, p := range []string{a, b} {
			id, err := s.lockSeries(ctx, tx, org, p)
			if err != nil {
				return err
			}
			ids[p] = id
		}
		src, dst := ids[from], ids[into]
		for _, q := range []string{sqlMovePoints, sqlMoveBlocks, sqlMergeRollups, sqlMergeLatest, sqlMergeFirst, sqlDeleteSeries} {
			args := []any{src, dst}
			if q == sqlDeleteSeries {
				args = args[:1]
			}
			if _, err := tx.Exec(ctx, s.sql(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge series %s into %s: %w", from, into, err)
	}
	s.forget(org, from, into)
	return nil
}
