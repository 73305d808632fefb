package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// CompactStats says what a compaction did.
type CompactStats struct {
	Points     int64 // points moved from rows into blocks
	Blocks     int64 // blocks written (new or rewritten)
	Partitions int64 // emptied partitions truncated
}

// compactWindow bounds the time one compaction transaction moves of one
// series, and so its memory: 6 hours at 10 Hz are about 216,000 points.
const compactWindow = 6 * blockSpan

// emptyIndexBytes is the size of an empty B-tree (its metapage): a
// partition with no heap page and indexes of that size was truncated
// already (VACUUM gives back a heap's empty pages at its end, so the heap
// alone does not tell).
const emptyIndexBytes = 8192

// compactLockTimeout bounds how long truncating an emptied partition
// waits for its lock; past it the partition is left for the next run.
const compactLockTimeout = 2 * time.Second

var (
	// Compactions of one schema run one at a time, whichever hub runs
	// them: each transaction takes this lock first, so a second one waits
	// and then finds the points gone (exactly once, however many run).
	sqlCompactLock = sqlText(`SELECT pg_advisory_xact_lock(hashtext('molen compact ' || $1))`)
	// The series after $2 (by id) that have points before $1, with their
	// oldest: one index probe a series.
	sqlCompactSeries = sqlText(`SELECT s.id, p.ts FROM {s}.series s
		CROSS JOIN LATERAL (SELECT ts FROM {s}.points WHERE series_id = s.id AND ts < $1 ORDER BY ts LIMIT 1) AS p
		WHERE s.id > $2 ORDER BY s.id LIMIT 256`)
	// A compaction holds its series' row (FOR KEY SHARE) so that
	// DeleteSeries and MergeSeries (FOR UPDATE) wait for its blocks, and
	// it skips a series they removed; Ingest (first_ts) is not held up.
	sqlCompactHold = sqlText(`SELECT true FROM {s}.series WHERE id = $1 FOR KEY SHARE`)
	sqlTakePoints  = sqlText(`DELETE FROM {s}.points WHERE series_id = $1 AND ts >= $2 AND ts < $3
		RETURNING ts, id, kind, q, vf, vi, vs`)
	sqlHourBlocks = sqlText(`SELECT id, data FROM {s}.blocks
		WHERE series_id = $1 AND t0 >= $2 AND t0 < $3 AND t0 - t0 % ` + strconv.FormatInt(blockSpan, 10) + ` = ANY($4::bigint[])
		ORDER BY t0, id FOR UPDATE`)
	sqlDeleteBlocks = sqlText(`DELETE FROM {s}.blocks WHERE id = ANY($1::bigint[])`)
	// Rows are inserted in the order given, so that the identity orders
	// the parts of one hour.
	sqlInsertBlocks = sqlText(`INSERT INTO {s}.blocks (series_id, t0, t1, n, data)
		SELECT $1, u.t0, u.t1, u.n, u.data FROM unnest($2::bigint[], $3::bigint[], $4::integer[], $5::bytea[])
			WITH ORDINALITY AS u(t0, t1, n, data, o) ORDER BY u.o`)
)

// Compact moves into blocks the points of every series whose block hour
// ended at least Options.HeadAge before now, and truncates the points
// partitions that this leaves empty. It is safe to run from several hubs
// at once (they take turns, see sqlCompactLock) and to interrupt: each
// series' window of points moves in one transaction, rows deleted and
// blocks written together. The hub runs it under a lease, so that one hub
// does the work.
func (s *Store) Compact(ctx context.Context, now time.Time) (CompactStats, error) {
	before := hourOf(max(now.Add(-s.headAge).UnixNano(), 0))
	st, err := s.compactBefore(ctx, before)
	if err != nil {
		return st, fmt.Errorf("compact: %w", err)
	}
	return st, nil
}

