package sqlite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

const benchOrg = "acme"

var benchT0 = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC).UnixNano()

// benchPaths returns n series paths shaped like a factory's UNS.
func benchPaths(n int) []string {
	tags := []string{"temperature", "pressure", "speed", "current", "vibration"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("plant-nl/hall-%d/line-%d/machine-%02d/%s", i/100, i/20%5, i/5%4, tags[i%len(tags)])
	}
	return out
}

// sensor is a plausible process value: a slow cycle, drift and noise, at
// the resolution of a typical PLC register scaled to engineering units.
func sensor(rng *rand.Rand, series, step int) float64 {
	base := 20 + float64(series%7)*10
	v := base + 5*math.Sin(float64(step)/300) + rng.NormFloat64()*0.3
	return math.Round(v*100) / 100
}

// ingestSeconds ingests secs seconds of 1 Hz samples of every path, 1000
// points a record, one record per call, from seq.
func ingestSeconds(tb testing.TB, s *Store, paths []string, from, secs int, seq *uint64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	src := store.Source{Edge: "edge-1", Stream: "points"}
	pts := make([]uns.Point, 0, 1000)
	flush := func() {
		*seq++
		if _, err := s.Ingest(tb.Context(), benchOrg, src, []store.Record{{Seq: *seq, Points: pts}}); err != nil {
			tb.Fatal(err)
		}
		pts = pts[:0]
	}
	for sec := from; sec < from+secs; sec++ {
		ts := benchT0 + int64(sec)*int64(time.Second)
		for i, p := range paths {
			pts = append(pts, uns.Point{Series: p, TS: ts, Value: uns.Float(sensor(rng, i, sec))})
			if len(pts) == cap(pts) {
				flush()
			}
		}
	}
	if len(pts) > 0 {
		flush()
	}
}

// BenchmarkIngest ingests batches of 1000 points (10 s of 100 series at
// 1 Hz), each its own uplink record and transaction with an fsync. It
// reports points/s and, after compacting everything, the bytes per point
// of the database's used pages; run it with -benchtime=1000x for 1M
// points. BenchmarkIngestFactory measures bigger calls of the simulator's
// data.
func BenchmarkIngest(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := benchPaths(100)
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
	used, _ := usedBytes(b, s)
	b.ReportMetric(float64(used)/points, "disk-B/point")
}

