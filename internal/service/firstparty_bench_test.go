package service_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
)

// firstParty are the first-party services the benchmarks run, with their
// input: an hour of the simulated line (or of three AGVs), the series
// each reads.
var firstParty = []struct {
	name, params string
	src          func(testing.TB) simfeed.Source
}{
	{"oee", `{"window_min": 15}`, func(t testing.TB) simfeed.Source { return simfeed.Factory(t, 1) }},
	{"energy", `{"window_min": 15}`, func(t testing.TB) simfeed.Source { return simfeed.Factory(t, 1) }},
	{"pdm", ``, func(t testing.TB) simfeed.Source { return simfeed.Factory(t, 1) }},
	{"robotcell", ``, func(t testing.TB) simfeed.Source { return simfeed.Factory(t, 1) }},
	{"agvfleet", ``, func(t testing.TB) simfeed.Source { return simfeed.AGVs(t, 3, 7) }},
	{"printer", ``, func(t testing.TB) simfeed.Source { return simfeed.Printer(t, 4) }},
}

// hourOf returns an hour of src's points that pkg reads, in time order.
func hourOf(pkg *service.Package, src simfeed.Source) []uns.Point {
	var pts []uns.Point
	for i := range 3600 {
		for _, p := range src(simfeed.Start.Add(time.Duration(i) * time.Second)) {
			for _, g := range pkg.Reads {
				if g.Match(p.Series) {
					pts = append(pts, p)
					break
				}
			}
		}
	}
	return pts
}

// BenchmarkFirstParty measures points per second through the first-party
// services' modules on simulated data, in batches of 1,024 with a tick
// after each (ns/op is per point). The data is replayed in a loop with
// its times shifted forward, so windows keep closing as on a live edge.
func BenchmarkFirstParty(b *testing.B) {
	for _, sp := range firstParty {
		b.Run(sp.name, func(b *testing.B) {
			pkg := servicetest.Package(b, "../../services/"+sp.name)
			params, err := pkg.Params(map[string]any{})
			if err != nil {
				b.Fatal(err)
			}
			if sp.params != "" {
				params = []byte(sp.params)
			}
			in, err := service.Open(context.Background(), pkg, service.Options{Params: params, EventClock: true})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close(context.Background())
			hour := hourOf(pkg, sp.src(b))
			const batch = 1024
			buf := make([]uns.Point, batch)
			var out pipeline.Output
			b.ReportAllocs()
			b.ResetTimer()
			shift, k := int64(0), 0
			for i := 0; i < b.N; i += batch {
				for j := range buf {
					if k == len(hour) {
						k, shift = 0, shift+int64(time.Hour)
					}
					buf[j] = hour[k]
					buf[j].TS += shift
					k++
				}
				out.Points, out.Events = out.Points[:0], out.Events[:0]
				in.Process(context.Background(), buf, &out)
				in.Tick(context.Background(), buf[batch-1].TS, &out)
			}
			b.StopTimer()
			if s := in.Stats(); s.Failures > 0 {
				b.Fatal(s.LastError)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
		})
	}
}

// BenchmarkFirstPartyLoad measures starting an install of a first-party
// module as an edge does after its first start: compiled code from the
// disk cache, instantiation, the Go runtime's start and Init.
func BenchmarkFirstPartyLoad(b *testing.B) {
	service.UseCacheDir(b.TempDir())
	for _, name := range []string{"oee", "pdm"} {
		b.Run(name, func(b *testing.B) {
			pkg := servicetest.Package(b, "../../services/"+name)
			open := func() {
				in, err := service.Open(context.Background(), pkg, service.Options{})
				if err != nil {
					b.Fatal(err)
				}
				var out pipeline.Output
				in.Tick(context.Background(), 1, &out)
				if s := in.Stats(); s.Starts != 1 || s.Failures != 0 {
					b.Fatal(s.LastError)
				}
				in.Close(context.Background())
			}
			open() // fills the cache
			for b.Loop() {
				open()
			}
		})
	}
}

// TestFirstPartyMemory reports what a running install of each of two
// first-party services costs after an hour of simulated data: its linear
// memory, and, for the first, the process's resident memory per install
// over 8 installs (for the second, the first's memory being returned
// to the system blurs the figure). It asserts only that the figures are
// there (docs/benchmarks.md has them).
func TestFirstPartyMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds modules")
	}
	for _, sp := range firstParty[:3:3] {
		if sp.name == "energy" {
			continue
		}
		pkg := servicetest.Package(t, "../../services/"+sp.name)
		hour := hourOf(pkg, sp.src(t))
		open := func() *service.Install {
			in, err := service.Open(t.Context(), pkg, service.Options{Params: []byte(sp.params), EventClock: true})
			if err != nil {
				t.Fatal(err)
			}
			var out pipeline.Output
			for i := 0; i < len(hour); i += 1024 {
				out.Points = out.Points[:0]
				in.Process(t.Context(), hour[i:min(i+1024, len(hour))], &out)
			}
			return in
		}
		first := open()
		const n = 8
		runtime.GC()
		before := rss()
		var ins []*service.Install
		for range n {
			ins = append(ins, open())
		}
		runtime.GC()
		after := rss()
		s := ins[0].Stats()
		if s.MemoryMiB <= 0 || s.Failures != 0 {
			t.Fatalf("%s: stats %+v", sp.name, s)
		}
		if sp.name == firstParty[0].name {
			t.Logf("%s: linear memory %.1f MiB; resident %.1f MiB per install (over %d)", sp.name, s.MemoryMiB, float64(after-before)/(1<<20)/n, n)
		} else {
			t.Logf("%s: linear memory %.1f MiB", sp.name, s.MemoryMiB)
		}
		for _, in := range append(ins, first) {
			in.Close(t.Context())
		}
	}
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, pages int64
	fmt.Sscan(string(b), &size, &pages)
	return pages * int64(os.Getpagesize())
}
