package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

type seriesKey struct{ org, path string }

type seriesEntry struct {
	id    int64
	first int64 // first_ts as committed
}

// maxCachedSeries bounds the series cache (about 100 B an entry); past it
// the cache starts over, which costs one lookup per series.
const maxCachedSeries = 1 << 20

type insKey struct {
	table string // "points" or "latest"
	rows  int
}

// rowsPerInsert is the row count of a full multi-row INSERT: 5 parameters
// a row, well under SQLite's limit of 32766. Shorter inserts have a
// multiple of 64 rows, or below 64 a power of two, so that whatever the
// batch sizes at most 22 statements per table are prepared and kept, and
// a batch of 1000 points takes 3 of them (as fast as one of 1000 rows).
const rowsPerInsert = 1024

// batchSeries is what one Ingest call does to one series.
type batchSeries struct {
	id     int64
	first  int64     // lowest ts in the call
	newest uns.Point // highest ts in the call; on a tie the later one
}

// errTied reports that a multi-row insert into points skipped a row whose
// (series_id, ts, 0) was taken: by a point stored before or by another
// point of the same call. Ingest then runs again, point by point.
var errTied = errors.New("points share a series and timestamp")

// Ingest implements store.Points. It validates the whole call first, so bad
// input stores nothing; then, in one IMMEDIATE transaction, it reads the
// watermark, stores the records above it, updates latest values, series and
// the watermark, and commits with an fsync.
//
// Points are appended, never replaced. The fast path inserts every point
// with n = 0 in multi-row INSERTs that skip taken keys; if a key was taken
// (a point with the same series and timestamp, which is rare), the
// transaction rolls back and runs again inserting each point after those
// of its series and ts.
func (s *Store) Ingest(ctx context.Context, org string, src store.Source, recs []store.Record) (int, error) {
	if err := validateIngest(org, src, recs); err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w: %w", src.Edge, src.Stream, store.ErrInvalid, err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := s.lockWriter(ctx); err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
	}
	defer s.unlockWriter()

	var n int
	newSeries := make(map[seriesKey]seriesEntry)
	err := s.inTx(ctx, func() (err error) {
		n, err = s.ingest(ctx, org, src, recs, newSeries, false)
		return err
	})
	if errors.Is(err, errTied) {
		clear(newSeries)
		err = s.inTx(ctx, func() (err error) {
			n, err = s.ingest(ctx, org, src, recs, newSeries, true)
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
	}
	if len(s.series)+len(newSeries) > maxCachedSeries {
		clear(s.series)
	}
	for k, e := range newSeries {
		s.series[k] = e
	}
	return n, nil
}

// ingest is the transaction of Ingest. It adds to updated the series cache
// entries that its commit will make true. Unless tied, it fails with
// errTied when a point's (series_id, ts, 0) is taken; tied, it inserts each
// point after those of its series and ts, one statement a point.
func (s *Store) ingest(ctx context.Context, org string, src store.Source, recs []store.Record, updated map[seriesKey]seriesEntry, tied bool) (int, error) {
	// The watermark is read under the write lock, so a concurrent or
	// retried delivery of the same records cannot also pass this check.
	var wm int64
	err := s.getWatermark.QueryRowContext(ctx, src.Edge, src.Stream).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read watermark: %w", err)
	}
	i := 0
	for i < len(recs) && recs[i].Seq <= uint64(wm) {
		i++
	}
	recs = recs[i:]
	if len(recs) == 0 {
		return 0, nil
	}

	batch := make(map[string]*batchSeries)
	var npoints int
	for _, r := range recs {
		for _, p := range r.Points {
			npoints++
			b := batch[p.Series]
			if b == nil {
				b = &batchSeries{first: p.TS, newest: p}
				batch[p.Series] = b
				continue
			}
			b.first = min(b.first, p.TS)
			if p.TS >= b.newest.TS {
				b.newest = p
			}
		}
	}

	for path, b := range batch {
		k := seriesKey{org, path}
		if e, ok := s.series[k]; ok {
			b.id = e.id
			if b.first < e.first {
				if _, err := s.lowerFirst.ExecContext(ctx, b.first, e.id, b.first); err != nil {
					return 0, fmt.Errorf("series %s: %w", path, err)
				}
				updated[k] = seriesEntry{id: e.id, first: b.first}
			}
			continue
		}
		var e seriesEntry
		if err := s.upsertSeries.QueryRowContext(ctx, org, path, b.first).Scan(&e.id, &e.first); err != nil {
			return 0, fmt.Errorf("series %s: %w", path, err)
		}
		b.id = e.id
		updated[k] = e
	}

	pw := inserter{s: s, table: "points", args: make([]any, 0, 5*min(npoints, rowsPerInsert))}
	for _, r := range recs {
		for _, p := range r.Points {
			id := batch[p.Series].id
			if tied {
				if _, err := s.insertTied.ExecContext(ctx, id, p.TS, int64(p.Value.Kind()), int64(p.Quality), dbValue(p.Value)); err != nil {
					return 0, fmt.Errorf("insert into points: %w", err)
				}
				continue
			}
			if err := pw.add(ctx, id, p); err != nil {
				return 0, err
			}
		}
	}
	if err := pw.flush(ctx); err != nil {
		return 0, err
	}
	lw := inserter{s: s, table: "latest", args: pw.args[:0]}
	for _, b := range batch {
		if err := lw.add(ctx, b.id, b.newest); err != nil {
			return 0, err
		}
	}
	if err := lw.flush(ctx); err != nil {
		return 0, err
	}
	if err := s.storeEvents(ctx, org, recs); err != nil {
		return 0, err
	}

	last := recs[len(recs)-1].Seq
	if _, err := s.setWatermark.ExecContext(ctx, src.Edge, src.Stream, int64(last)); err != nil {
		return 0, fmt.Errorf("write watermark %d: %w", last, err)
	}
	return len(recs), nil
}

