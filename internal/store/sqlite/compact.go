package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// Compaction moves the head into blocks: it freezes the active head (a new
// one takes the following ingests), encodes the frozen head's points per
// series as blocks, with their minute and hour rollups, and in one
// transaction stores them, the latest values and first timestamps of the
// series, and deletes the chunks the head came from. Readers see either the
// frozen head or its blocks, never both (flushMu). Then it merges small
// blocks of a series into larger ones (merge), which is what makes a point
// cost a few bytes.

// kickCompactor asks the compactor to run soon.
func (s *Store) kickCompactor() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// compactor runs compactions when kicked and every FlushInterval, until
// done is closed. Retention is the caller's (Expire).
func (s *Store) compactor() {
	defer close(s.stopped)
	tick := time.NewTicker(max(s.opts.FlushInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		case <-tick.C:
			s.mu.RLock()
			h := s.active
			due := h.points > 0 && time.Since(h.since) >= s.opts.FlushInterval
			s.mu.RUnlock()
			if !due {
				continue
			}
		}
		start := time.Now()
		err := s.Compact(context.Background())
		if errors.Is(err, ErrClosed) {
			continue
		}
		if err != nil {
			s.opts.Logger.Error("storage compaction failed; the points stay in the ingest log and it is retried", "err", err)
		}
		if s.opts.Compacted != nil {
			s.opts.Compacted(time.Since(start), err)
		}
	}
}

// Compact moves the points of the head into blocks and rollups, then
// merges small blocks. Ingest and queries go on meanwhile. A compaction
// that fails leaves every point where it was; the next one retries.
func (s *Store) Compact(ctx context.Context) error {
	return s.compact(ctx, false)
}

// compact is Compact; with all, it merges every run of small blocks, not
// only those worth it yet (see merge).
func (s *Store) compact(ctx context.Context, all bool) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := s.merge(ctx, all); err != nil {
		return fmt.Errorf("compact: merge: %w", err)
	}
	// While points come in, the next head's chunks reuse the pages this
	// compaction freed, and moving them to shrink the file would write
	// the ingest log twice (measured: half the ingest rate). So a
	// compaction reclaims only once ingest is idle (nothing came in since
	// it froze the head); retention reclaims after every run (Expire).
	s.mu.RLock()
	idle := s.active.points == 0
	s.mu.RUnlock()
	if idle {
		if err := s.reclaim(ctx, reclaimIdle); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	}
	return nil
}

// Free pages: every compaction deletes the chunks of the ingest log it
// moved into blocks, and merges and retention delete blocks; SQLite keeps
// their pages in the file for reuse. The database runs with
// auto_vacuum=INCREMENTAL (see migrate), and reclaim hands free pages back
// to the file system in steps of reclaimStep pages, each its own short
// write under the writer lock, so that ingest goes on between the steps.
// After retention a twentieth of the pages may stay free, for the chunks
// of the heads to come; a compaction that finds ingest idle (after a bulk
// load, or when the edges have gone quiet) returns every free page, since
// no head is filling them.
const (
	reclaimStep     = 1 << 20 // bytes returned per step
	reclaimKeepFrac = 20      // after retention, at most 1/reclaimKeepFrac of the pages stay free
)

// reclaimIdle and reclaimRetention say how many free pages reclaim may
// leave, given the database's page count.
var (
	reclaimIdle      = func(pages int64) int64 { return 0 }
	reclaimRetention = func(pages int64) int64 { return pages / reclaimKeepFrac }
)

