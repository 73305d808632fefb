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

// BenchmarkPipelineMapDeadbandWindowOEE runs the four-stage pipeline of the
// edge-processing issue, map → deadband → 10 s window → oee, as one linear
// pipeline through the Runner, on oeeBenchStream: twelve machines polled at
// 10 Hz, each with a numeric state code, good and scrap counters, and three
// process values. Each op is one batch of opBenchBatch points (1.4 s of
// event time); the runner ticks at every second of event time, as the edge
// does, so ticks cost what they cost on a busy edge.
//
// Why this shape: a window aggregates every numeric series it gets and drops
// strings (wrong_type), so a window in front of oee must not see string
// states, and whatever it emits for states and counters must still be a
// state and a counter. Hence:
//   - the state is a PLC's numeric code (1 running, 2 idle, 4 down), which
//     oee reads directly;
//   - map is a one-input join (W → kW, power_w becomes power_kw): with
//     inputs, map passes every other point on unchanged, so states and
//     counters keep their series and integer values (a per-point map would
//     rewrite every point);
//   - deadband (0.5 in the series' unit, 10 s heartbeat) drops the repeats
//     of states and counters polled at 10 Hz, and the noise of the process
//     values; a change of state or one more part is always reported;
//   - the window keeps the last value of each series per 10 s under the same
//     name, stamped at the window's end: after a deadband only the held value
//     is meaningful (a mean of exceptions is not a time average), and the last
//     state and counter values of 10-second windows are a sample-and-hold
//     state and a monotonic counter, which is what oee needs (its time
//     accounting gets a 10 s resolution);
//   - oee computes availability, performance and quality per machine and minute.
//
// Points/s is input points per second of one core (the runner runs the batch
// on the calling goroutine); allocs/op is per batch.
func BenchmarkPipelineMapDeadbandWindowOEE(b *testing.B) {
	def, err := pipeline.Parse([]byte(`
pipelines:
  - name: machines
    match: "acme/#"
    stages:
      - map: {inputs: {w: power_w}, value: "w / 1000", series: "{asset}/power_kw", keep_inputs: false}
      - deadband: {absolute: 0.5, max_silence: 10s}
      - window: {size: 10s, aggregates: [last], series: "{series}", timestamp: end}
      - oee: {window: 1m, lateness: 5s, unplanned: [idle], ideal_cycle_time: 4s}
`))
	if err != nil {
		b.Fatal(err)
	}
	r, err := pipeline.NewRunner(def, pipeline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	next := oeeBenchStream()
	in := make([]uns.Point, opBenchBatch)
	var tick []uns.Point
	sec := int64(0) // the last second of event time ticked
	batch := func() {
		next(in)
		last := in[len(in)-1].TS
		r.Process(in)
		if s := last / 1e9; s > sec {
			sec = s
			tick = r.Tick(s*1e9, tick[:0])
		}
	}
	for range 1000 { // warm up: 23 minutes, every state, windows closed
		batch()
	}
	// The stream must make every stage work: map joins, deadband drops,
	// the window aggregates and oee emits.
	st := r.Stats().Pipelines[0]
	for _, s := range st.Stages {
		if s.In == 0 || s.Out == 0 || s.SkippedTotal() != 0 {
			b.Fatalf("stage %s: in %d, out %d, skipped %v: the stream does not exercise it", s.Operator, s.In, s.Out, s.Skipped)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next(in)
		b.StartTimer()
		last := in[len(in)-1].TS
		r.Process(in)
		if s := last / 1e9; s > sec {
			sec = s
			tick = r.Tick(s*1e9, tick[:0])
		}
	}
	b.ReportMetric(float64(b.N*opBenchBatch)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

// oeeBenchStream returns a source of batches of twelve machines polled every
// 100 ms: state (int code: 480 s running, 60 s idle, 60 s down, phase
// shifted per machine), good_count and scrap_count (one part every 5 s while
// running, every 25th scrapped), power_w, spindle_temp_c and vibration_mm_s
// (noisy, power by state).
func oeeBenchStream() func([]uns.Point) {
	const machines = 12
	tags := []string{"state", "good_count", "scrap_count", "power_w", "spindle_temp_c", "vibration_mm_s"}
	names := make([]string, machines*len(tags))
	for i := range names {
		names[i] = fmt.Sprintf("acme/hall1/line%d/m%02d/%s", i/len(tags)/4+1, i/len(tags), tags[i%len(tags)])
	}
	good := make([]int64, machines)
	scrap := make([]int64, machines)
	state := make([]int64, machines)
	rnd := uint64(0x9e3779b97f4a7c15)
	noise := func() float64 { // uniform in [-1, 1)
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return float64(rnd>>11)/(1<<52) - 1
	}
	var n int64
	return func(dst []uns.Point) {
		for i := range dst {
			s := n % int64(len(names))
			round := n / int64(len(names)) // 100 ms each
			m, tag := s/int64(len(tags)), s%int64(len(tags))
			ts := opT0 + round*100e6
			var v uns.Value
			switch tag {
			case 0:
				switch phase := (round + m*370) % 6000; {
				case phase < 4800:
					state[m] = 1
				case phase < 5400:
					state[m] = 2
				default:
					state[m] = 4
				}
				if state[m] == 1 && (round+m*7)%50 == 0 {
					if (good[m]+scrap[m])%25 == 24 {
						scrap[m]++
					} else {
						good[m]++
					}
				}
				v = uns.Int(state[m])
			case 1:
				v = uns.Int(good[m])
			case 2:
				v = uns.Int(scrap[m])
			case 3:
				w := 400.0
				if state[m] == 1 {
					w = 11800
				}
				v = uns.Float(w + 400*noise())
			case 4:
				v = uns.Float(42 + 0.3*noise())
			default:
				v = uns.Float(2 + 0.6*noise())
			}
			dst[i] = uns.Point{Series: names[s], TS: ts, Value: v}
			n++
		}
	}
}
