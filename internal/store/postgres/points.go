package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

type seriesKey struct{ org, path string }

type seriesEntry struct {
	id    int32
	first int64 // first_ts as committed
}

// maxCachedSeries bounds the series cache (about 100 B an entry); past it
// the cache starts over, which costs one lookup per series.
const maxCachedSeries = 1 << 20

// idBlock is the number of point ids one nextval of point_ids reserves;
// it is the sequence's INCREMENT.
const idBlock = 1024

// maxAttempts bounds the transactions of one Ingest: a deadlock with
// another writer, or a partition dropped after the store saw it, is
// retried.
const maxAttempts = 3

// batchSeries is what one Ingest call does to one series.
type batchSeries struct {
	id     int32
	first  int64 // lowest ts in the call
	newest int   // index in the call's points of the highest ts; on a tie the later one
}

// Ingest implements store.Points. It validates the whole call first, so
// bad input stores nothing. It makes sure the partitions of the call's
// timestamps exist (in their own transactions: creating a partition locks
// the whole table), then in one transaction locks and reads the source's
// watermark, stores the records above it with COPY, updates series, latest
// values and the watermark, and commits with synchronous_commit on.
func (s *Store) Ingest(ctx context.Context, org string, src store.Source, recs []store.Record) (int, error) {
	if err := store.ValidateIngest(org, src, recs); err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w: %w", src.Edge, src.Stream, store.ErrInvalid, err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	for attempt := 1; ; attempt++ {
		if s.mode == modeNative {
			if err := s.ensurePartitions(ctx, recs); err != nil {
				return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
			}
		}
		var n int
		updated := make(map[seriesKey]seriesEntry)
		err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
			n, err = s.ingest(ctx, tx, org, src, recs, updated)
			return err
		})
		if err == nil {
			s.rememberSeries(updated)
			if s.afterIngest != nil {
				s.afterIngest(ctx)
			}
			return n, nil
		}
		if attempt < maxAttempts {
			switch pgCode(err) {
			case codeCheckViolation: // no partition for a row: dropped behind our back
				if s.mode == modeNative {
					s.forgetPartitions()
					continue
				}
			case codeDeadlock, codeSerialization:
				continue
			}
		}
		return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
	}
}

// Ingest's statements.
var (
	sqlInsertWatermark = sqlText(`INSERT INTO {s}.watermarks (edge, stream, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`)
	sqlLockWatermark   = sqlText(`SELECT seq FROM {s}.watermarks WHERE edge = $1 AND stream = $2 FOR UPDATE`)
	sqlSetWatermark    = sqlText(`UPDATE {s}.watermarks SET seq = $3 WHERE edge = $1 AND stream = $2`)
	sqlFindSeries      = sqlText(`SELECT id, path, first_ts FROM {s}.series WHERE org = $1 AND path = ANY($2::text[])`)
	// Rows are inserted in path order, so that writers that create the
	// same series lock them in the same order.
	sqlInsertSeries = sqlText(`INSERT INTO {s}.series (org, path, first_ts)
		SELECT $1, u.p, u.f FROM unnest($2::text[], $3::bigint[]) AS u(p, f) ORDER BY u.p
		ON CONFLICT (org, path) DO UPDATE SET first_ts = least({s}.series.first_ts, excluded.first_ts)
		RETURNING id, path, first_ts`)
	// Series rows whose first_ts goes down are locked in id order first,
	// for the lock order among writers.
	sqlLockSeries = sqlText(`SELECT id FROM {s}.series WHERE id = ANY($1::integer[]) ORDER BY id FOR UPDATE`)
	sqlLowerFirst = sqlText(`UPDATE {s}.series AS s SET first_ts = u.f
		FROM unnest($1::integer[], $2::bigint[]) AS u(id, f)
		WHERE s.id = u.id AND s.first_ts > u.f`)
	sqlPointIDs = sqlText(`SELECT nextval($1::regclass) FROM generate_series(1, $2::integer)`)
	// A latest value replaces one that is older by (ts, id), so among
	// equal timestamps the one ingested last (the highest id, as in Raw)
	// is the latest. Rows go in series id order, for the lock order.
	sqlUpsertLatest = sqlText(`INSERT INTO {s}.latest AS l (series_id, ts, id, vf, vi, kind, q, vs)
		SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::double precision[],
			$5::bigint[], $6::smallint[], $7::smallint[], $8::bytea[]) AS u ORDER BY 1
		ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, id = excluded.id, vf = excluded.vf,
			vi = excluded.vi, kind = excluded.kind, q = excluded.q, vs = excluded.vs
		WHERE (excluded.ts, excluded.id) > (l.ts, l.id)`)
)

