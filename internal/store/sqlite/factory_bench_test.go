package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

// factoryPoints returns ticks seconds of the simulator's data of sites
// factories (each a copy of the demo line under its own site, seeded
// differently), in calls of perCall points, tick by tick at 1 Hz from
// storetest.BenchT0.
func factoryPoints(tb testing.TB, sites, ticks, perCall int) (calls [][]uns.Point, series int) {
	tb.Helper()
	fs := make([]*sim.Factory, sites)
	for i := range fs {
		fs[i] = sim.NewFactory(int64(i + 1))
	}
	seen := make(map[string]bool)
	var cur []uns.Point
	for tick := range ticks {
		now := time.Unix(0, storetest.BenchT0+int64(tick)*int64(time.Second))
		for i, f := range fs {
			site := fmt.Sprintf("site-%03d", i)
			for _, m := range f.Tick(now) {
				topic := site + strings.TrimPrefix(m.Topic, sim.DefaultSite)
				var err error
				if cur, err = uns.Decode(cur, topic, m.Payload, now.UnixNano()); err != nil {
					tb.Fatal(err)
				}
				seen[topic] = true
				if len(cur) >= perCall {
					calls = append(calls, cur)
					cur = make([]uns.Point, 0, perCall)
				}
			}
		}
	}
	if len(cur) > 0 {
		calls = append(calls, cur)
	}
	return calls, len(seen)
}

var (
	factoryOnce  sync.Once
	factoryCalls [][]uns.Point
	factorySerie int
)

// BenchmarkIngestFactory ingests four hours of the simulator's factory
// data at 1 Hz from 16 sites (672 series, 16.5M points; one hour generated
// and replayed shifted by an hour each time) in calls of 10,000 points,
// each its own transaction with an fsync, while the store compacts and
// merges in the background as it does in the hub. The clock stops when
// the last head is compacted: points/s is the rate the store sustains,
// compaction included. Then it merges every remaining small block and
// reports the bytes per point of the database's used pages (rollups,
// series, indexes and all), and of the point blocks alone.
//
// With edges=4 the calls come from four edges at once (every fourth call
// each, as four sources), as a hub with many edges gets them.
func BenchmarkIngestFactory(b *testing.B) {
	factoryOnce.Do(func() { factoryCalls, factorySerie = factoryPoints(b, 16, 3600, 10_000) })
	const hours = 4
	var points int
	for _, c := range factoryCalls {
		points += len(c)
	}
	points *= hours
	for _, edges := range []int{1, 4} {
		b.Run(fmt.Sprintf("edges=%d", edges), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
				b.StartTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for e := range edges {
					wg.Go(func() {
						src := store.Source{Edge: fmt.Sprintf("edge-%d", e), Stream: "points"}
						buf := make([]uns.Point, 10_000)
						seq := uint64(0)
						for h := range int64(hours) {
							for i := e; i < len(factoryCalls); i += edges {
								c := factoryCalls[i]
								pts := buf[:len(c)]
								for i, p := range c {
									p.TS += h * int64(time.Hour)
									pts[i] = p
								}
								seq++
								if _, err := s.Ingest(b.Context(), storetest.BenchOrg, src, []store.Record{{Seq: seq, Points: pts}}); err != nil {
									b.Error(err)
									return
								}
							}
						}
					})
				}
				wg.Wait()
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
				used, raw := usedBytes(b, s)
				b.ReportMetric(float64(used)/float64(points), "disk-B/point")
				b.ReportMetric(float64(raw)/float64(points), "blocks-B/point")
				b.ReportMetric(float64(factorySerie), "series")
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// usedBytes returns the bytes of the database's pages in use and the
// bytes of the point blocks' data alone.
func usedBytes(tb testing.TB, s *Store) (used, blocks int64) {
	var pages, free, size int64
	for q, v := range map[string]*int64{`PRAGMA page_count`: &pages, `PRAGMA freelist_count`: &free, `PRAGMA page_size`: &size} {
		if err := s.w.QueryRowContext(tb.Context(), q).Scan(v); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.w.QueryRowContext(tb.Context(), `SELECT coalesce(sum(length(data)), 0) FROM blocks WHERE res = 0`).Scan(&blocks); err != nil {
		tb.Fatal(err)
	}
	return (pages - free) * size, blocks
}
