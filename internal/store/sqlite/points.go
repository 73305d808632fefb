package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// Ingest implements store.Points. It validates and encodes the whole call
// first, without locks, so bad input stores nothing; then, in one IMMEDIATE
// transaction, it reads the watermark, creates the call's new series,
// stores the points of the records above the watermark as one chunk, the
// events and the new watermark, and commits with an fsync. Only then does
// it add the points to the head, where queries see them.
func (s *Store) Ingest(ctx context.Context, org string, src store.Source, recs []store.Record) (int, error) {
	c, err := prepareCall(org, src, recs)
	if err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w: %w", src.Edge, src.Stream, store.ErrInvalid, err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := s.lockWriter(ctx); err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
	}
	defer s.unlockWriter()

	var (
		skip    int   // records at or below the watermark
		chunk   int64 // id of the chunk stored, 0 if none
		created []*seriesState
	)
	err = s.inTx(ctx, func() (err error) {
		skip, chunk, created, err = s.ingest(ctx, org, src, c)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ingest %s/%s: %w", src.Edge, src.Stream, err)
	}
	if skip == len(recs) {
		return 0, nil
	}

	s.mu.Lock()
	for _, st := range created {
		s.idx.add(st)
	}
	h := s.active
	if h.points == 0 {
		h.since = time.Now()
	}
	states := make([]*seriesState, len(c.paths))
	heads := make([]*headSeries, len(c.paths))
	for i, path := range c.paths {
		states[i] = s.idx.byKey[seriesKey{org, path}]
		heads[i] = h.series[states[i].id]
		if heads[i] == nil {
			heads[i] = &headSeries{}
			h.series[states[i].id] = heads[i]
		}
	}
	k := c.recStart[skip]
	for _, r := range recs[skip:] {
		for _, p := range r.Points {
			smp := colblock.Sample{TS: p.TS, V: p.Value, Q: p.Quality}
			heads[c.local[k]].ss = append(heads[c.local[k]].ss, smp)
			states[c.local[k]].observe(smp)
			k++
		}
	}
	h.points += len(c.local) - c.recStart[skip]
	if chunk != 0 {
		h.lastChunk = chunk
	}
	full := h.points >= s.opts.FlushPoints
	s.mu.Unlock()
	if full {
		s.kickCompactor()
	}
	return len(recs) - skip, nil
}

// observe updates first and latest for a new point of the series. Among
// points with the newest timestamp, the one ingested last is the latest.
func (st *seriesState) observe(smp sample) {
	if !st.has || smp.TS >= st.latest.TS {
		st.latest = smp
	}
	if !st.has || smp.TS < st.first {
		st.first = smp.TS
	}
	st.has = true
}

// call is an Ingest call checked and encoded: its series paths, the index
// into them of every point, where each record's points start, and the
// chunk: a header of paths and the points, each record's encoding
// starting at body[recOff[i]] independently of the ones before (see
// encodeChunk), so that the records above the watermark are a suffix.
type call struct {
	recs     []store.Record
	paths    []string
	local    []int32 // per point, in call order
	recStart []int   // index into local of each record's first point; one more at the end
	header   []byte
	body     []byte
	recOff   []int // offset into body of each record; one more at the end
}

// prepareCall checks a call and encodes its chunk. Its errors are what
// Ingest wraps in store.ErrInvalid.
func prepareCall(org string, src store.Source, recs []store.Record) (*call, error) {
	if org == "" {
		return nil, errors.New("empty organisation")
	}
	if src.Edge == "" {
		return nil, errors.New("empty edge in source")
	}
	var n int
	for _, r := range recs {
		n += len(r.Points)
	}
	c := &call{recs: recs, recStart: make([]int, 0, len(recs)+1), recOff: make([]int, 0, len(recs)+1),
		local: make([]int32, 0, n), body: make([]byte, 0, 14*n)}
	idx := make(map[string]int32)
	for i, r := range recs {
		if i > 0 && r.Seq <= recs[i-1].Seq {
			return nil, fmt.Errorf("record %d: seq %d after %d: records must be in increasing seq order", i, r.Seq, recs[i-1].Seq)
		}
		c.recStart = append(c.recStart, len(c.local))
		c.recOff = append(c.recOff, len(c.body))
		var prev int64
		for j, p := range r.Points {
			l, ok := idx[p.Series]
			if !ok {
				if err := uns.ValidatePath(p.Series); err != nil {
					return nil, fmt.Errorf("record seq %d point %d: %w", r.Seq, j, err)
				}
				l = int32(len(c.paths))
				idx[p.Series] = l
				c.paths = append(c.paths, p.Series)
			}
			if err := store.ValidatePoint(p); err != nil {
				return nil, fmt.Errorf("record seq %d point %d (%s): %w", r.Seq, j, p.Series, err)
			}
			c.local = append(c.local, l)
			c.body = appendChunkPoint(c.body, j == 0, prev, int64(l), colblock.Sample{TS: p.TS, V: p.Value, Q: p.Quality})
			prev = p.TS
		}
		for j, e := range r.Events {
			if err := store.ValidateEvent(e); err != nil {
				return nil, fmt.Errorf("record seq %d event %d: %w", r.Seq, j, err)
			}
		}
	}
	c.recStart = append(c.recStart, len(c.local))
	c.recOff = append(c.recOff, len(c.body))
	c.header = appendChunkHeader(nil, c.paths)
	return c, nil
}

