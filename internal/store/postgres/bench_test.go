package postgres

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// ingester feeds 1 Hz samples of every path to a store, per points a
// call, each call one uplink record.
type ingester struct {
	s     *Store
	paths []string
	per   int
	rng   *rand.Rand
	src   store.Source
	seq   uint64
	sec   int // next second to sample
	pts   []uns.Point
}

func newIngester(s *Store, paths []string, per int) *ingester {
	return &ingester{s: s, paths: paths, per: per, rng: rand.New(rand.NewPCG(1, 2)),
		src: store.Source{Edge: "edge-1", Stream: "points"}, pts: make([]uns.Point, 0, per)}
}

// call ingests the next per points.
func (g *ingester) call(tb testing.TB) {
	for len(g.pts) < g.per {
		ts := benchT0 + int64(g.sec)*int64(time.Second)
		for i, p := range g.paths {
			g.pts = append(g.pts, uns.Point{Series: p, TS: ts, Value: uns.Float(sensor(g.rng, i, g.sec))})
		}
		g.sec++
	}
	g.seq++
	if _, err := g.s.Ingest(tb.Context(), benchOrg, g.src, []store.Record{{Seq: g.seq, Points: g.pts[:g.per]}}); err != nil {
		tb.Fatal(err)
	}
	g.pts = append(g.pts[:0], g.pts[g.per:]...)
}

// pointsBytes is the disk size of points (every partition, with its
// indexes, TOAST, free space and visibility maps) and rollups after a
// VACUUM, which autovacuum would also run on an insert-only table.
func pointsBytes(tb testing.TB, s *Store) int64 {
	tb.Helper()
	ctx := tb.Context()
	points, rollups := pgx.Identifier{s.schema, "points"}.Sanitize(), pgx.Identifier{s.schema, "rollups"}.Sanitize()
	if _, err := s.pool.Exec(ctx, `VACUUM `+points+`, `+rollups); err != nil {
		tb.Fatal(err)
	}
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass))::bigint
		+ pg_total_relation_size($2::regclass)`, points, rollups).Scan(&n)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkIngest ingests calls of 1000 and 10000 points over 100 series
// at 1 Hz, each call one record and one transaction (COPY). It reports
// points/s and the bytes on disk per point; run with -benchtime=1000x
// (1000-point calls) and 100x (10000-point calls) for 1M points.
func BenchmarkIngest(b *testing.B) {
	for _, per := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			s := openTest(b, Options{})
			g := newIngester(s, benchPaths(100), per)
			n := 0
			for b.Loop() {
				g.call(b)
				n++
			}
			points := float64(n * per)
			b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(pointsBytes(b, s))/points, "disk-B/point")
		})
	}
}

// BenchmarkAggregate aggregates one series of 24 h at 1 Hz (86400 points)
// into 1-minute buckets.
func BenchmarkAggregate(b *testing.B) {
	s := openTest(b, Options{})
	paths := benchPaths(1)
	g := newIngester(s, paths, 10000)
	for range 86400 / 10000 {
		g.call(b)
	}
	g.per = 86400 % 10000
	g.call(b)
	if _, err := s.pool.Exec(b.Context(), `VACUUM ANALYZE `+pgx.Identifier{s.schema, "points"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	from, to := benchT0, benchT0+24*int64(time.Hour)
	for _, agg := range []store.Agg{store.Avg, store.Max, store.Count, store.Last} {
		b.Run(string(agg), func(b *testing.B) {
			for b.Loop() {
				got, err := s.Aggregate(b.Context(), benchOrg, paths[0], from, to, int64(time.Minute), agg)
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
		for _, p := range benchPaths(10000) {
			paths = append(paths, site+strings.TrimPrefix(p, "plant-nl"))
		}
	}
	g := newIngester(s, paths, 10000)
	g.call(b)
	g.call(b)
	if _, err := s.pool.Exec(b.Context(), `ANALYZE `+pgx.Identifier{s.schema, "series"}.Sanitize()+`, `+pgx.Identifier{s.schema, "latest"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
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
// of each of 100 series (1 Hz, 8.64M points) in 1-minute averages, one
// Aggregate call per series. One op is all 100. Loading takes about a
// minute.
func BenchmarkChart24h(b *testing.B) {
	s := openTest(b, Options{})
	paths := benchPaths(100)
	g := newIngester(s, paths, 86400) // 864 s of 100 series a call
	for range 100 {
		g.call(b)
	}
	if _, err := s.pool.Exec(b.Context(), `VACUUM ANALYZE `+pgx.Identifier{s.schema, "points"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	from, to := benchT0, benchT0+24*int64(time.Hour)
	for b.Loop() {
		for _, p := range paths {
			got, err := s.Aggregate(b.Context(), benchOrg, p, from, to, int64(time.Minute), store.Avg)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 1440 {
				b.Fatalf("%s: %d buckets, want 1440", p, len(got))
			}
		}
	}
}

// BenchmarkRaw reads one hour of one series at 1 Hz.
func BenchmarkRaw(b *testing.B) {
	s := openTest(b, Options{})
	paths := benchPaths(1)
	g := newIngester(s, paths, 7200)
	g.call(b)
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

// BenchmarkIngestEvents ingests 1000 events a call (one record and one
// transaction each), 100k in all, then closes them again
// (upserts of stored events). It reports events/s.
func BenchmarkIngestEvents(b *testing.B) {
	evs := benchEvents(100_000)
	for _, mode := range []string{"new", "update"} {
		b.Run(mode, func(b *testing.B) {
			s := openTest(b, Options{})
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
	s := openTest(b, Options{})
	evs := benchEvents(100_000)
	src := store.Source{Edge: "edge-1", Stream: "events"}
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.Ingest(b.Context(), benchOrg, src, []store.Record{{Seq: uint64(i/1000 + 1), Events: evs[i : i+1000]}}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(b.Context(), `ANALYZE `+pgx.Identifier{s.schema, "events"}.Sanitize()); err != nil {
		b.Fatal(err)
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