// pointColumns are the COPY columns of points, in the order of
// pointRows.Values.
var pointColumns = []string{"ts", "id", "vf", "vi", "series_id", "kind", "q", "vs"}

// ingest is the transaction of Ingest. It adds to updated the series cache
// entries that its commit will make true.
func (s *Store) ingest(ctx context.Context, tx pgx.Tx, org string, src store.Source, recs []store.Record, updated map[seriesKey]seriesEntry) (int, error) {
	// The watermark row is locked until commit, so a concurrent or retried
	// delivery of the same records (from this hub or another) waits here
	// and then sees the new watermark.
	b := &pgx.Batch{}
	b.Queue(s.sql(sqlInsertWatermark), src.Edge, src.Stream)
	b.Queue(s.sql(sqlLockWatermark), src.Edge, src.Stream)
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	var wm int64
	if err == nil {
		err = br.QueryRow().Scan(&wm)
	}
	if err = errors.Join(err, br.Close()); err != nil {
		return 0, fmt.Errorf("lock watermark: %w", err)
	}
	i := 0
	for i < len(recs) && recs[i].Seq <= uint64(wm) {
		i++
	}
	recs = recs[i:]
	if len(recs) == 0 {
		return 0, nil
	}

	// Per series of the call: first ts and newest point.
	var pts []*uns.Point
	batch := make(map[string]*batchSeries)
	for r := range recs {
		for p := range recs[r].Points {
			pt := &recs[r].Points[p]
			k := len(pts)
			pts = append(pts, pt)
			bs := batch[pt.Series]
			if bs == nil {
				batch[pt.Series] = &batchSeries{first: pt.TS, newest: k}
				continue
			}
			bs.first = min(bs.first, pt.TS)
			if pt.TS >= pts[bs.newest].TS {
				bs.newest = k
			}
		}
	}
	if err := s.resolveSeries(ctx, tx, org, batch, updated); err != nil {
		return 0, err
	}

	if len(pts) > 0 {
		var blocks []int64
		rows, err := tx.Query(ctx, s.sql(sqlPointIDs), pgx.Identifier{s.schema, "point_ids"}.Sanitize(), (len(pts)+idBlock-1)/idBlock)
		if err == nil {
			blocks, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil {
			return 0, fmt.Errorf("reserve point ids: %w", err)
		}
		id := func(k int) int64 { return blocks[k/idBlock] + int64(k%idBlock) }

		src := &pointRows{pts: pts, batch: batch, id: id, k: -1}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, "points"}, pointColumns, src); err != nil {
			return 0, fmt.Errorf("copy into points: %w", err)
		}

		l := latestRows{}
		for _, bs := range batch {
			l.add(bs.id, id(bs.newest), pts[bs.newest])
		}
		sort := l.sorted()
		if _, err := tx.Exec(ctx, s.sql(sqlUpsertLatest), sort.ids, sort.ts, sort.pid, sort.vf, sort.vi, sort.kind, sort.q, sort.vs); err != nil {
			return 0, fmt.Errorf("update latest: %w", err)
		}
		if err := s.upsertRollups(ctx, tx, pts, batch, id); err != nil {
			return 0, err
		}
	}

	if err := s.storeEvents(ctx, tx, org, recs); err != nil {
		return 0, err
	}

	last := recs[len(recs)-1].Seq
	if _, err := tx.Exec(ctx, s.sql(sqlSetWatermark), src.Edge, src.Stream, int64(last)); err != nil {
		return 0, fmt.Errorf("write watermark %d: %w", last, err)
	}
	return len(recs), nil
}

