package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
)

var sqlSeriesID = sqlText(`SELECT id FROM {s}.series WHERE org = $1 AND path = $2`)

// Aggregate implements store.Points. Count in a bucket is the number of
// points the aggregate looked at: numeric points (not strings) for avg,
// min, max and sum; every point for count, first and last. A bucket with
// only strings is empty for the numeric aggregates and so omitted.
func (s *Store) Aggregate(ctx context.Context, org, series string, from, to, step int64, agg store.Agg) ([]store.Bucket, error) {
	if step <= 0 {
		return nil, fmt.Errorf("aggregate %s: %w: step %d must be positive", series, store.ErrInvalid, step)
	}
	if _, err := store.ParseAgg(string(agg)); err != nil {
		return nil, fmt.Errorf("aggregate %s: %w: %w", series, store.ErrInvalid, err)
	}
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", series, err)
	}
	if !store.Text(org) || !store.Text(series) || from >= to {
		return nil, nil
	}
	out, err := s.aggregate(ctx, org, series, from, to, step, agg)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s %s by %d: %w", agg, series, step, err)
	}
	return out, nil
}

func (s *Store) aggregate(ctx context.Context, org, series string, from, to, step int64, agg store.Agg) ([]store.Bucket, error) {
	var id int32
	if err := s.pool.QueryRow(ctx, s.sql(sqlSeriesID), org, series).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("series id: %w", err)
	}
	// Whole minutes and hours come from the rollups, the rest from the
	// points, compacted or not (store.RollupSpans).
	return s.aggregateSpans(ctx, id, from, to, step, store.RollupSpans(from, to, step), agg)
}