// BenchmarkIngestTied is BenchmarkIngest where every batch is ingested
// twice under two seqs, as after a broken watermark: the second copy ties
// with the first at every point and takes the point-by-point path.
func BenchmarkIngestTied(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := benchPaths(100)
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
	paths := benchPaths(1)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 86400, &seq)
	for range 4 {
		if err := s.compact(b.Context(), true); err != nil {
			b.Fatal(err)
		}
	}
	from, to := benchT0, benchT0+24*int64(time.Hour)
	for _, agg := range []store.Agg{store.Avg, store.Max, store.Count, store.Last} {
		for _, p := range []struct {
			name    string
			rollups bool
		}{{"rollups", true}, {"points", false}} {
			b.Run(string(agg)+"/"+p.name, func(b *testing.B) {
				for b.Loop() {
					var got []store.Bucket
					err := s.read(b.Context(), benchOrg, paths[0], func(v *view) (err error) {
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
			got, err := s.Aggregate(b.Context(), benchOrg, paths[0], from, from+int64(time.Hour), int64(time.Second), store.Avg)
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
	paths := benchPaths(20000)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 2, &seq)
	if err := s.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := s.Latest(b.Context(), benchOrg, "plant-nl", 0)
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
		for _, p := range benchPaths(10000) {
			paths = append(paths, site+strings.TrimPrefix(p, "plant-nl"))
		}
	}
	var seq uint64
	ingestSeconds(b, s, paths, 0, 2, &seq)
	for b.Loop() {
		got, err := s.Latest(b.Context(), benchOrg, "site-b", 0)
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
// averages, one Aggregate call per series. One op is all 100.
func BenchmarkChart24h(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := benchPaths(100)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 86400, &seq)
	for range 8 {
		if err := s.compact(b.Context(), true); err != nil {
			b.Fatal(err)
		}
	}
	from, to := benchT0, benchT0+24*int64(time.Hour)
	for b.Loop() {
		for _, p := range paths {
			got, err := s.Aggregate(b.Context(), benchOrg, p, from, to, int64(time.Minute), store.Avg)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 1440 {
				b.Fatalf("%d buckets, want 1440", len(got))
			}
		}
	}
}

// BenchmarkRaw reads one hour of one series at 1 Hz.
func BenchmarkRaw(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	paths := benchPaths(1)
	var seq uint64
	ingestSeconds(b, s, paths, 0, 7200, &seq)
	for b.Loop() {
		got, err := s.Raw(b.Context(), benchOrg, paths[0], benchT0, benchT0+int64(time.Hour), 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 3600 {
			b.Fatalf("%d points, want 3600", len(got))
		}
	}
}

// benchEvents returns n events shaped like a factory's: 200 machines (10
// lines of 20), each with states, downtimes and alarms of 3 minutes spread
// evenly over 30 days from benchT0; the newest event of each machine is
// still open.
func benchEvents(n int) []uns.Event {
	const machines = 200
	kinds := []string{"state", "downtime", "state", "alarm"}
	per := n / machines
	out := make([]uns.Event, 0, n)
	for i := range per {
		for m := range machines {
			start := benchT0 + int64(i)*int64(30*24*time.Hour)/int64(per) + int64(m)*int64(time.Second)
			e := uns.Event{
				Asset: fmt.Sprintf("plant-nl/hall-%d/line-%d/machine-%02d", m/100, m/20%5, m%20),
				Kind:  kinds[i%len(kinds)],
				Start: start,
				End:   start + int64(3*time.Minute),
				Attrs: map[string]string{"reason": "material shortage", "shift": "B"},
			}
			if e.Kind == "alarm" {
				e.Attrs = map[string]string{"series": e.Asset + "/temperature", "limit": "high", "value": "81.5"}
			}
			if i == per-1 {
				e.End = 0
			}
			out = append(out, e)
		}
	}
	return out
}

// BenchmarkIngestEvents ingests 1000 events a call (one record, one
// transaction and fsync each), 100k in all, then closes them again
// (upserts of stored events). It reports events/s.
func BenchmarkIngestEvents(b *testing.B) {
	evs := benchEvents(100_000)
	for _, mode := range []string{"new", "update"} {
		b.Run(mode, func(b *testing.B) {
			s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
			defer s.Close()
			src := store.Source{Edge: "edge-1", Stream: "events"}
			var seq uint64
			call := func(evs []uns.Event) {
				seq++
				if _, err := s.Ingest(b.Context(), benchOrg, src, []store.Record{{Seq: seq, Events: evs}}); err != nil {
					b.Fatal(err)
				}
			}
			if mode == "update" {
				for i := 0; i < len(evs); i += 1000 {
					call(evs[i : i+1000])
				}
			}
			n := 0
			for b.Loop() {
				i := n * 1000 % len(evs)
				call(evs[i : i+1000])
				n++
			}
			b.ReportMetric(float64(n*1000)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkEvents queries the last day's downtime events of one line (20
// machines) out of 100k events over 30 days.
func BenchmarkEvents(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "hub.db"))
	defer s.Close()
	evs := benchEvents(100_000)
	src := store.Source{Edge: "edge-1", Stream: "events"}
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.Ingest(b.Context(), benchOrg, src, []store.Record{{Seq: uint64(i/1000 + 1), Events: evs[i : i+1000]}}); err != nil {
			b.Fatal(err)
		}
	}
	to := benchT0 + int64(30*24*time.Hour)
	for _, q := range []struct {
		name string
		q    store.EventQuery
	}{
		{"line-downtime-last-day", store.EventQuery{AssetPrefix: "plant-nl/hall-0/line-2", Kind: "downtime", From: to - int64(24*time.Hour), To: to}},
		{"machine-all-kinds-last-day", store.EventQuery{AssetPrefix: "plant-nl/hall-0/line-2/machine-07", From: to - int64(24*time.Hour), To: to}},
		{"machine-latest-50-ever", store.EventQuery{AssetPrefix: "plant-nl/hall-0/line-2/machine-07", To: to, Limit: 50}},
	} {
		b.Run(q.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				got, err := s.Events(b.Context(), benchOrg, q.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(got)
			}
			if n == 0 {
				b.Fatal("no events found")
			}
			b.ReportMetric(float64(n), "events")
		})
	}
}