// inserter buffers rows for one table and writes them in multi-row
// INSERTs of up to rowsPerInsert rows.
type inserter struct {
	s     *Store
	table string
	args  []any // 5 a row
}

func (w *inserter) add(ctx context.Context, id int64, p uns.Point) error {
	w.args = append(w.args, id, p.TS, int64(p.Value.Kind()), int64(p.Quality), dbValue(p.Value))
	if len(w.args) == 5*rowsPerInsert {
		return w.flush(ctx)
	}
	return nil
}

func (w *inserter) flush(ctx context.Context) error {
	args := w.args
	w.args = w.args[:0]
	for len(args) > 0 {
		rows := min(len(args)/5, rowsPerInsert)
		if rows >= 64 {
			rows &^= 63
		} else {
			rows = 1 << (bits.Len(uint(rows)) - 1) // the largest power of two that fits
		}
		if err := w.s.insert(ctx, w.table, rows, args[:5*rows]); err != nil {
			return err
		}
		args = args[5*rows:]
	}
	return nil
}

// dbValue is the value as bound to the v column.
func dbValue(v uns.Value) any {
	switch v.Kind() {
	case uns.KindFloat:
		return v.Float64()
	case uns.KindInt:
		return v.Int()
	case uns.KindBool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	}
	return v.Str()
}

// value turns a stored kind and v column back into a Value.
func value(kind int64, v any) (uns.Value, error) {
	switch uns.Kind(kind) {
	case uns.KindFloat:
		if f, ok := v.(float64); ok {
			return uns.Float(f), nil
		}
	case uns.KindInt:
		if i, ok := v.(int64); ok {
			return uns.Int(i), nil
		}
	case uns.KindBool:
		if i, ok := v.(int64); ok {
			return uns.Bool(i != 0), nil
		}
	case uns.KindString:
		if s, ok := v.(string); ok {
			return uns.String(s), nil
		}
	}
	return uns.Value{}, fmt.Errorf("stored value %T of kind %d is corrupt", v, kind)
}

// insertSQL holds the statement head, the placeholders of a row, and the
// tail of each table's multi-row insert. A point goes in with n = 0 or not
// at all (see errTied); a latest value replaces one with a lower or equal
// ts, so among equal timestamps the one ingested last is the latest.
var insertSQL = map[string][3]string{
	"points": {`INSERT INTO points (series_id, ts, n, kind, q, v) VALUES `, `(?,?,0,?,?,?)`,
		` ON CONFLICT DO NOTHING`},
	"latest": {`INSERT INTO latest (series_id, ts, kind, q, v) VALUES `, `(?,?,?,?,?)`,
		` ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, q = excluded.q, v = excluded.v
		WHERE excluded.ts >= latest.ts`},
}

// insert runs a multi-row insert into table of rows rows (5 args each),
// with a statement prepared on w once per table and row count. The caller
// holds wsem. It fails with errTied if a points row was skipped.
func (s *Store) insert(ctx context.Context, table string, rows int, args []any) error {
	k := insKey{table, rows}
	st := s.insStmts[k]
	if st == nil {
		var b strings.Builder
		b.WriteString(insertSQL[table][0])
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(insertSQL[table][1])
		}
		b.WriteString(insertSQL[table][2])
		var err error
		if st, err = s.w.PrepareContext(ctx, b.String()); err != nil {
			return fmt.Errorf("prepare insert into %s: %w", table, err)
		}
		s.insStmts[k] = st
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	if table == "points" {
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		if n != int64(rows) {
			return errTied
		}
	}
	return nil
}

// validateIngest rejects a call that could not be stored whole. Ingest
// wraps its errors in store.ErrInvalid.
func validateIngest(org string, src store.Source, recs []store.Record) error {
	if org == "" {
		return errors.New("empty organisation")
	}
	if src.Edge == "" {
		return errors.New("empty edge in source")
	}
	paths := make(map[string]struct{})
	for i, r := range recs {
		if i > 0 && r.Seq <= recs[i-1].Seq {
			return fmt.Errorf("record %d: seq %d after %d: records must be in increasing seq order", i, r.Seq, recs[i-1].Seq)
		}
		for j, p := range r.Points {
			if _, ok := paths[p.Series]; !ok {
				if err := uns.ValidatePath(p.Series); err != nil {
					return fmt.Errorf("record seq %d point %d: %w", r.Seq, j, err)
				}
				paths[p.Series] = struct{}{}
			}
			if err := validatePoint(p); err != nil {
				return fmt.Errorf("record seq %d point %d (%s): %w", r.Seq, j, p.Series, err)
			}
		}
		for j, e := range r.Events {
			if err := validateEvent(e); err != nil {
				return fmt.Errorf("record seq %d event %d: %w", r.Seq, j, err)
			}
		}
	}
	return nil
}