// ingest is the transaction of Ingest: it returns how many records of the
// call were at or below the watermark, the id of the chunk it stored (0 if
// none) and the series it created.
func (s *Store) ingest(ctx context.Context, org string, src store.Source, c *call) (skip int, chunk int64, created []*seriesState, err error) {
	// The watermark is read under the write lock, so a concurrent or
	// retried delivery of the same records cannot also pass this check.
	var wm int64
	err = s.getWatermark.QueryRowContext(ctx, src.Edge, src.Stream).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil, fmt.Errorf("read watermark: %w", err)
	}
	for skip < len(c.recs) && c.recs[skip].Seq <= uint64(wm) {
		skip++
	}
	if skip == len(c.recs) {
		return skip, 0, nil, nil
	}
	// The series of every path of the call: those of skipped records exist
	// already, so creating them all creates only the new ones of the rest.
	var missing []string
	s.mu.RLock()
	for _, path := range c.paths {
		if s.idx.byKey[seriesKey{org, path}] == nil {
			missing = append(missing, path)
		}
	}
	s.mu.RUnlock()
	for _, path := range missing {
		var id int64
		if err := s.insertSeries.QueryRowContext(ctx, org, path).Scan(&id); err != nil {
			return 0, 0, nil, fmt.Errorf("series %s: %w", path, err)
		}
		created = append(created, &seriesState{id: id, org: org, path: path})
	}
	if body := c.body[c.recOff[skip]:]; len(body) > 0 {
		buf := append(append(s.chunkBuf[:0], c.header...), body...)
		s.chunkBuf = buf
		if err := s.insertChunk.QueryRowContext(ctx, org, buf).Scan(&chunk); err != nil {
			return 0, 0, nil, fmt.Errorf("store chunk: %w", err)
		}
	}
	rest := c.recs[skip:]
	if err := s.storeEvents(ctx, org, rest); err != nil {
		return 0, 0, nil, err
	}
	last := rest[len(rest)-1].Seq
	if _, err := s.setWatermark.ExecContext(ctx, src.Edge, src.Stream, int64(last)); err != nil {
		return 0, 0, nil, fmt.Errorf("write watermark %d: %w", last, err)
	}
	return skip, chunk, created, nil
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

// Watermark implements store.Points.
func (s *Store) Watermark(ctx context.Context, src store.Source) (uint64, error) {
	var wm int64
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM watermarks WHERE edge = ? AND stream = ?`, src.Edge, src.Stream).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("watermark %s/%s: %w", src.Edge, src.Stream, err)
	}
	return uint64(wm), nil
}

// Series implements store.Points, from memory. A limit of 0 or less means
// no limit.
func (s *Store) Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.SeriesInfo
	for _, st := range s.idx.under(org, prefix) {
		if limit > 0 && len(out) == limit {
			break
		}
		if st.has {
			out = append(out, store.SeriesInfo{Path: st.path, Kind: st.latest.V.Kind(), First: st.first, Last: st.latest.TS})
		}
	}
	return out, nil
}

// Latest implements store.Points, from memory. A limit of 0 or less means
// no limit.
func (s *Store) Latest(ctx context.Context, org, prefix string, limit int) ([]uns.Point, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []uns.Point
	for _, st := range s.idx.under(org, prefix) {
		if limit > 0 && len(out) == limit {
			break
		}
		if st.has {
			out = append(out, uns.Point{Series: st.path, TS: st.latest.TS, Value: st.latest.V, Quality: st.latest.Q})
		}
	}
	return out, nil
}

// Raw implements store.Points. A limit of 0 or less means no limit.
func (s *Store) Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error) {
	var ss []colblock.Sample
	err := s.read(ctx, org, series, func(v *view) error {
		var err error
		ss, err = v.samples(ctx, from, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("raw %s: %w", series, err)
	}
	if limit > 0 && len(ss) > limit {
		ss = ss[:limit]
	}
	out := make([]uns.Point, len(ss))
	for i, smp := range ss {
		out[i] = uns.Point{Series: series, TS: smp.TS, Value: smp.V, Quality: smp.Q}
	}
	return out, nil
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
