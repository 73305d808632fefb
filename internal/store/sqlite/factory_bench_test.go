package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

// regularity describes how regular a data set is, which is what decides
// how small a store can keep it.
type regularity struct {
	repeated float64 // share of points whose value equals the series' previous one
	floatRep float64 // the same among float points
	constant int     // series whose value never changes
	steps    int     // series (not constant) whose value changes at under 10 % of points
	numeric  int     // series of floats or ints
	series   int
}

func measureRegularity(calls [][]uns.Point) regularity {
	type acc struct {
		prev            uns.Value
		n, same, change int
		numeric         bool
	}
	per := make(map[string]*acc)
	var points, same, floats, floatSame int
	for _, c := range calls {
		for _, p := range c {
			a := per[p.Series]
			if a == nil {
				a = &acc{numeric: p.Value.Kind() == uns.KindFloat || p.Value.Kind() == uns.KindInt}
				per[p.Series] = a
			} else if p.Value == a.prev {
				a.same++
				same++
				if p.Value.Kind() == uns.KindFloat {
					floatSame++
				}
			} else {
				a.change++
			}
			if p.Value.Kind() == uns.KindFloat {
				floats++
			}
			a.prev = p.Value
			a.n++
			points++
		}
	}
	r := regularity{series: len(per), repeated: float64(same) / float64(points), floatRep: float64(floatSame) / float64(max(floats, 1))}
	for _, a := range per {
		switch {
		case a.change == 0:
			r.constant++
		case float64(a.change) < 0.1*float64(a.n):
			r.steps++
		}
		if a.numeric {
			r.numeric++
		}
	}
	return r
}

func (r regularity) report(b *testing.B) {
	b.ReportMetric(100*r.repeated, "repeated-%")
	b.ReportMetric(100*r.floatRep, "float-repeated-%")
	b.ReportMetric(float64(r.constant), "const-series")
	b.ReportMetric(float64(r.steps), "step-series")
	b.ReportMetric(float64(r.series), "series")
}

// TestFactoryRegularity states how regular the simulator's data is (see
// docs/benchmarks.md): most of its series repeat their value, and the
// noisy shape repeats none of its floats. It checks the measure on a data
// set whose answer is known, then logs the figures of an hour of one site.
func TestFactoryRegularity(t *testing.T) {
	mk := func(path string, vs ...uns.Value) []uns.Point {
		out := make([]uns.Point, len(vs))
		for i, v := range vs {
			out[i] = uns.Point{Series: path, TS: int64(i), Value: v}
		}
		return out
	}
	ones := make([]uns.Value, 20)
	step := make([]uns.Value, 20)
	for i := range ones {
		ones[i] = uns.Int(1)
		step[i] = uns.Float(float64(i / 15))
	}
	got := measureRegularity([][]uns.Point{
		mk("a/const", ones...),
		mk("a/step", step...),
		mk("a/moving", uns.Float(1), uns.Float(2), uns.Float(3), uns.Float(3)),
	})
	want := regularity{repeated: float64(19+18+1) / 44, floatRep: float64(18+1) / 24, constant: 1, steps: 1, numeric: 3, series: 3}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	for _, sh := range storetest.Shapes {
		calls, _ := storetest.FactoryPoints(t, 1, 0, 3600, 10_000, sh)
		r := measureRegularity(calls)
		t.Logf("%s: %.1f %% of points (%.1f %% of floats) repeat their series' previous value; of %d series %d constant, %d step-like (change at < 10 %% of points), %d numeric",
			sh.Name, 100*r.repeated, 100*r.floatRep, r.series, r.constant, r.steps, r.numeric)
		if sh.Point != nil && r.floatRep > 0.01 {
			t.Errorf("%s: %.3f of floats repeat; noise should leave almost none", sh.Name, r.floatRep)
		}
	}
}

