package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// This file holds what the backends' benchmarks share: the data they
// store, and the benchmarks that differ only in how the store is opened.

// BenchOrg is the organisation the benchmarks store their data under.
const BenchOrg = "acme"

// BenchT0 is when the benchmarks' data starts.
var BenchT0 = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC).UnixNano()

// BenchPaths returns n series paths shaped like a factory's UNS.
func BenchPaths(n int) []string {
	tags := []string{"temperature", "pressure", "speed", "current", "vibration"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("plant-nl/hall-%d/line-%d/machine-%02d/%s", i/100, i/20%5, i/5%4, tags[i%len(tags)])
	}
	return out
}

// Sensor is a plausible process value: a slow cycle, drift and noise, at
// the resolution of a typical PLC register scaled to engineering units.
func Sensor(rng *rand.Rand, series, step int) float64 {
	base := 20 + float64(series%7)*10
	v := base + 5*math.Sin(float64(step)/300) + rng.NormFloat64()*0.3
	return math.Round(v*100) / 100
}

// Ingester feeds 1 Hz samples of every path to a store, Per points a
// call, each call one uplink record. The samples are those of Sensor,
// second by second from BenchT0, drawn from a random source seeded the
// same for every Ingester.
type Ingester struct {
	// Per is how many points Call ingests.
	Per int
	// Seq is the seq of the last record ingested, 0 before the first.
	// Setting it before the first call continues the seqs of an earlier
	// Ingester of the same store.
	Seq uint64
	// Sec is the next second, counted from BenchT0, to sample. Setting it
	// before the first call starts the samples at that second.
	Sec int

	s     store.Points
	paths []string
	rng   *rand.Rand
	src   store.Source
	pts   []uns.Point // sampled, not yet ingested
}

// NewIngester returns an Ingester of samples of paths into s, per points
// a call.
func NewIngester(s store.Points, paths []string, per int) *Ingester {
	return &Ingester{Per: per, s: s, paths: paths, rng: rand.New(rand.NewPCG(1, 2)),
		src: store.Source{Edge: "edge-1", Stream: "points"}, pts: make([]uns.Point, 0, per)}
}

// Call ingests the next Per points.
func (g *Ingester) Call(tb testing.TB) {
	tb.Helper()
	g.ingest(tb, g.Per)
}

// Feed ingests the next n points, Per a call and the rest in a last,
// smaller one.
func (g *Ingester) Feed(tb testing.TB, n int) {
	tb.Helper()
	for ; n >= g.Per; n -= g.Per {
		g.ingest(tb, g.Per)
	}
	if n > 0 {
		g.ingest(tb, n)
	}
}

// ingest ingests the next n points as one record.
func (g *Ingester) ingest(tb testing.TB, n int) {
	tb.Helper()
	for len(g.pts) < n {
		ts := BenchT0 + int64(g.Sec)*int64(time.Second)
		for i, p := range g.paths {
			g.pts = append(g.pts, uns.Point{Series: p, TS: ts, Value: uns.Float(Sensor(g.rng, i, g.Sec))})
		}
		g.Sec++
	}
	g.Seq++
	if _, err := g.s.Ingest(tb.Context(), BenchOrg, g.src, []store.Record{{Seq: g.Seq, Points: g.pts[:n]}}); err != nil {
		tb.Fatal(err)
	}
	g.pts = append(g.pts[:0], g.pts[n:]...)
}

// BenchEvents returns n events shaped like a factory's: 200 machines (10
// lines of 20), each with states, downtimes and alarms of 3 minutes spread
// evenly over 30 days from BenchT0; the newest event of each machine is
// still open.
func BenchEvents(n int) []uns.Event {
	const machines = 200
	kinds := []string{"state", "downtime", "state", "alarm"}
	per := n / machines
	out := make([]uns.Event, 0, n)
	for i := range per {
		for m := range machines {
			start := BenchT0 + int64(i)*int64(30*24*time.Hour)/int64(per) + int64(m)*int64(time.Second)
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

// BenchIngestEvents is the body of a backend's BenchmarkIngestEvents: in
// sub-benchmarks "new" and "update", each on an empty store from open, it
// ingests 1000 of BenchEvents(100_000) a call, one record each; "update"
// first stores all of them, so that its calls replace stored events. It
// reports events/s. open fails b if it cannot open, and has the store
// closed when b ends.
func BenchIngestEvents(b *testing.B, open func(b *testing.B) store.Store) {
	evs := BenchEvents(100_000)
	for _, mode := range []string{"new", "update"} {
		b.Run(mode, func(b *testing.B) {
			s := open(b)
			src := store.Source{Edge: "edge-1", Stream: "events"}
			var seq uint64
			call := func(evs []uns.Event) {
				seq++
				if _, err := s.Ingest(b.Context(), BenchOrg, src, []store.Record{{Seq: seq, Events: evs}}); err != nil {
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

// LoadBenchEvents ingests BenchEvents(100_000) into s, 1000 a record and
// a call, for BenchQueryEvents.
func LoadBenchEvents(b *testing.B, s store.Points) {
	evs := BenchEvents(100_000)
	src := store.Source{Edge: "edge-1", Stream: "events"}
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.Ingest(b.Context(), BenchOrg, src, []store.Record{{Seq: uint64(i/1000 + 1), Events: evs[i : i+1000]}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchQueryEvents is the body of a backend's BenchmarkEvents, run on s
// after LoadBenchEvents: a sub-benchmark for each of three queries of one
// line's or machine's events as of the end of the 30 days, each reporting
// how many events it found.
func BenchQueryEvents(b *testing.B, s store.Events) {
	to := BenchT0 + int64(30*24*time.Hour)
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
				got, err := s.Events(b.Context(), BenchOrg, q.q)
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

// BenchDashboard is the loop of the backends' BenchmarkChart24h: each op
// asks for 24 hours from BenchT0 of every path in 1-minute averages, one
// Aggregate call a path, as a dashboard of charts does.
func BenchDashboard(b *testing.B, s store.Points, paths []string) {
	from, to := BenchT0, BenchT0+24*int64(time.Hour)
	for b.Loop() {
		for _, p := range paths {
			got, err := s.Aggregate(b.Context(), BenchOrg, p, from, to, int64(time.Minute), store.Avg)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 1440 {
				b.Fatalf("%s: %d buckets, want 1440", p, len(got))
			}
		}
	}
}
