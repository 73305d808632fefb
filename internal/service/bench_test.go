package service

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// benchPoints is a batch of a four-machine factory's float series.
func benchPoints(n int) []uns.Point {
	pts := make([]uns.Point, n)
	for i := range pts {
		pts[i] = uns.Point{Series: fmt.Sprintf("acme/hall1/line1/m%d/tag%d", i%4, i%9), TS: int64(i) * 1e6, Value: uns.Float(float64(i%100) / 3)}
	}
	return pts
}

// benchBatch is BenchmarkProcess's batch size; -batch changes it.
var benchBatch = 1024

func init() { flag.IntVar(&benchBatch, "batch", 1024, "BenchmarkProcess's batch size") }

// BenchmarkProcess measures points per second through a module: one op
// is one point, in batches of 1024 (ns/op is per point).
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct {
		name, module, params string
		interp               bool
	}{
		{"passthrough/compiler", "evil", `{"mode":"pass"}`, false},
		{"passthrough/interpreter", "evil", `{"mode":"pass"}`, true},
		{"spc/compiler", "", `{"mean": 16.5, "sigma": 9.6}`, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var in *Install
			var err error
			if bc.module == "" {
				pkg, perr := LoadPackage(spcPackage(b))
				if perr != nil {
					b.Fatal(perr)
				}
				in, err = Open(context.Background(), pkg, Options{Params: []byte(bc.params), Interpreter: bc.interp})
			} else {
				in, err = OpenModule(context.Background(), testPackage(b), testModule(b, bc.module), Options{Params: []byte(bc.params), Interpreter: bc.interp})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close(context.Background())
			benchThrough(b, in)
		})
	}
}