// resolveSeries sets the id of every series of batch, creating series
// and lowering first_ts as needed, and records in updated what the commit
// will make true.
func (s *Store) resolveSeries(ctx context.Context, tx pgx.Tx, org string, batch map[string]*batchSeries, updated map[seriesKey]seriesEntry) error {
	var unknown []string
	var lowerIDs []int32
	var lowerTo []int64
	lower := func(path string, e seriesEntry, bs *batchSeries) {
		bs.id = e.id
		if bs.first < e.first {
			lowerIDs, lowerTo = append(lowerIDs, e.id), append(lowerTo, bs.first)
			updated[seriesKey{org, path}] = seriesEntry{id: e.id, first: bs.first}
		}
	}
	s.mu.Lock()
	for path, bs := range batch {
		if e, ok := s.series[seriesKey{org, path}]; ok {
			lower(path, e, bs)
		} else {
			unknown = append(unknown, path)
		}
	}
	s.mu.Unlock()

	if len(unknown) > 0 {
		slices.Sort(unknown)
		found := make(map[string]bool, len(unknown))
		scan := func(rows pgx.Rows, err error) error {
			if err != nil {
				return err
			}
			var e seriesEntry
			var path string
			_, err = pgx.ForEachRow(rows, []any{&e.id, &path, &e.first}, func() error {
				found[path] = true
				updated[seriesKey{org, path}] = e
				lower(path, e, batch[path])
				return nil
			})
			return err
		}
		if err := scan(tx.Query(ctx, s.sql(sqlFindSeries), org, unknown)); err != nil {
			return fmt.Errorf("find series: %w", err)
		}
		var paths []string
		var firsts []int64
		for _, p := range unknown {
			if !found[p] {
				paths, firsts = append(paths, p), append(firsts, batch[p].first)
			}
		}
		if len(paths) > 0 {
			// A concurrent writer may create some of them first; then
			// ON CONFLICT updates and returns its row.
			if err := scan(tx.Query(ctx, s.sql(sqlInsertSeries), org, paths, firsts)); err != nil {
				return fmt.Errorf("create series: %w", err)
			}
		}
		for _, p := range unknown {
			if !found[p] {
				return fmt.Errorf("create series: %s: no row returned", p)
			}
		}
	}
	if len(lowerIDs) > 0 {
		if _, err := tx.Exec(ctx, s.sql(sqlLockSeries), lowerIDs); err != nil {
			return fmt.Errorf("lock series to lower first_ts: %w", err)
		}
		if _, err := tx.Exec(ctx, s.sql(sqlLowerFirst), lowerIDs, lowerTo); err != nil {
			return fmt.Errorf("lower first_ts: %w", err)
		}
	}
	return nil
}

// rememberSeries adds committed series entries to the cache.
func (s *Store) rememberSeries(updated map[seriesKey]seriesEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.series)+len(updated) > maxCachedSeries {
		clear(s.series)
	}
	for k, e := range updated {
		if old, ok := s.series[k]; ok {
			e.first = min(e.first, old.first)
		}
		s.series[k] = e
	}
}

// pointRows feeds COPY the points of one call. Values reuses one row; pgx
// encodes it before the next call.
type pointRows struct {
	pts   []*uns.Point
	batch map[string]*batchSeries
	id    func(k int) int64
	k     int
	row   [8]any
}

func (r *pointRows) Next() bool {
	r.k++
	return r.k < len(r.pts)
}

func (r *pointRows) Values() ([]any, error) {
	p := r.pts[r.k]
	kind, vf, vi, vs := valueColumns(p.Value)
	r.row = [8]any{p.TS, r.id(r.k), vf, vi, r.batch[p.Series].id, kind, int16(p.Quality), vs}
	return r.row[:], nil
}

func (r *pointRows) Err() error { return nil }

// value turns stored columns back into a Value.
func value(kind int16, vf pgtype.Float8, vi pgtype.Int8, vs []byte) (uns.Value, error) {
	switch k := uns.Kind(kind); {
	case k == uns.KindFloat && vf.Valid:
		return uns.Float(vf.Float64), nil
	case k == uns.KindInt && vi.Valid:
		return uns.Int(vi.Int64), nil
	case k == uns.KindBool && vf.Valid:
		return uns.Bool(vf.Float64 != 0), nil
	case k == uns.KindString && vs != nil:
		return uns.String(string(vs)), nil
	}
	return uns.Value{}, fmt.Errorf("stored value of kind %d is corrupt", kind)
}

// latestRows holds the latest-value upsert as column arrays.
type latestRows struct {
	ids     []int32
	ts, pid []int64
	vf      []pgtype.Float8
	vi      []pgtype.Int8
	kind, q []int16
	vs      [][]byte
}

func (l *latestRows) add(series int32, id int64, p *uns.Point) {
	l.ids = append(l.ids, series)
	l.ts = append(l.ts, p.TS)
	l.pid = append(l.pid, id)
	kind, f, i, b := valueColumns(p.Value)
	l.vf, l.vi, l.vs = append(l.vf, f), append(l.vi, i), append(l.vs, b)
	l.kind = append(l.kind, kind)
	l.q = append(l.q, int16(p.Quality))
}

// sorted returns the rows in series id order.
func (l *latestRows) sorted() latestRows {
	order := make([]int, len(l.ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(l.ids[a], l.ids[b]) })
	var out latestRows
	for _, i := range order {
		out.ids, out.ts, out.pid = append(out.ids, l.ids[i]), append(out.ts, l.ts[i]), append(out.pid, l.pid[i])
		out.vf, out.vi, out.vs = append(out.vf, l.vf[i]), append(out.vi, l.vi[i]), append(out.vs, l.vs[i])
		out.kind, out.q = append(out.kind, l.kind[i]), append(out.q, l.q[i])
	}
	return out
}

