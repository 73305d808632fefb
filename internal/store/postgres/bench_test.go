package postgres

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

// pointsBytes is the disk size of points (every partition, with its
// indexes, TOAST, free space and visibility maps), blocks and rollups
// after a VACUUM, which autovacuum would also run.
func pointsBytes(tb testing.TB, s *Store) int64 {
	tb.Helper()
	rows, blocks, rollups := tableBytes(tb, s)
	return rows + blocks + rollups
}

// tableBytes returns the sizes of pointsBytes by table after a VACUUM.
func tableBytes(tb testing.TB, s *Store) (rows, blocks, rollups int64) {
	tb.Helper()
	ctx := tb.Context()
	id := func(t string) string { return pgx.Identifier{s.schema, t}.Sanitize() }
	if _, err := s.pool.Exec(ctx, `VACUUM `+id("points")+`, `+id("blocks")+`, `+id("rollups")); err != nil {
		tb.Fatal(err)
	}
	err := s.pool.QueryRow(ctx, `SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass))::bigint,
		pg_total_relation_size($2::regclass), pg_total_relation_size($3::regclass)`, id("points"), id("blocks"), id("rollups")).Scan(&rows, &blocks, &rollups)
	if err != nil {
		tb.Fatal(err)
	}
	return rows, blocks, rollups
}

// factoryCalls returns the factory benchmarks' data of shape sh: four
// continuous hours of 4 sites in calls of 10,000 points, and the number of
// points.
func factoryCalls(b *testing.B, sh storetest.Shape) (calls [][]uns.Point, points int) {
	const sites, hours = 4, 4
	calls, _ = storetest.FactoryPoints(b, sites, 0, hours*3600, 10_000, sh)
	for _, c := range calls {
		points += len(c)
	}
	return calls, points
}

// BenchmarkIngestFactory ingests four continuous simulated hours of 4
// sites of the embedded store's factory benchmarks (168 series at 1 Hz,
// 2,419,200 points, storetest.FactoryPoints) in calls of 10,000 points,
// then compacts every point into blocks. It reports the ingest rate
// (points/s), the compaction rate (compact-points/s) and the bytes a
// point costs on disk after a VACUUM (points with their index, blocks,
// rollups) before compaction (rows-B/pt) and after (B/pt), and of the
// blocks alone (blocks-B/pt).
func BenchmarkIngestFactory(b *testing.B) {
	for _, sh := range storetest.Shapes {
		b.Run(sh.Name, func(b *testing.B) {
			calls, points := factoryCalls(b, sh)
			pp := float64(points)
			for b.Loop() {
				b.StopTimer()
				s := openTest(b, Options{})
				src := store.Source{Edge: "e", Stream: "points"}
				b.StartTimer()
				start := time.Now()
				for i, c := range calls {
					if _, err := s.Ingest(b.Context(), storetest.BenchOrg, src, []store.Record{{Seq: uint64(i + 1), Points: c}}); err != nil {
						b.Fatal(err)
					}
				}
				ingest := time.Since(start)
				b.StopTimer()
				before := pointsBytes(b, s)
				b.StartTimer()
				start = time.Now()
				st, err := s.compactBefore(b.Context(), math.MaxInt64)
				if err != nil || st.Points != int64(points) {
					b.Fatalf("compaction moved %d of %d points: %v", st.Points, points, err)
				}
				compact := time.Since(start)
				b.StopTimer()
				rows, blocks, rollups := tableBytes(b, s)
				b.ReportMetric(pp/ingest.Seconds(), "points/s")
				b.ReportMetric(pp/compact.Seconds(), "compact-points/s")
				b.ReportMetric(float64(before)/pp, "rows-B/pt")
				b.ReportMetric(float64(rows+blocks+rollups)/pp, "B/pt")
				b.ReportMetric(float64(blocks)/pp, "blocks-B/pt")
				b.ReportMetric(float64(rollups)/pp, "rollups-B/pt")
				b.ReportMetric(float64(rows), "rows-bytes-left")
				b.StartTimer()
			}
			b.ReportMetric(pp, "points")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkIngest ingests calls of 1000 and 10000 points over 100 series
// at 1 Hz, each call one record and one transaction (COPY). It reports
// points/s and the bytes on disk per point; run with -benchtime=1000x
// (1000-point calls) and 100x (10000-point calls) for 1M points.
func BenchmarkIngest(b *testing.B) {
	for _, per := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			s := openTest(b, Options{})
			g := storetest.NewIngester(s, storetest.BenchPaths(100), per)
			n := 0
			for b.Loop() {
				g.Call(b)
				n++
			}
			points := float64(n * per)
			b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(pointsBytes(b, s))/points, "disk-B/point")
		})
	}
}

