package postgres

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// schemaV5 adds blocks: the points of a series older than the head, in
// the column block format of the embedded store (internal/store/colblock),
// compressed with zstd. A block holds points of one series within one UTC
// hour (blockSpan), at most colblock.MaxPoints of them, in (ts, id) order;
// t0 and t1 are its first and last timestamps, n its count. id grows
// with each block written: among blocks of one hour (rare: the parts of
// an hour past MaxPoints, or blocks moved by MergeSeries) it orders them
// as they were made, which is the order their points were ingested in.
// PostgreSQL stores the data as it is (STORAGE EXTERNAL): zstd output does
// not shrink again.
//
// blocks_by_series serves the reads: a block that overlaps [from, to)
// has t0 < to and, as it lies within one hour, t0 > from - blockSpan.
const schemaV5 = `
CREATE TABLE {s}.blocks (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	t0        bigint NOT NULL,
	t1        bigint NOT NULL,
	series_id integer NOT NULL,
	n         integer NOT NULL,
	data      bytea NOT NULL
);
ALTER TABLE {s}.blocks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX blocks_by_series ON {s}.blocks (series_id, t0);
`

// blockSpan is the time a block covers at most: one UTC hour, as the
// hour rollups. A series' points of an hour are compacted together once
// the hour has ended HeadAge ago.
const blockSpan = int64(time.Hour)

// defaultHeadAge is Options.HeadAge's default.
const defaultHeadAge = 10 * time.Minute

// hourOf returns the start of the block hour of ts (ts >= 0).
func hourOf(ts int64) int64 { return ts - ts%blockSpan }

// sqlSamples reads what Raw and the aggregates need of one series in
// [$2, $3) ($5 is $2 - blockSpan, or the least int64): the blocks that overlap it (src 0, the data in vs) in the order
// of their points, then the points not yet compacted (src 1) by (ts, id),
// at most $4 of them. One statement, so one snapshot: a compaction that
// commits meanwhile is seen whole or not at all.
var sqlSamples = sqlText(`SELECT 0::smallint, t0, id, 0::smallint, 0::smallint, NULL::float8, NULL::bigint, data
		FROM {s}.blocks WHERE series_id = $1 AND t0 < $3 AND t0 > $5 AND t1 >= $2
	UNION ALL (SELECT 1::smallint, ts, id, kind, q, vf, vi, vs FROM {s}.points
		WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, id LIMIT $4)
	ORDER BY 1, 2, 3`)

// samples returns the points of series id in [from, to), in time order,
// ties in ingest order, compacted or not; with limit > 0 at most limit of
// them. Of two points with the same timestamp, one in a block and one not
// yet compacted, the compacted one comes first: it was ingested first,
// but for a point that an ingest still in flight when its hour was
// compacted stores late with a lower id.
func (s *Store) samples(ctx context.Context, id int32, from, to int64, limit int) ([]colblock.Sample, error) {
	lo := int64(math.MinInt64)
	if from > math.MinInt64+blockSpan {
		lo = from - blockSpan
	}
	rows, err := s.pool.Query(ctx, s.sql(sqlSamples), id, from, to, limitArg(limit), lo)
	if err != nil {
		return nil, err
	}
	var blocked, fresh []colblock.Sample
	var src, kind, qual int16
	var ts, pid int64
	var vf pgtype.Float8
	var vi pgtype.Int8
	var vs []byte
	_, err = pgx.ForEachRow(rows, []any{&src, &ts, &pid, &kind, &qual, &vf, &vi, &vs}, func() (err error) {
		if src == 0 {
			n := len(blocked)
			blocked, err = readBlock(blocked, vs)
			if err == nil {
				blocked = append(blocked[:n], slices.DeleteFunc(blocked[n:], func(smp colblock.Sample) bool {
					return smp.TS < from || smp.TS >= to
				})...)
			}
			if err != nil {
				return fmt.Errorf("block %d: %w", pid, err)
			}
			return nil
		}
		v, err := value(kind, vf, vi, vs)
		if err != nil {
			return fmt.Errorf("point at %d: %w", ts, err)
		}
		fresh = append(fresh, colblock.Sample{TS: ts, V: v, Q: uns.Quality(qual)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mergeSamples(blocked, fresh, limit), nil
}

// readBlock appends the points of a stored (compressed) block to dst.
func readBlock(dst []colblock.Sample, data []byte) ([]colblock.Sample, error) {
	raw, err := colblock.Decompress(data)
	if err != nil {
		return dst, err
	}
	return colblock.Decode(dst, raw)
}

// mergeSamples merges the points of blocks (in the order of their blocks)
// and those not yet compacted (by ts, id) into time order, block points
// first on equal timestamps, and cuts the result to limit (> 0).
func mergeSamples(blocked, fresh []colblock.Sample, limit int) []colblock.Sample {
	byTS := func(a, b colblock.Sample) int { return cmp.Compare(a.TS, b.TS) }
	// Blocks of one hour may overlap (late points merged by a compaction
	// that ran beside another, or moved by MergeSeries): a stable sort
	// keeps each timestamp's points in block order.
	if !slices.IsSortedFunc(blocked, byTS) {
		slices.SortStableFunc(blocked, byTS)
	}
	out := blocked
	if len(fresh) > 0 {
		out = make([]colblock.Sample, 0, len(blocked)+len(fresh))
		i, j := 0, 0
		for i < len(blocked) || j < len(fresh) {
			if j == len(fresh) || (i < len(blocked) && blocked[i].TS <= fresh[j].TS) {
				out = append(out, blocked[i])
				i++
			} else {
				out = append(out, fresh[j])
				j++
			}
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