// compactBefore moves every point with ts < before into blocks.
func (s *Store) compactBefore(ctx context.Context, before int64) (CompactStats, error) {
	var st CompactStats
	if err := s.checkOpen(); err != nil {
		return st, err
	}
	// Rounds over the series by id; each moves one window of each series
	// that has points before before, from its oldest, until a round from
	// the start finds none.
	after, moved := int32(math.MinInt32), false
	for {
		type todo struct {
			id     int32
			oldest int64
		}
		rows, err := s.pool.Query(ctx, s.sql(sqlCompactSeries), before, after)
		if err != nil {
			return st, fmt.Errorf("find series to compact: %w", err)
		}
		var list []todo
		var t todo
		if _, err := pgx.ForEachRow(rows, []any{&t.id, &t.oldest}, func() error {
			list = append(list, t)
			return nil
		}); err != nil {
			return st, fmt.Errorf("find series to compact: %w", err)
		}
		if len(list) == 0 {
			if after == math.MinInt32 || !moved {
				break
			}
			after, moved = math.MinInt32, false
			continue
		}
		for _, t := range list {
			lo := hourOf(t.oldest)
			hi := before
			if lo <= math.MaxInt64-compactWindow {
				hi = min(before, lo+compactWindow)
			}
			if err := s.inTx(ctx, func(tx pgx.Tx) error { return s.compactWindow(ctx, tx, t.id, lo, hi, &st) }); err != nil {
				return st, fmt.Errorf("series %d from %d: %w", t.id, lo, err)
			}
			after, moved = t.id, true
		}
	}
	if st.Points > 0 {
		// The deleted rows' space becomes reusable by the next hour's rows
		// now rather than when autovacuum comes by; partitions emptied are
		// truncated below, since VACUUM keeps an index's pages.
		if _, err := s.pool.Exec(ctx, `VACUUM `+pgx.Identifier{s.schema, "points"}.Sanitize()); err != nil {
			return st, fmt.Errorf("vacuum points: %w", err)
		}
	}
	if s.mode == modeNative {
		n, err := s.truncateEmpty(ctx, before)
		st.Partitions += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// compactWindow moves the points of series id in [lo, hi) into blocks,
// merging them with the blocks already there for their hours, in tx.
func (s *Store) compactWindow(ctx context.Context, tx pgx.Tx, id int32, lo, hi int64, st *CompactStats) error {
	if _, err := tx.Exec(ctx, s.sql(sqlCompactLock), s.schema); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, s.sql(sqlCompactHold), id).Scan(&exists); errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return fmt.Errorf("hold series: %w", err)
	}
	type taken struct {
		smp colblock.Sample
		id  int64
	}
	rows, err := tx.Query(ctx, s.sql(sqlTakePoints), id, lo, hi)
	if err != nil {
		return fmt.Errorf("take points: %w", err)
	}
	var pts []taken
	var p taken
	var kind, q int16
	var vf pgtype.Float8
	var vi pgtype.Int8
	var vs []byte
	if _, err := pgx.ForEachRow(rows, []any{&p.smp.TS, &p.id, &kind, &q, &vf, &vi, &vs}, func() error {
		v, err := value(kind, vf, vi, vs)
		if err != nil {
			return fmt.Errorf("point at %d: %w", p.smp.TS, err)
		}
		p.smp.V, p.smp.Q = v, uns.Quality(q)
		pts = append(pts, p)
		return nil
	}); err != nil {
		return fmt.Errorf("take points: %w", err)
	}
	if len(pts) == 0 {
		return nil
	}
	slices.SortFunc(pts, func(a, b taken) int { return cmp.Or(cmp.Compare(a.smp.TS, b.smp.TS), cmp.Compare(a.id, b.id)) })

	// The new points by hour, and the blocks of those hours to merge.
	byHour := map[int64][]colblock.Sample{}
	var hours []int64
	for _, p := range pts {
		h := hourOf(p.smp.TS)
		if _, ok := byHour[h]; !ok {
			hours = append(hours, h)
		}
		byHour[h] = append(byHour[h], p.smp)
	}
	old := map[int64][]colblock.Sample{}
	var oldIDs []int64
	rows, err = tx.Query(ctx, s.sql(sqlHourBlocks), id, lo, hi, hours)
	if err != nil {
		return fmt.Errorf("read blocks: %w", err)
	}
	var bid int64
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&bid, &data}, func() error {
		ss, err := readBlock(nil, data)
		if err == nil && len(ss) > 0 {
			h := hourOf(ss[0].TS)
			old[h] = append(old[h], ss...)
		}
		if err != nil {
			return fmt.Errorf("block %d: %w", bid, err)
		}
		oldIDs = append(oldIDs, bid)
		return nil
	}); err != nil {
		return fmt.Errorf("read blocks: %w", err)
	}
	if len(oldIDs) > 0 {
		if _, err := tx.Exec(ctx, s.sql(sqlDeleteBlocks), oldIDs); err != nil {
			return fmt.Errorf("delete merged blocks: %w", err)
		}
	}
	var t0s, t1s []int64
	var ns []int32
	var datas [][]byte
	for _, h := range hours {
		all := mergeSamples(old[h], byHour[h], 0)
		for part := range slices.Chunk(all, colblock.MaxPoints) {
			t0s, t1s = append(t0s, part[0].TS), append(t1s, part[len(part)-1].TS)
			ns = append(ns, int32(len(part)))
			datas = append(datas, colblock.Compress(colblock.Encode(nil, part)))
		}
	}
	if _, err := tx.Exec(ctx, s.sql(sqlInsertBlocks), id, t0s, t1s, ns, datas); err != nil {
		return fmt.Errorf("write blocks: %w", err)
	}
	if s.compactHook != nil {
		if err := s.compactHook(ctx, tx); err != nil {
			return err
		}
	}
	st.Points += int64(len(pts))
	st.Blocks += int64(len(datas))
	return nil
}