// BenchmarkIngestCompacting ingests the same four hours of the sim shape
// as BenchmarkIngestFactory while a second goroutine compacts as the hub
// does, with the clock at the newest point ingested (so each hour is
// compacted 10 minutes after it ended, while the next is ingested). It
// reports the ingest rate with compaction beside it and the bytes a point
// at the end (the last hour still rows).
func BenchmarkIngestCompacting(b *testing.B) {
	calls, points := factoryCalls(b, storetest.Shapes[0])
	pp := float64(points)
	for b.Loop() {
		b.StopTimer()
		s := openTest(b, Options{})
		src := store.Source{Edge: "e", Stream: "points"}
		var newest atomic.Int64
		done := make(chan struct{})
		var compacted atomic.Int64
		var wg sync.WaitGroup
		b.StartTimer()
		start := time.Now()
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				st, err := s.Compact(b.Context(), time.Unix(0, newest.Load()))
				if err != nil {
					b.Error(err)
					return
				}
				compacted.Add(st.Points)
			}
		})
		for i, c := range calls {
			if _, err := s.Ingest(b.Context(), storetest.BenchOrg, src, []store.Record{{Seq: uint64(i + 1), Points: c}}); err != nil {
				b.Fatal(err)
			}
			newest.Store(c[len(c)-1].TS)
		}
		el := time.Since(start)
		close(done)
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(pp/el.Seconds(), "points/s")
		b.ReportMetric(float64(compacted.Load()), "compacted-points")
		rows, blocks, rollups := tableBytes(b, s)
		b.ReportMetric(float64(rows+blocks+rollups)/pp, "B/pt")
		b.ReportMetric(float64(rows)/pp, "rows-B/pt")
		var heap int64
		if err := s.pool.QueryRow(b.Context(), `SELECT sum(pg_relation_size(relid))::bigint FROM pg_partition_tree($1::regclass)`,
			pgx.Identifier{s.schema, "points"}.Sanitize()).Scan(&heap); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(heap)/pp, "rows-heap-B/pt")
		b.StartTimer()
	}
	b.ReportMetric(pp, "points")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAggregate aggregates one series of 24 h at 1 Hz (86400 points)
// into 1-minute buckets.
func BenchmarkAggregate(b *testing.B) {
	s := openTest(b, Options{})
	paths := storetest.BenchPaths(1)
	g := storetest.NewIngester(s, paths, 10000)
	g.Feed(b, 86400)
	if _, err := s.pool.Exec(b.Context(), `VACUUM ANALYZE `+pgx.Identifier{s.schema, "points"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	from, to := storetest.BenchT0, storetest.BenchT0+24*int64(time.Hour)
	for _, agg := range []store.Agg{store.Avg, store.Max, store.Count, store.Last} {
		b.Run(string(agg), func(b *testing.B) {
			for b.Loop() {
				got, err := s.Aggregate(b.Context(), storetest.BenchOrg, paths[0], from, to, int64(time.Minute), agg)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != 1440 {
					b.Fatalf("%d buckets, want 1440", len(got))
				}
			}
		})
	}
}

// BenchmarkLatestPrefix reads the latest values of the 10,000 series under
// one prefix among 20,000.
func BenchmarkLatestPrefix(b *testing.B) {
	s := openTest(b, Options{})
	var paths []string
	for _, site := range []string{"site-a", "site-b"} {
		for _, p := range storetest.BenchPaths(10000) {
			paths = append(paths, site+strings.TrimPrefix(p, "plant-nl"))
		}
	}
	g := storetest.NewIngester(s, paths, 10000)
	g.Call(b)
	g.Call(b)
	if _, err := s.pool.Exec(b.Context(), `ANALYZE `+pgx.Identifier{s.schema, "series"}.Sanitize()+`, `+pgx.Identifier{s.schema, "latest"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := s.Latest(b.Context(), storetest.BenchOrg, "site-b", 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 10000 {
			b.Fatalf("%d series, want 10000", len(got))
		}
	}
}

// BenchmarkChart24h answers what a dashboard of 100 charts asks: 24 hours
// of each of 100 series (1 Hz, 8.64M points) in 1-minute averages, one
// Aggregate call per series. One op is all 100. Loading takes about a
// minute.
func BenchmarkChart24h(b *testing.B) {
	s := openTest(b, Options{})
	paths := storetest.BenchPaths(100)
	g := storetest.NewIngester(s, paths, 86400) // 864 s of 100 series a call
	for range 100 {
		g.Call(b)
	}
	if _, err := s.pool.Exec(b.Context(), `VACUUM ANALYZE `+pgx.Identifier{s.schema, "points"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	b.Run("rows", func(b *testing.B) { storetest.BenchDashboard(b, s, paths) })
	if _, err := s.compactBefore(b.Context(), math.MaxInt64); err != nil {
		b.Fatal(err)
	}
	b.Run("blocks", func(b *testing.B) { storetest.BenchDashboard(b, s, paths) })
}

// BenchmarkRaw reads one hour of one series at 1 Hz, as rows and after
// compaction from its block.
func BenchmarkRaw(b *testing.B) {
	s := openTest(b, Options{})
	paths := storetest.BenchPaths(1)
	g := storetest.NewIngester(s, paths, 7200)
	g.Call(b)
	read := func(b *testing.B) {
		for b.Loop() {
			got, err := s.Raw(b.Context(), storetest.BenchOrg, paths[0], storetest.BenchT0, storetest.BenchT0+int64(time.Hour), 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 3600 {
				b.Fatalf("%d points, want 3600", len(got))
			}
		}
	}
	b.Run("rows", read)
	if _, err := s.compactBefore(b.Context(), math.MaxInt64); err != nil {
		b.Fatal(err)
	}
	b.Run("blocks", read)
}

// BenchmarkIngestEvents ingests 1000 events a call (one record and one
// transaction each), 100k in all, then closes them again
// (upserts of stored events). It reports events/s.
func BenchmarkIngestEvents(b *testing.B) {
	storetest.BenchIngestEvents(b, func(b *testing.B) store.Store { return openTest(b, Options{}) })
}

// BenchmarkEvents queries the last day's downtime events of one line (20
// machines) out of 100k events over 30 days.
func BenchmarkEvents(b *testing.B) {
	s := openTest(b, Options{})
	storetest.LoadBenchEvents(b, s)
	if _, err := s.pool.Exec(b.Context(), `ANALYZE `+pgx.Identifier{s.schema, "events"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	storetest.BenchQueryEvents(b, s)
}
