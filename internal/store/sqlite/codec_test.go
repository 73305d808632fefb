package sqlite

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// TestDecodeCorrupt checks that every truncation of an encoded block,
// rollup and chunk is refused, not misread or a panic.
func TestDecodeCorrupt(t *testing.T) {
	ss := []sample{{TS: 1, V: uns.Float(1.5)}, {TS: 2, V: uns.String("run")}, {TS: 3, V: uns.Int(-4)}, {TS: 4, V: uns.Bool(true)}}
	block := colblock.Encode(nil, ss)
	rollup := encodeRollup(nil, minute, rollupOf(ss, minute))
	chunk := appendChunkHeader(nil, []string{"m/a"})
	for i, s := range ss {
		chunk = appendChunkPoint(chunk, i == 0, max(s.TS-1, 0), 0, s)
	}
	for i := range len(block) {
		if _, err := colblock.Decode(nil, block[:i]); err == nil {
			t.Errorf("block truncated to %d of %d bytes decoded", i, len(block))
		}
	}
	for i := range len(rollup) {
		if _, err := decodeRollup(nil, minute, rollup[:i]); err == nil {
			t.Errorf("rollup truncated to %d of %d bytes decoded", i, len(rollup))
		}
	}
	var n int
	if err := decodeChunk(chunk, func(chunkPoint) { n++ }); err != nil || n != len(ss) {
		t.Fatalf("chunk: %d points, %v", n, err)
	}
	for i := 1; i < len(chunk); i++ {
		// A chunk may end between points; a cut inside one is an error.
		n = 0
		err := decodeChunk(chunk[:i], func(chunkPoint) { n++ })
		if err == nil && n == len(ss) {
			t.Errorf("chunk truncated to %d of %d bytes decoded whole", i, len(chunk))
		}
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(colblock.Encode(nil, []sample{{TS: 1, V: uns.Float(1.5)}, {TS: 2, V: uns.String("x")}}))
	f.Add(encodeRollup(nil, minute, []store.Partial{{Start: 0, Count: 1, First: uns.Int(1), Last: uns.Int(1)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		colblock.Decode(nil, b)
		decodeRollup(nil, minute, b)
		decodeChunk(b, func(chunkPoint) {})
	})
}

// TestRollupRoundTrip encodes and decodes rollups of decimals, of
// float32 noise and of exact float64s, by the minute and the hour, and
// minute firsts: everything comes back as it was, but sums of decimals,
// which may come back rounded to their decimals (within sumTolerance),
// the first values and timestamps of minute rollups and the last ones of
// minute firsts, which they do not keep.
func TestRollupRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	dec := compatSamples()
	f32 := slices.Clone(dec)
	f64 := slices.Clone(dec)
	for i := range dec {
		f32[i].V = uns.Float(float64(float32(rng.NormFloat64())))
		f64[i].V = uns.Float(rng.NormFloat64())
		f64[i].TS += rng.Int64N(1e6) // not on whole units
	}
	for name, ss := range map[string][]sample{"decimals": dec, "float32": f32, "float64": f64} {
		for _, res := range []int64{minute, hour, minuteFirsts} {
			want := rollupOf(ss, max(res, -res))
			got, err := decodeRollup(nil, res, encodeRollup(nil, res, want))
			if err != nil || len(got) != len(want) {
				t.Fatalf("%s/%d: %d partials, %v; want %d", name, res, len(got), err, len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				switch res {
				case minute:
					w.FirstTS, w.First = w.Start, uns.Value{}
				case minuteFirsts:
					w.LastTS, w.Last = w.Start, uns.Value{}
				}
				if math.Abs(g.Sum-w.Sum) > sumTolerance*max(1, math.Abs(w.Sum)) {
					t.Errorf("%s/%d: partial %d: sum %v, want %v", name, res, i, g.Sum, w.Sum)
				}
				g.Sum = w.Sum
				if g != w {
					t.Errorf("%s/%d: partial %d: %+v, want %+v", name, res, i, g, w)
				}
			}
		}
	}
}