// BenchmarkIngestFactory ingests four continuous simulated hours of 16
// sites (672 series, 9,676,800 points) in calls of 10,000 points, each
// its own transaction with an fsync, while the store compacts and merges
// in the background as it does in the hub. The clock stops when the last
// head is compacted: points/s is the rate the store sustains, compaction
// included. Then it merges every remaining small block and reports bytes
// per point: of the pages in use (used-B/pt: blocks, rollups, series,
// indexes), of the files after a WAL checkpoint (file-B/pt, what du
// shows), of the point blocks' and the rollups' data alone.
//
// Each shape (see storetest.Shapes) is a sub-benchmark; with edges=4 the calls come
// from four edges at once (every fourth call each), as a hub with many
// edges gets them.
func BenchmarkIngestFactory(b *testing.B) {
	const sites, hours = 16, 4
	for _, sh := range storetest.Shapes {
		var (
			once   sync.Once
			calls  [][]uns.Point
			points int
			reg    regularity
		)
		load := func() {
			calls, _ = storetest.FactoryPoints(b, sites, 0, hours*3600, 10_000, sh)
			for _, c := range calls {
				points += len(c)
			}
			reg = measureRegularity(calls)
		}
		for _, edges := range []int{1, 4} {
			if edges > 1 && sh.Name != "sim" {
				continue
			}
			b.Run(fmt.Sprintf("%s/edges=%d", sh.Name, edges), func(b *testing.B) {
				once.Do(load)
				for b.Loop() {
					b.StopTimer()
					path := filepath.Join(b.TempDir(), "hub.db")
					s := openAt(b, path)
					b.StartTimer()
					start := time.Now()
					ingestCalls(b, s, calls, edges, 0)
					if err := s.Compact(b.Context()); err != nil {
						b.Fatal(err)
					}
					el := time.Since(start)
					b.StopTimer()
					b.ReportMetric(float64(points)/el.Seconds(), "points/s")
					for range 8 {
						if err := s.compact(b.Context(), true); err != nil {
							b.Fatal(err)
						}
					}
					reportSizes(b, s, path, points)
					s.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(points), "points")
				reg.report(b)
				b.ReportMetric(0, "ns/op")
			})
		}
		calls = nil
	}
}

