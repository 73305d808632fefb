package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/molen-io/molen/internal/store"
)

// Series administration first flushes the head (as Expire does), so that
// the series' points are all in blocks, none in the ingest log; then,
// holding compactMu (no compaction moves blocks) and the writer lock (no
// ingest adds points), it checks that no point of the series arrived
// since, and changes the blocks, the latest value and the series row in
// one transaction, and the index in memory with its commit. A series that
// keeps receiving points between the flush and the lock is retried a few
// times, then refused with store.ErrBusy.

// adminTries bounds the flushes of one administration call.
const adminTries = 3

// admin runs change for the series of org at paths (which must exist)
// once none of them has points in the head. change runs in the
// transaction; then, if not nil, after its commit with mu held.
func (s *Store) admin(ctx context.Context, org string, paths []string, change func(sts []*seriesState) (then func(), err error)) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	for try := 0; ; try++ {
		if err := s.flush(ctx); err != nil {
			return fmt.Errorf("flush head: %w", err)
		}
		if err := s.lockWriter(ctx); err != nil {
			return err
		}
		s.mu.RLock()
		sts := make([]*seriesState, len(paths))
		inHead := false
		for i, p := range paths {
			sts[i] = s.idx.byKey[seriesKey{org, p}]
			if sts[i] != nil && (s.frozen != nil && s.frozen.series[sts[i].id] != nil && len(s.frozen.series[sts[i].id].ss) > 0 ||
				s.active.series[sts[i].id] != nil && len(s.active.series[sts[i].id].ss) > 0) {
				inHead = true
			}
		}
		s.mu.RUnlock()
		for i, st := range sts {
			if st == nil {
				s.unlockWriter()
				return fmt.Errorf("series %s: %w", paths[i], store.ErrNotFound)
			}
		}
		if inHead {
			s.unlockWriter()
			if try+1 == adminTries {
				return fmt.Errorf("%w: the series receives points; try again", store.ErrBusy)
			}
			continue
		}
		var then func()
		err := s.txCommit(ctx, func() error {
			var err error
			then, err = change(sts)
			return err
		}, func() {
			if then != nil {
				s.mu.Lock()
				then()
				s.mu.Unlock()
			}
		})
		s.unlockWriter()
		return err
	}
}

// removeSeries drops st from the index. The caller holds mu.
func (x *index) remove(st *seriesState) {
	delete(x.byKey, seriesKey{st.org, st.path})
	delete(x.byID, st.id)
	list := x.byOrg[st.org]
	if i := slices.Index(list, st); i >= 0 {
		x.byOrg[st.org] = slices.Delete(list, i, i+1)
	}
}

// deleteRows removes a series' rows but its blocks.
func (s *Store) deleteRows(ctx context.Context, id int64) error {
	for _, q := range []string{`DELETE FROM latest WHERE series_id = ?`, `DELETE FROM series WHERE id = ?`} {
		if _, err := s.w.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSeries implements store.SeriesAdmin.
func (s *Store) DeleteSeries(ctx context.Context, org, path string) error {
	if err := store.CheckAdmin(path); err != nil {
		return err
	}
	err := s.admin(ctx, org, []string{path}, func(sts []*seriesState) (func(), error) {
		st := sts[0]
		if _, err := s.w.ExecContext(ctx, `DELETE FROM blocks WHERE series_id = ?`, st.id); err != nil {
			return nil, err
		}
		if err := s.deleteRows(ctx, st.id); err != nil {
			return nil, err
		}
		return func() { s.idx.remove(st) }, nil
	})
	if err != nil {
		return fmt.Errorf("delete series %s: %w", path, err)
	}
	return nil
}

// RenameSeries implements store.SeriesAdmin.
func (s *Store) RenameSeries(ctx context.Context, org, from, to string) error {
	if err := store.CheckAdmin(from, to); err != nil {
		return err
	}
	err := s.admin(ctx, org, []string{from}, func(sts []*seriesState) (func(), error) {
		s.mu.RLock()
		taken := s.idx.byKey[seriesKey{org, to}] != nil
		s.mu.RUnlock()
		if taken {
			return nil, fmt.Errorf("series %s: %w", to, store.ErrExists)
		}
		st := sts[0]
		if _, err := s.w.ExecContext(ctx, `UPDATE series SET path = ? WHERE id = ?`, to, st.id); err != nil {
			return nil, err
		}
		return func() {
			s.idx.remove(st)
			st.path = to
			s.idx.add(st)
		}, nil
	})
	if err != nil {
		return fmt.Errorf("rename series %s to %s: %w", from, to, err)
	}
	return nil
}

// MergeSeries implements store.SeriesAdmin. The blocks of from become
// blocks of into: reads sort points of several blocks by time and combine
// rollup buckets of several blocks, as they do for the blocks of one
// series from several compactions, and merging rewrites them into one.
func (s *Store) MergeSeries(ctx context.Context, org, from, into string) error {
	if err := store.CheckAdmin(from, into); err != nil {
		return err
	}
	err := s.admin(ctx, org, []string{from, into}, func(sts []*seriesState) (func(), error) {
		src, dst := sts[0], sts[1]
		if _, err := s.w.ExecContext(ctx, `UPDATE blocks SET series_id = ? WHERE series_id = ?`, dst.id, src.id); err != nil {
			return nil, err
		}
		first, latest, has := dst.first, dst.latest, dst.has
		if src.has && (!has || src.latest.TS > latest.TS) {
			latest, has = src.latest, true
		}
		first = min(first, src.first)
		if has {
			if _, err := s.upsertLatest.ExecContext(ctx, dst.id, latest.TS, int64(latest.V.Kind()), int64(latest.Q), dbValue(latest.V)); err != nil {
				return nil, err
			}
		}
		if _, err := s.setFirst.ExecContext(ctx, first, dst.id); err != nil {
			return nil, err
		}
		if err := s.deleteRows(ctx, src.id); err != nil {
			return nil, err
		}
		return func() {
			s.idx.remove(src)
			dst.first, dst.latest, dst.has = first, latest, has
		}, nil
	})
	if err != nil {
		return fmt.Errorf("merge series %s into %s: %w", from, into, err)
	}
	return nil
}