func validatePoint(p uns.Point) error {
	if p.TS < 0 {
		return fmt.Errorf("timestamp %d is before 1970", p.TS)
	}
	switch p.Value.Kind() {
	case uns.KindFloat:
		if f := p.Value.Float64(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("value %v is not finite", f)
		}
	case uns.KindInt, uns.KindBool, uns.KindString:
	default:
		return errors.New("value has no kind")
	}
	if p.Quality > uns.Bad {
		return fmt.Errorf("unknown quality %d", p.Quality)
	}
	return nil
}

// Watermark implements store.Points.
func (s *Store) Watermark(ctx context.Context, src store.Source) (uint64, error) {
	var wm int64
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM watermarks WHERE edge = ? AND stream = ?`, src.Edge, src.Stream).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("watermark %s/%s: %w", src.Edge, src.Stream, err)
	}
	return uint64(wm), nil
}

// prefixRange gives the bounds of a prefix query: paths in [lo, hi) whose
// byte after the prefix is '/' (or that equal it). hi works because stored
// paths are validated: '0' follows '/', and '~' follows every allowed byte.
func prefixRange(prefix string) (p, hi string) {
	p = strings.TrimSuffix(prefix, "/")
	if p == "" {
		return "", "~"
	}
	return p, p + "0"
}

// noLimit turns a limit of 0 or less into SQLite's "no limit".
func noLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// Series implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error) {
	p, hi := prefixRange(prefix)
	rows, err := s.r.QueryContext(ctx, `
		SELECT s.path, l.kind, s.first_ts, l.ts
		FROM series s JOIN latest l ON l.series_id = s.id
		WHERE s.org = ?1 AND s.path >= ?2 AND s.path < ?3
			AND (?2 = '' OR s.path = ?2 OR substr(s.path, length(?2) + 1, 1) = '/')
		ORDER BY s.path
		LIMIT ?4`, org, p, hi, noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("series %q: %w", prefix, err)
	}
	defer rows.Close()
	var out []store.SeriesInfo
	for rows.Next() {
		var si store.SeriesInfo
		var kind int64
		if err := rows.Scan(&si.Path, &kind, &si.First, &si.Last); err != nil {
			return nil, fmt.Errorf("series %q: %w", prefix, err)
		}
		si.Kind = uns.Kind(kind)
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("series %q: %w", prefix, err)
	}
	return out, nil
}

// Latest implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Latest(ctx context.Context, org, prefix string, limit int) ([]uns.Point, error) {
	p, hi := prefixRange(prefix)
	rows, err := s.r.QueryContext(ctx, `
		SELECT s.path, l.ts, l.kind, l.q, l.v
		FROM series s JOIN latest l ON l.series_id = s.id
		WHERE s.org = ?1 AND s.path >= ?2 AND s.path < ?3
			AND (?2 = '' OR s.path = ?2 OR substr(s.path, length(?2) + 1, 1) = '/')
		ORDER BY s.path
		LIMIT ?4`, org, p, hi, noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("latest %q: %w", prefix, err)
	}
	defer rows.Close()
	var out []uns.Point
	for rows.Next() {
		var pt uns.Point
		var kind, q int64
		var v any
		if err := rows.Scan(&pt.Series, &pt.TS, &kind, &q, &v); err != nil {
			return nil, fmt.Errorf("latest %q: %w", prefix, err)
		}
		if pt.Value, err = value(kind, v); err != nil {
			return nil, fmt.Errorf("latest %q: %s: %w", prefix, pt.Series, err)
		}
		pt.Quality = uns.Quality(q)
		out = append(out, pt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest %q: %w", prefix, err)
	}
	return out, nil
}

// Raw implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT ts, kind, q, v FROM points
		WHERE series_id = (SELECT id FROM series WHERE org = ?1 AND path = ?2)
			AND ts >= ?3 AND ts < ?4
		ORDER BY ts, n
		LIMIT ?5`, org, series, from, to, noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("raw %s: %w", series, err)
	}
	defer rows.Close()
	var out []uns.Point
	for rows.Next() {
		pt := uns.Point{Series: series}
		var kind, q int64
		var v any
		if err := rows.Scan(&pt.TS, &kind, &q, &v); err != nil {
			return nil, fmt.Errorf("raw %s: %w", series, err)
		}
		if pt.Value, err = value(kind, v); err != nil {
			return nil, fmt.Errorf("raw %s at %d: %w", series, pt.TS, err)
		}
		pt.Quality = uns.Quality(q)
		out = append(out, pt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("raw %s: %w", series, err)
	}
	return out, nil
}