// ingestCalls ingests calls from edges edges at once, edge e taking every
// edges-th call from e, with seqs from seq0+1 on.
func ingestCalls(b testing.TB, s *Store, calls [][]uns.Point, edges int, seq0 uint64) {
	var wg sync.WaitGroup
	for e := range edges {
		wg.Go(func() {
			src := store.Source{Edge: fmt.Sprintf("edge-%d", e), Stream: "points"}
			seq := seq0
			for i := e; i < len(calls); i += edges {
				seq++
				if _, err := s.Ingest(b.Context(), storetest.BenchOrg, src, []store.Record{{Seq: seq, Points: calls[i]}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSteadyState ingests a simulated day of 4 sites (168 series at 1
// Hz, 14.5M points) at a constant rate in simulated time, with the hub's
// retention running every simulated 10 minutes (raw points 6 h, minute
// rollups 12 h, hour rollups kept), the compactor in the background. It
// reports the sizes at the end of the day and the largest ratio of the
// files (after a checkpoint) to the pages in use seen after a retention
// run in the second half of the day, when both raw points and minute
// rollups are being deleted (before, the database is small and the 32 KiB
// shared-memory file alone is a large share).
func BenchmarkSteadyState(b *testing.B) {
	const sites, step = 4, 600 // seconds between retention runs
	ret := store.Retention{Raw: 6 * time.Hour, Minute: 12 * time.Hour}
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "hub.db")
		s := openAt(b, path)
		var seq uint64
		var points int
		var worst float64
		var ingest time.Duration
		for from := 0; from < 86400; from += step {
			calls, _ := storetest.FactoryPoints(b, sites, from, step, 10_000, storetest.Shapes[0])
			for _, c := range calls {
				points += len(c)
			}
			start := time.Now()
			ingestCalls(b, s, calls, 1, seq)
			ingest += time.Since(start)
			seq += uint64(len(calls))
			now := time.Unix(0, storetest.BenchT0+int64(from+step)*int64(time.Second))
			if _, err := s.Expire(b.Context(), storetest.BenchOrg, ret, now); err != nil {
				b.Fatal(err)
			}
			if from >= 12*3600 { // steady: raw and minute retention both delete
				used, file := pageBytes(b, s, path)
				worst = max(worst, float64(file)/float64(used))
			}
		}
		b.ReportMetric(float64(points)/ingest.Seconds(), "points/s")
		b.ReportMetric(float64(points), "points")
		b.ReportMetric(worst, "max-file/used")
		used, file := pageBytes(b, s, path)
		b.ReportMetric(float64(used)/1e6, "used-MB")
		b.ReportMetric(float64(file)/1e6, "file-MB")
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}

// reportSizes reports the bytes per point of the pages in use, of the
// files after a checkpoint, and of the point blocks' and rollups' data.
func reportSizes(b *testing.B, s *Store, path string, points int) {
	used, file := pageBytes(b, s, path)
	blocks, rollups := blockBytes(b, s)
	pp := float64(points)
	b.ReportMetric(float64(used)/pp, "used-B/pt")
	b.ReportMetric(float64(file)/pp, "file-B/pt")
	b.ReportMetric(float64(blocks)/pp, "blocks-B/pt")
	b.ReportMetric(float64(rollups)/pp, "rollups-B/pt")
	// Where the pages go, table by table and index by index (SQLite's
	// dbstat): the data of a page and what is left unused in it.
	rows, err := s.r.QueryContext(b.Context(), `SELECT name, count(*), sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC`)
	if err != nil {
		b.Logf("no page breakdown: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var pages, size, unused int64
		if err := rows.Scan(&name, &pages, &size, &unused); err != nil {
			b.Fatal(err)
		}
		b.Logf("%-24s %7d pages %.4f B/pt, of which unused %.4f", name, pages, float64(size)/pp, float64(unused)/pp)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
}

// pageBytes checkpoints the WAL into the database file and returns the
// bytes of the pages in use and of the database's files (main, WAL and
// shared memory), which is what du shows.
func pageBytes(tb testing.TB, s *Store, path string) (used, file int64) {
	tb.Helper()
	if err := s.lockWriter(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	_, err := s.w.ExecContext(tb.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`)
	s.unlockWriter()
	if err != nil {
		tb.Fatal(err)
	}
	var pages, free, size int64
	for q, v := range map[string]*int64{`PRAGMA page_count`: &pages, `PRAGMA freelist_count`: &free, `PRAGMA page_size`: &size} {
		if err := s.r.QueryRowContext(tb.Context(), q).Scan(v); err != nil {
			tb.Fatal(err)
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err == nil {
			file += fi.Size()
		}
	}
	return (pages - free) * size, file
}

// blockBytes returns the bytes of the point blocks' data and of the
// rollups' data.
func blockBytes(tb testing.TB, s *Store) (blocks, rollups int64) {
	tb.Helper()
	err := s.r.QueryRowContext(tb.Context(), `SELECT coalesce(sum(length(data)) FILTER (WHERE res = 0), 0),
		coalesce(sum(length(data)) FILTER (WHERE res > 0), 0) FROM blocks`).Scan(&blocks, &rollups)
	if err != nil {
		tb.Fatal(err)
	}
	return blocks, rollups
}

// BenchmarkRollupColumns says what each column of the rollups costs: it
// stores the 24 h × 100 series of BenchmarkChart24h and the noisy shape
// of 4 factories × 4 hours, then encodes their rollups again with one
// column emptied at a time, and reports the share of the rollups' bytes
// each column takes (first-last-%: the first and last values; sum-%,
// minmax-%, ts-%: the first and last timestamps' offsets; ncount-%).
func BenchmarkRollupColumns(b *testing.B) {
	for _, name := range []string{"chart24h", "noisy"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "hub.db")
			s := openAt(b, path)
			defer s.Close()
			if name == "chart24h" {
				var seq uint64
				ingestSeconds(b, s, storetest.BenchPaths(100), 0, 86400, &seq)
			} else {
				calls, _ := storetest.FactoryPoints(b, 4, 0, 4*3600, 10_000, storetest.Shapes[1])
				ingestCalls(b, s, calls, 1, 0)
			}
			if err := s.Compact(b.Context()); err != nil {
				b.Fatal(err)
			}
			variants := map[string]func(p *store.Partial){
				"full":       func(p *store.Partial) {},
				"first-last": func(p *store.Partial) { p.First, p.Last = uns.Float(0), uns.Float(0) },
				"ts":         func(p *store.Partial) { p.FirstTS, p.LastTS = p.Start, p.Start },
				"ncount":     func(p *store.Partial) { p.NCount = 0 },
				"sum":        func(p *store.Partial) { p.Sum = 0 },
				"minmax":     func(p *store.Partial) { p.Min, p.Max = 0, 0 },
			}
			for b.Loop() {
				sizes := map[string]int{}
				rows, err := s.r.QueryContext(b.Context(), `SELECT res, data FROM blocks WHERE res > 0`)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var res int64
					var data []byte
					if err := rows.Scan(&res, &data); err != nil {
						b.Fatal(err)
					}
					raw, err := colblock.Decompress(data)
					if err != nil {
						b.Fatal(err)
					}
					ps, err := decodeRollup(nil, res, raw)
					if err != nil {
						b.Fatal(err)
					}
					for v, f := range variants {
						qs := slices.Clone(ps)
						for i := range qs {
							f(&qs[i])
						}
						sizes[v] += len(colblock.Compress(encodeRollup(nil, res, qs)))
					}
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
				for v, n := range sizes {
					if v != "full" {
						b.ReportMetric(100*float64(sizes["full"]-n)/float64(sizes["full"]), v+"-%")
					}
				}
			}
		})
	}
}