var sqlWatermark = sqlText(`SELECT seq FROM {s}.watermarks WHERE edge = $1 AND stream = $2`)

// Watermark implements store.Points.
func (s *Store) Watermark(ctx context.Context, src store.Source) (uint64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, fmt.Errorf("watermark %s/%s: %w", src.Edge, src.Stream, err)
	}
	if !store.Text(src.Edge) || !store.Text(src.Stream) {
		return 0, nil
	}
	var wm int64
	err := s.pool.QueryRow(ctx, s.sql(sqlWatermark), src.Edge, src.Stream).Scan(&wm)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("watermark %s/%s: %w", src.Edge, src.Stream, err)
	}
	return uint64(wm), nil
}

// prefixRange gives the bounds of a prefix query: paths in [p, hi) whose
// byte after p is '/' (or that equal p). hi works because stored paths
// are validated and compared in byte order (COLLATE "C"): '0' follows
// '/', and '~' follows every allowed byte.
func prefixRange(prefix string) (p, hi string) {
	p = strings.TrimSuffix(prefix, "/")
	if p == "" {
		return "", "~"
	}
	return p, p + "0"
}

// limitArg is a LIMIT parameter: NULL (no limit) for 0 or less.
func limitArg(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	n := int64(limit)
	return &n
}

var (
	sqlSeries = sqlText(`SELECT s.path, l.kind, s.first_ts, l.ts
		FROM {s}.series s JOIN {s}.latest l ON l.series_id = s.id
		WHERE s.org = $1 AND s.path >= $2 AND s.path < $3
			AND ($2 = '' OR s.path = $2 OR substr(s.path, length($2) + 1, 1) = '/')
		ORDER BY s.path
		LIMIT $4`)
	sqlLatest = sqlText(`SELECT s.path, l.ts, l.kind, l.q, l.vf, l.vi, l.vs
		FROM {s}.series s JOIN {s}.latest l ON l.series_id = s.id
		WHERE s.org = $1 AND s.path >= $2 AND s.path < $3
			AND ($2 = '' OR s.path = $2 OR substr(s.path, length($2) + 1, 1) = '/')
		ORDER BY s.path
		LIMIT $4`)
)

// Series implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("series %q: %w", prefix, err)
	}
	if !store.Text(org) || !store.Text(prefix) {
		return nil, nil
	}
	p, hi := prefixRange(prefix)
	rows, err := s.pool.Query(ctx, s.sql(sqlSeries), org, p, hi, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("series %q: %w", prefix, err)
	}
	var out []store.SeriesInfo
	var si store.SeriesInfo
	var kind int16
	_, err = pgx.ForEachRow(rows, []any{&si.Path, &kind, &si.First, &si.Last}, func() error {
		si.Kind = uns.Kind(kind)
		out = append(out, si)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("series %q: %w", prefix, err)
	}
	return out, nil
}

// Latest implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Latest(ctx context.Context, org, prefix string, limit int) ([]uns.Point, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("latest %q: %w", prefix, err)
	}
	if !store.Text(org) || !store.Text(prefix) {
		return nil, nil
	}
	p, hi := prefixRange(prefix)
	rows, err := s.pool.Query(ctx, s.sql(sqlLatest), org, p, hi, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("latest %q: %w", prefix, err)
	}
	var out []uns.Point
	var pt uns.Point
	var kind, q int16
	var vf pgtype.Float8
	var vi pgtype.Int8
	var vs []byte
	_, err = pgx.ForEachRow(rows, []any{&pt.Series, &pt.TS, &kind, &q, &vf, &vi, &vs}, func() error {
		v, err := value(kind, vf, vi, vs)
		if err != nil {
			return fmt.Errorf("%s: %w", pt.Series, err)
		}
		out = append(out, uns.Point{Series: pt.Series, TS: pt.TS, Value: v, Quality: uns.Quality(q)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("latest %q: %w", prefix, err)
	}
	return out, nil
}

// Raw implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("raw %s: %w", series, err)
	}
	if !store.Text(org) || !store.Text(series) || from >= to {
		return nil, nil
	}
	var id int32
	if err := s.pool.QueryRow(ctx, s.sql(sqlSeriesID), org, series).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("raw %s: series id: %w", series, err)
	}
	ss, err := s.samples(ctx, id, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("raw %s: %w", series, err)
	}
	out := make([]uns.Point, len(ss))
	for i, smp := range ss {
		out[i] = uns.Point{Series: series, TS: smp.TS, Value: smp.V, Quality: smp.Q}
	}
	return out, nil
}