// benchThrough runs b.N points through in, in batches of benchBatch,
// and reports points per second.
func benchThrough(b *testing.B, in *Install) {
	batch := benchBatch
	src := benchPoints(batch)
	pts := make([]uns.Point, batch)
	var out pipeline.Output
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		copy(pts, src)
		out.Reset()
		in.Process(context.Background(), pts, &out)
		if len(out.Points) != batch {
			b.Fatalf("got %d points: %s", len(out.Points), in.Stats().LastError)
		}
	}
	b.StopTimer()
	if s := in.Stats(); s.Failures > 0 {
		b.Fatal(s.LastError)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

// BenchmarkEncoding compares the codec work of one call, natively (no
// WebAssembly): the host encodes a batch of 1024 points, the module
// decodes it and encodes the same points as its result, the host decodes
// that; in molen-svc/1's binary encoding and in JSON. ns/op is per point.
func BenchmarkEncoding(b *testing.B) {
	const batch = 1024
	pts := benchPoints(batch)
	b.Run("binary", func(b *testing.B) {
		var buf []byte
		var d resultDecoder
		var res []uns.Point
		b.ReportAllocs()
		for i := 0; i < b.N; i += batch {
			buf = appendBatch(buf[:0], pts)
			buf = molensvc.RoundTripForBenchmark(buf)
			var err error
			if res, _, err = d.decodeResult(buf, res[:0], nil); err != nil || len(res) != batch {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		type jp struct {
			Series string  `json:"series"`
			TS     int64   `json:"ts"`
			Value  float64 `json:"value"`
			Q      uint8   `json:"q"`
		}
		in := make([]jp, batch)
		b.ReportAllocs()
		for i := 0; i < b.N; i += batch {
			for k, p := range pts {
				in[k] = jp{p.Series, p.TS, p.Value.Float64(), uint8(p.Quality)}
			}
			enc, _ := json.Marshal(in)
			var guest []jp
			if err := json.Unmarshal(enc, &guest); err != nil {
				b.Fatal(err)
			}
			enc, _ = json.Marshal(guest)
			var host []jp
			if err := json.Unmarshal(enc, &host); err != nil || len(host) != batch {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures starting an install: compiling the module
// (without a cache, and from the in-memory and on-disk caches) and
// instantiating it with its init (the Go runtime's start included).
func BenchmarkLoad(b *testing.B) {
	wasm := testModule(b, "evil")
	pkg := testPackage(b)
	ctx := context.Background()
	compile := func(b *testing.B, cfg wazero.RuntimeConfig) {
		for b.Loop() {
			rt := wazero.NewRuntimeWithConfig(ctx, cfg)
			if _, err := rt.CompileModule(ctx, wasm); err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
		}
	}
	b.Run("compile/nocache", func(b *testing.B) { compile(b, wazero.NewRuntimeConfigCompiler()) })
	b.Run("compile/interpreter", func(b *testing.B) { compile(b, wazero.NewRuntimeConfigInterpreter()) })
	fill := func(c wazero.CompilationCache) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(c))
		if _, err := rt.CompileModule(ctx, wasm); err != nil {
			b.Fatal(err)
		}
		rt.Close(ctx)
	}
	mem := wazero.NewCompilationCache()
	fill(mem)
	b.Run("compile/memorycache", func(b *testing.B) { compile(b, wazero.NewRuntimeConfigCompiler().WithCompilationCache(mem)) })
	disk, err := wazero.NewCompilationCacheWithDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	fill(disk)
	b.Run("compile/diskcache", func(b *testing.B) { compile(b, wazero.NewRuntimeConfigCompiler().WithCompilationCache(disk)) })
	b.Run("restart", func(b *testing.B) {
		in, err := OpenModule(ctx, pkg, wasm, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close(ctx)
		var out pipeline.Output
		in.Tick(ctx, 1, &out)
		for b.Loop() {
			in.inst.mod.Close(ctx) // as after a failure: the next call starts a fresh instance
			in.inst = nil
			in.Tick(ctx, 1, &out)
			if in.inst == nil {
				b.Fatal(in.Stats().LastError)
			}
		}
	})
	b.Run("open+start", func(b *testing.B) {
		for b.Loop() {
			in, err := OpenModule(ctx, pkg, wasm, Options{})
			if err != nil {
				b.Fatal(err)
			}
			var out pipeline.Output
			in.Tick(ctx, 1, &out) // starts the module: instantiate, Go runtime, init
			if s := in.Stats(); s.Starts != 1 || s.Failures != 0 {
				b.Fatal(s.LastError)
			}
			in.Close(ctx)
		}
	})
}

// TestMemoryPerInstall reports what a running install costs: the
// module's linear memory, and the process's resident memory (Linux) per
// install, which includes the machine code of each instance. It asserts
// only that the figures are there (docs/benchmarks.md has them).
func TestMemoryPerInstall(t *testing.T) {
	wasm := testModule(t, "evil")
	pkg := testPackage(t)
	ctx := t.Context()
	open := func() *Install {
		in, err := OpenModule(ctx, pkg, wasm, Options{Params: []byte(`{"mode":"pass"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var out pipeline.Output
		in.Process(ctx, benchPoints(1024), &out)
		return in
	}
	first := open() // the process-wide parts: WASI, caches
	defer first.Close(ctx)
	const n = 8
	runtime.GC()
	before := residentBytes()
	var ins []*Install
	for range n {
		ins = append(ins, open())
	}
	runtime.GC()
	after := residentBytes()
	s := ins[0].Stats()
	if s.MemoryMiB <= 0 || s.Failures != 0 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("per install: linear memory %.1f MiB; resident memory %.1f MiB (over %d installs)",
		s.MemoryMiB, float64(after-before)/(1<<20)/n, n)
	for _, in := range ins {
		in.Close(ctx)
	}
}

// residentBytes is the process's resident set from /proc/self/statm, or
// the Go runtime's Sys elsewhere.
func residentBytes() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, rss int64
		if _, err := fmt.Sscan(string(b), &size, &rss); err == nil {
			return rss * int64(os.Getpagesize())
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.Sys)
}
