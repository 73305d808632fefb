package operator

import (
	"fmt"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// Benchmarks of filter, map, deadband, counter and window, and of a whole
// pipeline through the Runner. Each op is one batch of opBenchBatch points
// over opBenchSeries series, time moving on 10 ms per point and series, so
// windows close and state is reused as on a busy edge. Run with
// -benchmem: allocs/op is per batch and should be 0.

const (
	opBenchSeries = 100
	opBenchBatch  = 1000
)

// opBenchStream returns a source of batches: voltage, current and temp
// tags of opBenchSeries/3 machines, noisy values, increasing time.
func opBenchStream() func([]uns.Point) {
	names := make([]string, opBenchSeries)
	tags := []string{"voltage", "current", "temp"}
	for i := range names {
		names[i] = fmt.Sprintf("acme/hall1/line1/m%02d/%s", i/3, tags[i%3])
	}
	var n int64
	return func(dst []uns.Point) {
		for i := range dst {
			s := n % opBenchSeries
			ts := opT0 + (n/opBenchSeries)*10e6
			v := 230 + float64((n*7919)%100)/10
			if s%3 == 2 {
				v = float64((n * 31) % 1000) // a counter-like ramp for counter
			}
			dst[i] = uns.Point{Series: names[s], TS: ts, Value: uns.Float(v)}
			n++
		}
	}
}

func opBench(b *testing.B, op pipeline.Operator) {
	next := opBenchStream()
	in := make([]uns.Point, opBenchBatch)
	var out pipeline.Output
	for range 200 { // warm up: every series seen, buffers grown
		next(in)
		out.Reset()
		op.Process(in, &out)
		op.Tick(in[len(in)-1].TS, &out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next(in)
		b.StartTimer()
		out.Reset()
		op.Process(in, &out)
		if i%100 == 0 { // ticks come once a second, not per batch
			op.Tick(in[len(in)-1].TS, &out)
		}
	}
	b.ReportMetric(float64(b.N*opBenchBatch)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

func BenchmarkFilter(b *testing.B) {
	opBench(b, opBuild(b, "filter", `{if: "value > 231 && tag != 'temp'"}`))
}

func BenchmarkMapScale(b *testing.B) {
	opBench(b, opBuild(b, "map", `{value: "value * 0.001", series: "{asset}/{tag}_k"}`))
}

func BenchmarkMapJoin(b *testing.B) {
	opBench(b, opBuild(b, "map", `{inputs: {u: voltage, i: current}, value: "u * i", series: "{asset}/power", tolerance: 50ms}`))
}

func BenchmarkDeadband(b *testing.B) {
	opBench(b, opBuild(b, "deadband", `{absolute: 0.5, max_silence: 10s}`))
}

func BenchmarkCounter(b *testing.B) {
	opBench(b, opBuild(b, "counter", `{mode: rate, rollover: 1000}`))
}

func BenchmarkWindowTumbling(b *testing.B) {
	opBench(b, opBuild(b, "window", `{size: 10s, aggregates: [min, max, mean, count, stddev]}`))
}

func BenchmarkWindowPercentiles(b *testing.B) {
	opBench(b, opBuild(b, "window", `{size: 10s, aggregates: [mean, p50, p95, p99]}`))
}

func BenchmarkWindowSliding(b *testing.B) {
	opBench(b, opBuild(b, "window", `{type: sliding, size: 10s, hop: 5s, aggregates: [mean, max]}`))
}

func BenchmarkWindowSession(b *testing.B) {
	opBench(b, opBuild(b, "window", `{type: session, gap: 1s, aggregates: [count, mean]}`))
}

// BenchmarkPipelineMapDeadbandWindow runs map → deadband → 10 s window
// through the Runner (routing, locking, per-stage counters included).
func BenchmarkPipelineMapDeadbandWindow(b *testing.B) {
	def, err := pipeline.Parse([]byte(`
pipelines:
  - match: "acme/#"
    stages:
      - map: {value: "value * 1.5 - 20", series: "{asset}/{tag}_scaled"}
      - deadband: {absolute: 0.2}
      - window: {size: 10s, aggregates: [mean, max, count]}
`))
	if err != nil {
		b.Fatal(err)
	}
	r, err := pipeline.NewRunner(def, pipeline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	next := opBenchStream()
	src := make([]uns.Point, opBenchBatch)
	in := make([]uns.Point, opBenchBatch)
	var tick []uns.Point
	for range 200 {
		next(src)
		copy(in, src)
		r.Process(in)
		tick = r.Tick(src[len(src)-1].TS, tick[:0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next(src)
		copy(in, src)
		b.StartTimer()
		r.Process(in)
		if i%100 == 0 {
			tick = r.Tick(src[len(src)-1].TS, tick[:0])
		}
	}
	b.ReportMetric(float64(b.N*opBenchBatch)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}
