package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

func testConcurrency(t *testing.T, open Opener) {
	// Several edges deliver at once, each its own source and series.
	t.Run("Sources", func(t *testing.T) {
		s := newStore(t, open)
		const edges, batches, perBatch = 4, 10, 5
		var wg sync.WaitGroup
		for e := range edges {
			wg.Go(func() {
				src := store.Source{Edge: fmt.Sprintf("edge-%d", e), Stream: "points"}
				series := fmt.Sprintf("m%d/temp", e)
				for b := range batches {
					from := uint64(b*perBatch + 1)
					rs := recs(series, from, from+perBatch-1)
					if _, err := s.Ingest(t.Context(), orgA, src, rs); err != nil {
						t.Errorf("Ingest %v: %v", src, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for e := range edges {
			src := store.Source{Edge: fmt.Sprintf("edge-%d", e), Stream: "points"}
			if got := watermark(t, s, src); got != batches*perBatch {
				t.Errorf("watermark %v = %d, want %d", src, got, batches*perBatch)
			}
			if got := raw(t, s, orgA, fmt.Sprintf("m%d/temp", e)); len(got) != batches*perBatch {
				t.Errorf("series of %v has %d points, want %d", src, len(got), batches*perBatch)
			}
		}
	})

	// One source delivered by racing retries with overlapping batches, as
	// after a reconnect. The watermark check and the write are atomic, so
	// the stored counts add up to each record once.
	t.Run("RetriesOfOneSource", func(t *testing.T) {
		s := newStore(t, open)
		const workers, total = 4, 40
		var mu sync.Mutex
		stored := 0
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// Each worker delivers 1..total in windows of 10 starting
				// at a different offset, so every pair of workers overlaps.
				for from := uint64(1 + w*3); from <= total; from += 10 {
					rs := recs("m/count", from, min(from+9, total))
					if w%2 == 1 {
						rs = recs("m/count", 1, min(from+9, total))
					}
					n, err := s.Ingest(t.Context(), orgA, srcA, rs)
					if err != nil {
						t.Errorf("Ingest: %v", err)
						return
					}
					mu.Lock()
					stored += n
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Which records get stored depends on which call commits first (a
		// record below the watermark is skipped, as the contract allows
		// gaps), but none may be stored twice, and the counts must add up
		// to what is stored.
		pts := raw(t, s, orgA, "m/count")
		seen := map[float64]bool{}
		for _, p := range pts {
			v, _ := p.Value.AsFloat()
			if seen[v] {
				t.Errorf("record %v stored twice", v)
			}
			seen[v] = true
		}
		if stored != len(pts) {
			t.Errorf("stored counts add up to %d, but %d points are stored", stored, len(pts))
		}
		if !seen[total] {
			t.Errorf("the last record (%d) was not stored", total)
		}
		if got := watermark(t, s, srcA); got != total {
			t.Errorf("watermark = %d, want %d", got, total)
		}
	})
}

// testReopen checks that everything survives Close and a new Open on the
// same directory, and that the reopened store goes on where it stopped.
func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	s := open(t, dir)
	ingest(t, s, orgA, srcA, recs("m/temp", 1, 5))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := watermark(t, s, srcA); got != 5 {
		t.Errorf("watermark after reopen = %d, want 5", got)
	}
	if got := ingest(t, s, orgA, srcA, recs("m/temp", 1, 7)); got != 2 {
		t.Errorf("after reopen, redelivery of 1..7 stored %d, want 2", got)
	}
	// An older point after reopen must still move the series' First.
	ingest(t, s, orgA, srcA, []store.Record{rec(8, pt("m/temp", t0, uns.Float(0)))})
	// A point with the timestamp of one stored before Close goes after it.
	ingest(t, s, orgA, srcA, []store.Record{rec(9, pt("m/temp", t0+7*sec, uns.Float(70)))})
	got := raw(t, s, orgA, "m/temp")
	if len(got) != 9 {
		t.Errorf("Raw after reopen has %d points, want 9: %s", len(got), fmtPoints(got))
	} else {
		checkPoints(t, "Raw of the tie after reopen", got[7:], []uns.Point{pt("m/temp", t0+7*sec, uns.Float(7)), pt("m/temp", t0+7*sec, uns.Float(70))})
	}
	series, err := s.Series(t.Context(), orgA, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SeriesInfo{{Path: "m/temp", Kind: uns.KindFloat, First: t0, Last: t0 + 7*sec}}
	if len(series) != 1 || series[0] != want[0] {
		t.Errorf("Series after reopen = %+v, want %+v", series, want)
	}
}