// truncateEmpty truncates the points partitions that end at or before
// before and hold no row, so that their heap and index space goes back
// to the file system (VACUUM keeps a B-tree's pages). TRUNCATE takes the
// partition's ACCESS EXCLUSIVE lock, waiting at most compactLockTimeout;
// with it held, no ingest can add a row between the check and the
// truncation. It is not MVCC-safe for a transaction with an older
// snapshot, but the store's reads are single statements and the partition
// held only rows that compaction deleted and committed before.
func (s *Store) truncateEmpty(ctx context.Context, before int64) (int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass AND (pg_relation_size(c.oid) > 0 OR pg_indexes_size(c.oid) > $2)`, pgx.Identifier{s.schema, "points"}.Sanitize(), emptyIndexBytes)
	if err != nil {
		return 0, fmt.Errorf("list partitions: %w", err)
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		err := r.Scan(&p[0], &p[1])
		return p, err
	})
	if err != nil {
		return 0, fmt.Errorf("list partitions: %w", err)
	}
	var n int64
	for _, p := range parts {
		var lo, hi int64
		if _, err := fmt.Sscanf(p[1], "FOR VALUES FROM ('%d') TO ('%d')", &lo, &hi); err != nil || hi > before {
			continue
		}
		name := pgx.Identifier{s.schema, p[0]}.Sanitize()
		var truncated bool
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(compactLockTimeout.Milliseconds(), 10)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `LOCK TABLE `+name+` IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			var rows bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+name+`)`).Scan(&rows); err != nil || rows {
				truncated = false
				return err
			}
			_, err := tx.Exec(ctx, `TRUNCATE `+name)
			truncated = err == nil
			return err
		})
		if err == nil && truncated {
			n++
		}
		if err != nil && pgCode(err) != codeLockNotAvailable {
			return n, fmt.Errorf("truncate partition %s: %w", p[0], err)
		}
	}
	return n, nil
}