// reclaim returns free pages to the file system until at most keep(pages)
// are free. The caller holds compactMu.
func (s *Store) reclaim(ctx context.Context, keep func(pages int64) int64) error {
	step := `PRAGMA incremental_vacuum(` + strconv.FormatInt(max(1, reclaimStep/s.pageSize), 10) + `)`
	for {
		if err := s.lockWriter(ctx); err != nil {
			return err
		}
		var pages, free int64
		err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
		if err == nil {
			err = s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
		}
		more := err == nil && free > keep(pages)
		if more {
			_, err = s.w.ExecContext(ctx, step)
		}
		s.unlockWriter()
		if err != nil {
			return fmt.Errorf("reclaim free pages: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// newBlock is a block to insert.
type newBlock struct {
	series, res, gen, minTS, maxTS int64
	n                              int
	data                           []byte
}

// flush writes the frozen head, freezing the active one first unless a
// failed flush left one frozen. The caller holds compactMu.
func (s *Store) flush(ctx context.Context) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	// Under the writer lock no Ingest is between its commit and its head
	// update, so the frozen head holds exactly the chunks up to lastChunk.
	s.mu.Lock()
	if s.frozen == nil && s.active.points > 0 {
		s.frozen = s.active
		s.active = newHead(s.frozen.gen + 1)
		// A series will most likely get as many points into the next head
		// as into this one: reserve them, rather than grow by doubling.
		for id, hs := range s.frozen.series {
			s.active.series[id] = &headSeries{ss: make([]colblock.Sample, 0, len(hs.ss))}
		}
	}
	f := s.frozen
	// The latest value and first timestamp of each series the head
	// touches, as of now; they go to the database with the blocks.
	var touched []seriesState
	if f != nil {
		for id, hs := range f.series {
			if len(hs.ss) > 0 {
				touched = append(touched, *s.idx.byID[id])
			}
		}
	}
	s.mu.Unlock()
	s.unlockWriter()
	if f == nil {
		return nil
	}

	// The frozen head changes no more: encode it without locks.
	var blocks []newBlock
	for id, hs := range f.series {
		ss := hs.ss
		if len(ss) == 0 {
			continue
		}
		if !slices.IsSortedFunc(ss, cmpSample) {
			// Readers may be reading the frozen head: sort a copy.
			ss = slices.Clone(ss)
			slices.SortStableFunc(ss, cmpSample)
		}
		for part := range slices.Chunk(ss, colblock.MaxPoints) {
			blocks = append(blocks, newBlock{series: id, gen: f.gen, minTS: part[0].TS, maxTS: part[len(part)-1].TS,
				n: len(part), data: colblock.Compress(colblock.Encode(nil, part))})
		}
		for _, res := range []int64{minute, hour} {
			ps := rollupOf(ss, res)
			for part := range slices.Chunk(ps, colblock.MaxPoints) {
				blocks = append(blocks, newBlock{series: id, res: res, gen: f.gen, minTS: part[0].Start, maxTS: part[len(part)-1].Start,
					n: len(part), data: colblock.Compress(encodeRollup(nil, res, part))})
			}
		}
	}

	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	return s.txCommit(ctx, func() error {
		for _, b := range blocks {
			if _, err := s.insertBlock.ExecContext(ctx, b.series, b.res, b.gen, b.minTS, b.maxTS, b.n, b.data); err != nil {
				return fmt.Errorf("insert block: %w", err)
			}
		}
		for _, st := range touched {
			l := st.latest
			if _, err := s.upsertLatest.ExecContext(ctx, st.id, l.TS, int64(l.V.Kind()), int64(l.Q), dbValue(l.V)); err != nil {
				return fmt.Errorf("store latest: %w", err)
			}
			if _, err := s.setFirst.ExecContext(ctx, st.first, st.id); err != nil {
				return fmt.Errorf("store first: %w", err)
			}
		}
		if _, err := s.w.ExecContext(ctx, `DELETE FROM chunks WHERE id <= ?`, f.lastChunk); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		return nil
	}, func() {
		s.mu.Lock()
		s.frozen = nil
		s.mu.Unlock()
	})
}

// Merging: a series gets one small block per compaction (a few minutes of
// points). merge rewrites runs of consecutive small blocks of a series and
// resolution, in gen order, into blocks of up to mergeTarget points or
// buckets. The merged block takes the highest gen of its run, so ingest
// order by gen stays true. A run is merged once it holds half of
// mergeTarget or mergeRunBlocks blocks, so that a point is rewritten a few
// times at most rather than at every compaction. Blocks of up to 64Ki
// points leave fewer half-filled pages than 16Ki did (ADR 0010). Each call merges at most
// mergeBatch runs, so a backlog is merged over several compactions.
const (
	mergeTarget    = 1 << 16
	mergeRunBlocks = 16
	mergeBatch     = 256
)

func (s *Store) merge(ctx context.Context, all bool) error {
	type row struct {
		id, series, res, gen, minTS, maxTS int64
		n                                  int
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, series_id, res, gen, min_ts, max_ts, n FROM blocks
		WHERE n < ? ORDER BY series_id, res, gen, id`, mergeTarget/2)
	if err != nil {
		return err
	}
	var small []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.series, &r.res, &r.gen, &r.minTS, &r.maxTS, &r.n); err != nil {
			rows.Close()
			return err
		}
		small = append(small, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Runs of small blocks that are consecutive among all blocks of their
	// series and resolution: a big block in between breaks a run.
	var runs [][]row
	for i := 0; i < len(small) && len(runs) < mergeBatch; {
		j, n := i+1, small[i].n
		for j < len(small) && small[j].series == small[i].series && small[j].res == small[i].res && n+small[j].n <= mergeTarget {
			n += small[j].n
			j++
		}
		if j-i > 1 && (all || n >= mergeTarget/2 || j-i >= mergeRunBlocks) {
			var between int
			first, last := small[i], small[j-1]
			err := s.bigBetween.QueryRowContext(ctx, first.series, first.res, first.gen, first.id,
				last.gen, last.id, mergeTarget/2).Scan(&between)
			if err != nil {
				return err
			}
			if between == 0 {
				runs = append(runs, small[i:j])
			}
		}
		i = j
	}
	if len(runs) == 0 {
		return nil
	}
	var (
		gone []any
		nbs  []newBlock
	)
	for _, run := range runs {
		ids := make([]any, len(run))
		for i, r := range run {
			ids[i] = r.id
		}
		var n int
		for _, r := range run {
			n += r.n
		}
		nb, err := s.mergeRun(ctx, ids, run[0].series, run[0].res, run[len(run)-1].gen, n)
		if err != nil {
			return err
		}
		gone = append(gone, ids...)
		nbs = append(nbs, nb)
	}
	return s.replaceBlocks(ctx, gone, nbs)
}

// mergeRun reads the blocks ids (one series and resolution) in ingest
// order and returns them merged into one block of generation gen.
func (s *Store) mergeRun(ctx context.Context, ids []any, series, res, gen int64, n int) (newBlock, error) {
	nb := newBlock{series: series, res: res, gen: gen}
	var ss []colblock.Sample
	var ps []store.Partial
	if res == 0 {
		ss = make([]colblock.Sample, 0, n)
	} else {
		ps = make([]store.Partial, 0, n)
	}
	for _, id := range ids { // in ingest order
		b, err := s.readBlock(ctx, id.(int64))
		if err == nil && res == 0 {
			ss, err = colblock.Decode(ss, b)
		} else if err == nil {
			ps, err = decodeRollup(ps, res, b)
		}
		if err != nil {
			return nb, fmt.Errorf("block %d: %w", id, err)
		}
	}
	if res == 0 {
		sortSamples(ss) // stable: blocks were read in ingest order
		nb.n, nb.minTS, nb.maxTS = len(ss), ss[0].TS, ss[len(ss)-1].TS
		nb.data = colblock.Compress(colblock.Encode(nil, ss))
	} else {
		ps = mergePartials(ps)
		nb.n, nb.minTS, nb.maxTS = len(ps), ps[0].Start, ps[len(ps)-1].Start
		nb.data = colblock.Compress(encodeRollup(nil, res, ps))
	}
	return nb, nil
}

// mergePartials merges the partials of equal starts (given in ingest
// order) and sorts them by start.
func mergePartials(ps []store.Partial) []store.Partial {
	slices.SortStableFunc(ps, func(a, b store.Partial) int { return cmp.Compare(a.Start, b.Start) })
	out := ps[:0]
	for i := range ps {
		if len(out) > 0 && out[len(out)-1].Start == ps[i].Start {
			out[len(out)-1].Merge(&ps[i])
			continue
		}
		out = append(out, ps[i])
	}
	return out
}

// replaceBlocks deletes the blocks ids and inserts nbs in one transaction.
func (s *Store) replaceBlocks(ctx context.Context, ids []any, nbs []newBlock) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	return s.txCommit(ctx, func() error {
		for _, id := range ids {
			res, err := s.deleteBlock.ExecContext(ctx, id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				// Only compaction deletes blocks, and compactMu is held.
				return errors.Join(err, errMergeRace)
			}
		}
		for _, nb := range nbs {
			if _, err := s.insertBlock.ExecContext(ctx, nb.series, nb.res, nb.gen, nb.minTS, nb.maxTS, nb.n, nb.data); err != nil {
				return fmt.Errorf("insert block: %w", err)
			}
		}
		return nil
	}, func() {})
}

var errMergeRace = errors.New("blocks to merge changed")

// load reads the series, their latest values and the chunks into memory
// when the store opens.
func (s *Store) load(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT s.id, s.org, s.path, s.first_ts, l.ts, l.kind, l.q, l.v
		FROM series s LEFT JOIN latest l ON l.series_id = s.id`)
	if err != nil {
		return fmt.Errorf("load series: %w", err)
	}
	for rows.Next() {
		st := &seriesState{}
		var ts, kind, q sql.NullInt64
		var v any
		if err := rows.Scan(&st.id, &st.org, &st.path, &st.first, &ts, &kind, &q, &v); err != nil {
			rows.Close()
			return fmt.Errorf("load series: %w", err)
		}
		if ts.Valid {
			if st.latest.V, err = value(kind.Int64, v); err != nil {
				rows.Close()
				return fmt.Errorf("load series %s: %w", st.path, err)
			}
			st.latest.TS, st.latest.Q, st.has = ts.Int64, uns.Quality(q.Int64), true
		}
		s.idx.add(st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load series: %w", err)
	}

	var gen sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT max(gen) FROM blocks`).Scan(&gen); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	s.active = newHead(gen.Int64 + 1)

	rows, err = s.w.QueryContext(ctx, `SELECT id, org, data FROM chunks ORDER BY id`)
	if err != nil {
		return fmt.Errorf("load chunks: %w", err)
	}
	defer rows.Close()
	h := s.active
	for rows.Next() {
		var id int64
		var org string
		var b []byte
		if err := rows.Scan(&id, &org, &b); err != nil {
			return fmt.Errorf("load chunks: %w", err)
		}
		var missing string
		err := decodeChunk(b, func(p chunkPoint) {
			st := s.idx.byKey[seriesKey{org, p.path}]
			if st == nil {
				missing = p.path // cannot be: a chunk's series commit with it
				return
			}
			hs := h.series[st.id]
			if hs == nil {
				hs = &headSeries{}
				h.series[st.id] = hs
			}
			hs.ss = append(hs.ss, p.sample)
			h.points++
			st.observe(p.sample)
		})
		if err == nil && missing != "" {
			err = fmt.Errorf("series %s of org %s is not in the series table", missing, org)
		}
		if err != nil {
			return fmt.Errorf("chunk %d: %w", id, err)
		}
		h.lastChunk = id
	}
	if h.points > 0 {
		h.since = time.Now()
	}
	return rows.Err()
}
