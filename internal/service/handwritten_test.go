package service

import (
	"context"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// handwrittenModule is a pass-through molen-svc/1 module in plain
// WebAssembly, without WASI, a language runtime or an allocator: what a
// module written in Rust, C, Zig or AssemblyScript against the ABI comes
// down to. Its input buffer is at 1025, after a status byte 0 at 1024,
// so its result is the batch itself followed by zero events:
//
//	molen_buffer(n) = 1025
//	molen_process(n) = store i32 0 at 1025+n; return 1024<<32 | n+5
//	molen_init, molen_tick = the empty result at 0 (9 zero bytes)
func handwrittenModule() []byte { return assemble(false) }

// badPointerModule is handwrittenModule whose molen_process calls the
// host's log with a pointer outside its memory.
func badPointerModule() []byte { return assemble(true) }

// assemble writes the pass-through module, with badLog the one that
// imports molen.log and calls it with a bad pointer.
func assemble(badLog bool) []byte {
	sleb := func(v int64) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	section := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	fn := func(code ...byte) []byte { return append([]byte{byte(len(code) + 1), 0}, code...) } // no locals
	var imports []byte
	// first is the index of the first defined function (after the imports).
	first := byte(0)
	process := cat([]byte{0x20, 0}, []byte{0x41}, sleb(1025), []byte{0x6a, 0x41, 0, 0x36, 2, 0}, // store i32 0 at 1025+n
		[]byte{0x42}, sleb(1024<<32), []byte{0x20, 0, 0xad, 0x42, 5, 0x7c, 0x84, 0x0b}) // 1024<<32 | n+5
	if badLog {
		imports = section(2, cat([]byte{1}, name("molen"), name("log"), []byte{0, 4})...) // molen.log: type 4
		first = 1
		// log(0, 0x7fff0000, 100), then the pass-through
		process = cat([]byte{0x41, 0, 0x41}, sleb(0x7fff0000), []byte{0x41}, sleb(100), []byte{0x10, 0}, process)
	}
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		// types: i32→i64, i64→i64, i32→i32, ()→(), (i32, i32, i32)→()
		section(1, 5, 0x60, 1, 0x7f, 1, 0x7e, 0x60, 1, 0x7e, 1, 0x7e, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 0, 0x60, 3, 0x7f, 0x7f, 0x7f, 0),
		imports,
		section(3, 5, 3, 2, 0, 0, 1), // functions
		section(5, 1, 0, 16),         // memory: 16 pages
		section(7, cat([]byte{6},
			name("memory"), []byte{2, 0}, name("molen_svc_abi_1"), []byte{0, first}, name("molen_buffer"), []byte{0, first + 1},
			name("molen_init"), []byte{0, first + 2}, name("molen_process"), []byte{0, first + 3}, name("molen_tick"), []byte{0, first + 4})...),
		section(10, cat([]byte{5}, fn(0x0b), fn(cat([]byte{0x41}, sleb(1025), []byte{0x0b})...),
			fn(0x42, 9, 0x0b), fn(process...), fn(0x42, 9, 0x0b))...),
	)
}

// TestBadPointer checks that a module handing the host a pointer outside
// its memory fails its call (and its points pass on), not the edge.
func TestBadPointer(t *testing.T) {
	in, err := OpenModule(t.Context(), testPackage(t), badPointerModule(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(t.Context())
	var out pipeline.Output
	in.Process(t.Context(), points(2), &out)
	if s := in.Stats(); len(out.Points) != 2 || s.Failures != 1 || !strings.Contains(s.LastError, "pointer outside memory") {
		t.Fatalf("got %d points, stats %+v; want a failure for the pointer and the 2 points passed on", len(out.Points), s)
	}
}

func TestHandwrittenModule(t *testing.T) {
	in, err := OpenModule(t.Context(), testPackage(t), handwrittenModule(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(t.Context())
	var out pipeline.Output
	pts := append(points(3), uns.Point{Series: "acme/s", TS: 8, Value: uns.String("x")})
	in.Process(t.Context(), pts, &out)
	in.Tick(t.Context(), 10, &out)
	if len(out.Points) != 4 || out.Points[3] != pts[3] || out.Points[0] != points(1)[0] {
		t.Fatalf("got %+v", out.Points)
	}
	if s := in.Stats(); s.Failures != 0 || s.Out != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// BenchmarkHandwritten is BenchmarkProcess through the handwritten
// module: the cost of the ABI itself (encoding, the call, decoding and
// checking the result), without a guest runtime.
func BenchmarkHandwritten(b *testing.B) {
	in, err := OpenModule(context.Background(), testPackage(b), handwrittenModule(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(context.Background())
	benchThrough(b, in)
}
