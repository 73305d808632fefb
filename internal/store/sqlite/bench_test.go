package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/storetest"
)

// ingestSeconds ingests secs seconds of 1 Hz samples of every path, 1000
// points a record, one record per call, from seq.
func ingestSeconds(tb testing.TB, s *Store, paths []string, from, secs int, seq *uint64) {
	tb.Helper()
	g := storetest.NewIngester(s, paths, 1000)
	g.Seq, g.Sec = *seq, from
	g.Feed(tb, secs*len(paths))
	*seq = g.Seq
}

// BenchmarkIngest ingests batches of 1000 points (10 s of 100 series at
// 1 Hz), each its own uplink record and transaction with an fsync. It
// reports points/s and, after compacting everything, the bytes per point
// of the database's used pages and files (see reportSizes); run it with -benchtime=1000x for 1M
// points. BenchmarkIngestFactory measures bigger calls of the simulator's
// data.
func BenchmarkIngest(b *testing.B) {
	path := filepath.Join(b.TempDir(), "hub.db")
	s := openAt(b, path)
	defer s.Close()
	paths := storetest.BenchPaths(100)
	var seq uint64
	n := 0
	for b.Loop() {
		ingestSeconds(b, s, paths, n*10, 10, &seq)
		n++
	}
	points := float64(n * 1000)
	b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(0, "ns/op")
	for range 8 {
		if err := s.compact(b.Context(), true); err != nil {
			b.Fatal(err)
		}
	}
	reportSizes(b, s, path, n*1000)
}

// BenchmarkIngestTied is BenchmarkIngest where every batch is ingested
// twice under two seqs, as after a broken watermark: the second copy ties
// with the first at every point and takes the point-by-point path.
func BenchmarkIngestTied(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := storetest.BenchPaths(100)
	var seq uint64
	n := 0
	for b.Loop() {
		ingestSeconds(b, s, paths, n*10, 10, &seq)
		ingestSeconds(b, s, paths, n*10, 10, &seq)
		n++
	}
	b.ReportMetric(float64(n*2000)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAggregate aggregates one series of 24 h at 1 Hz (86400 points,
// compacted) into 1-minute buckets, from the rollups and from the points.
func BenchmarkAggregate(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := storetest.BenchPaths(1)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 86400, &seq)
	for range 4 {
		if err := s.compact(b.Context(), true); err != nil {
			b.Fatal(err)
		}
	}
	from, to := storetest.BenchT0, storetest.BenchT0+24*int64(time.Hour)
	for _, agg := range []store.Agg{store.Avg, store.Max, store.Count, store.First, store.Last} {
		for _, p := range []struct {
			name    string
			rollups bool
		}{{"rollups", true}, {"points", false}} {
			b.Run(string(agg)+"/"+p.name, func(b *testing.B) {
				for b.Loop() {
					var got []store.Bucket
					err := s.read(b.Context(), storetest.BenchOrg, paths[0], func(v *view) (err error) {
						got, err = v.aggregate(b.Context(), from, to, int64(time.Minute), agg, p.rollups)
						return err
					})
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
	// Sparse for the step: one point per bucket, so GROUP BY is chosen.
	b.Run("avg-1s/auto", func(b *testing.B) {
		for b.Loop() {
			got, err := s.Aggregate(b.Context(), storetest.BenchOrg, paths[0], from, from+int64(time.Hour), int64(time.Second), store.Avg)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 3600 {
				b.Fatalf("%d buckets, want 3600", len(got))
			}
		}
	})
}

// BenchmarkLatest reads the latest values of all 20,000 series of an
// organisation.
func BenchmarkLatest(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := storetest.BenchPaths(20000)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 2, &seq)
	if err := s.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := s.Latest(b.Context(), storetest.BenchOrg, "plant-nl", 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 20000 {
			b.Fatalf("%d series, want 20000", len(got))
		}
	}
}

// BenchmarkLatestPrefix reads the latest values of the 10,000 series under
// one prefix among 20,000.
func BenchmarkLatestPrefix(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	var paths []string
	for _, site := range []string{"site-a", "site-b"} {
		for _, p := range storetest.BenchPaths(10000) {
			paths = append(paths, site+strings.TrimPrefix(p, "plant-nl"))
		}
	}
	var seq uint64
	ingestSeconds(b, s, paths, 0, 2, &seq)
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
// of each of 100 series (1 Hz, 8.64M points, compacted) in 1-minute
// averages, one Aggregate call per series. One op is all 100. It also
// reports the sizes of this data (Sensor: a sine, drift and noise in two
// decimals) as BenchmarkIngestFactory does.
func BenchmarkChart24h(b *testing.B) {
	path := filepath.Join(b.TempDir(), "hub.db")
	s := openAt(b, path)
	defer s.Close()
	paths := storetest.BenchPaths(100)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 86400, &seq)
	for range 8 {
		if err := s.compact(b.Context(), true); err != nil {
			b.Fatal(err)
		}
	}
	storetest.BenchDashboard(b, s, paths)
	reportSizes(b, s, path, 86400*len(paths)) // after the loop, which resets metrics
}

// BenchmarkRaw reads one hour of one series at 1 Hz.
func BenchmarkRaw(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := storetest.BenchPaths(1)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 7200, &seq)
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

// BenchmarkIngestEvents ingests 1000 events a call (one record, one
// transaction and fsync each), 100k in all, then closes them again
// (upserts of stored events). It reports events/s.
func BenchmarkIngestEvents(b *testing.B) {
	storetest.BenchIngestEvents(b, func(b *testing.B) store.Store {
		s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkEvents queries the last day's downtime events of one line (20
// machines) out of 100k events over 30 days.
func BenchmarkEvents(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	storetest.LoadBenchEvents(b, s)
	storetest.BenchQueryEvents(b, s)
}
