package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

// TestConformanceCompacted runs the conformance suite with a compaction of
// every point after every second Ingest, so that reads combine blocks,
// blocks merged with late points and points not yet compacted.
func TestConformanceCompacted(t *testing.T) {
	testDSN(t)
	var moved atomic.Int64
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		s := openSchema(t, schemaFor(dir), Options{})
		var n atomic.Int64
		s.afterIngest = func(ctx context.Context) {
			if n.Add(1)%2 == 0 {
				st, err := s.compactBefore(ctx, math.MaxInt64)
				if err != nil {
					t.Errorf("compact: %v", err)
				}
				moved.Add(st.Points)
			}
		}
		return s
	})
	if moved.Load() == 0 {
		t.Error("no point was compacted")
	}
	t.Logf("%d points compacted", moved.Load())
}

// count returns the number of rows of a table of s.
func count(t *testing.T, s *Store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+pgx.Identifier{s.schema, table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// factory ingests hours of points of series at 1 Hz (decimals, ints,
// bools and strings, ties included) in calls of a minute, and returns
// them by series.
func factory(t *testing.T, s *Store, series, hours int) map[string][]uns.Point {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	src := store.Source{Edge: "e", Stream: "points"}
	want := map[string][]uns.Point{}
	seq := uint64(0)
	for m := range hours * 60 {
		var pts []uns.Point
		for sec := range 60 {
			ts := t0 + int64(m*60+sec)*int64(time.Second)
			for k := range series {
				path := fmt.Sprintf("plant/line%d/temp", k)
				var v uns.Value
				switch k % 4 {
				case 0:
					v = uns.Float(math.Round((20+rng.NormFloat64())*100) / 100)
				case 1:
					v = uns.Int(int64(m*60 + sec))
				case 2:
					v = uns.Bool(sec%7 == 0)
				default:
					v = uns.String([]string{"run", "idle"}[sec/30])
				}
				p := uns.Point{Series: path, TS: ts, Value: v}
				if sec%17 == 0 {
					p.Quality = uns.Uncertain
				}
				pts = append(pts, p)
				want[path] = append(want[path], p)
			}
		}
		seq++
		mustIngest(t, s, src, store.Record{Seq: seq, Points: pts})
	}
	return want
}

func checkRaw(t *testing.T, s *Store, want map[string][]uns.Point) {
	t.Helper()
	for path, w := range want {
		got, err := s.Raw(t.Context(), org, path, 0, math.MaxInt64, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("%s: %d points, want %d (first difference at %d)", path, len(got), len(w), firstDiff(got, w))
		}
	}
}

func firstDiff(a, b []uns.Point) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestCompactExactlyOnce runs compactions from two stores on one schema
// at once, each interrupted at random transactions, until both finish:
// some roll back before their commit, others lose their connection there
// (the server ends the session, as when a hub dies mid-transaction).
// Every point is stored exactly once, in one block a series and hour, and
// the points table is left empty.
func TestCompactExactlyOnce(t *testing.T) {
	schema := schemaFor(t.TempDir())
	a := openSchema(t, schema, Options{})
	defer a.Close()
	b := openSchema(t, schema, Options{})
	defer b.Close()
	want := factory(t, a, 6, 3)
	total := int64(6 * 3 * 3600)
	errCrash := errors.New("crash before commit")
	var wg sync.WaitGroup
	var killed atomic.Int64
	for i, s := range []*Store{a, b} {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		var mu sync.Mutex
		s.compactHook = func(ctx context.Context, tx pgx.Tx) error {
			mu.Lock()
			r := rng.IntN(4)
			mu.Unlock()
			switch r {
			case 0:
				return errCrash
			case 1:
				killed.Add(1)
				_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
				return errors.Join(errCrash, err)
			}
			return nil
		}
		wg.Go(func() {
			for {
				_, err := s.compactBefore(context.Background(), t0+3*int64(time.Hour))
				if err == nil {
					return
				}
				if !errors.Is(err, errCrash) {
					t.Errorf("compact: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := count(t, a, "points"); n != 0 {
		t.Errorf("%d points left as rows", n)
	}
	var blocks, inBlocks int64
	if err := a.pool.QueryRow(t.Context(), `SELECT count(*), coalesce(sum(n), 0) FROM `+pgx.Identifier{schema, "blocks"}.Sanitize()).Scan(&blocks, &inBlocks); err != nil {
		t.Fatal(err)
	}
	if blocks != 6*3 || inBlocks != total {
		t.Errorf("%d blocks of %d points, want %d of %d", blocks, inBlocks, 6*3, total)
	}
	checkRaw(t, a, want)
	checkRaw(t, b, want)
	if killed.Load() == 0 {
		t.Error("no compaction lost its connection")
	}
}

// TestCompactHeadAge checks what Compact leaves as rows: the hours that
// ended less than HeadAge ago, and that the partitions it empties are
// truncated.
func TestCompactHeadAge(t *testing.T) {
	s := openTest(t, Options{HeadAge: 10 * time.Minute})
	want := factory(t, s, 2, 3) // hours t0, t0+1h, t0+2h
	hour := int64(time.Hour)
	// 5 minutes after the second hour ended: the first hour only.
	st, err := s.Compact(t.Context(), time.Unix(0, t0+2*hour+5*int64(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Points != 2*3600 || st.Blocks != 2 {
		t.Errorf("compaction moved %d points into %d blocks, want %d into 2", st.Points, st.Blocks, 2*3600)
	}
	if n := count(t, s, "points"); n != 2*2*3600 {
		t.Errorf("%d rows left, want %d", n, 2*2*3600)
	}
	checkRaw(t, s, want)
	// Every hour: the partition of the first day (t0 is 22:00 UTC) empties;
	// the next day's too, and both are truncated.
	st, err = s.Compact(t.Context(), time.Unix(0, t0+3*day))
	if err != nil {
		t.Fatal(err)
	}
	if st.Points != 2*2*3600 || st.Partitions != 2 {
		t.Errorf("second compaction: %+v, want %d points and 2 partitions truncated", st, 2*2*3600)
	}
	checkRaw(t, s, want)
	// A late point of a compacted hour is a row, then joins its block.
	late := uns.Point{Series: "plant/line0/temp", TS: t0 + 30*int64(time.Second), Value: uns.Float(-5)}
	mustIngest(t, s, store.Source{Edge: "e", Stream: "late"}, store.Record{Seq: 1, Points: []uns.Point{late}})
	w := want["plant/line0/temp"]
	want["plant/line0/temp"] = slices.Insert(w, 31, late) // after the point already at that second
	checkRaw(t, s, want)
	if st, err = s.Compact(t.Context(), time.Unix(0, t0+3*day)); err != nil || st.Points != 1 || st.Blocks != 1 {
		t.Errorf("compaction of a late point: %+v, %v", st, err)
	}
	checkRaw(t, s, want)
	if n := count(t, s, "blocks"); n != 2*3 {
		t.Errorf("%d blocks, want %d (one a series and hour)", n, 2*3)
	}
}

// TestExpireBlocks expires in the middle of a compacted hour: the blocks
// before the cut go, the one across it is rewritten without its points
// before the cut, and Raw, Series' First and the count are exact.
func TestExpireBlocks(t *testing.T) {
	s := openTest(t, Options{})
	want := factory(t, s, 2, 3)
	if _, err := s.compactBefore(t.Context(), math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	cut := t0 + int64(90*time.Minute) + int64(500*time.Millisecond)
	now := time.Unix(0, cut).Add(24 * time.Hour)
	st, err := s.Expire(t.Context(), org, store.Retention{Raw: 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Points != 2*5401 {
		t.Errorf("expired %d points, want %d", st.Points, 2*5401)
	}
	for path, w := range want {
		i := slices.IndexFunc(w, func(p uns.Point) bool { return p.TS >= cut })
		want[path] = w[i:]
	}
	checkRaw(t, s, want)
	series, err := s.Series(t.Context(), org, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range series {
		if si.First != t0+5401*int64(time.Second) {
			t.Errorf("%s: first %d, want %d", si.Path, si.First, t0+5401*int64(time.Second))
		}
	}
	if n := count(t, s, "blocks"); n != 2*2 {
		t.Errorf("%d blocks left, want %d", n, 2*2)
	}
}

// TestMigrateBlocks opens a schema of version 4 with its points as rows:
// it migrates, reads the same, and the next compaction moves the rows.
func TestMigrateBlocks(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := openSchema(t, schema, Options{})
	want := factory(t, s, 2, 2)
	ident := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	for _, q := range []string{`DROP TABLE ` + ident("blocks"), `UPDATE ` + ident("schema_version") + ` SET version = 4`} {
		if _, err := s.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openSchema(t, schema, Options{})
	defer s.Close()
	checkRaw(t, s, want)
	st, err := s.Compact(t.Context(), time.Unix(0, t0+day))
	if err != nil || st.Points != 2*2*3600 {
		t.Fatalf("compaction after the migration: %+v, %v", st, err)
	}
	checkRaw(t, s, want)
}

// TestCorruptBlock checks that a block whose bytes were damaged on disk
// makes Raw and Aggregate fail with colblock.ErrCorrupt, not return a
// wrong answer.
func TestCorruptBlock(t *testing.T) {
	s := openTest(t, Options{})
	factory(t, s, 1, 1)
	if _, err := s.compactBefore(t.Context(), math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `UPDATE `+pgx.Identifier{s.schema, "blocks"}.Sanitize()+` SET data = substr(data, 1, length(data) / 2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw(t.Context(), org, "plant/line0/temp", 0, math.MaxInt64, 0); !errors.Is(err, colblock.ErrCorrupt) {
		t.Errorf("Raw of a corrupt block: %v, want ErrCorrupt", err)
	}
	if _, err := s.Aggregate(t.Context(), org, "plant/line0/temp", 0, math.MaxInt64, 7e9, store.Avg); !errors.Is(err, colblock.ErrCorrupt) {
		t.Errorf("Aggregate of a corrupt block: %v, want ErrCorrupt", err)
	}
}
