package sqlite

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// TestBlockRoundTrip encodes and decodes blocks of every kind of value,
// including floats that are not short decimals, extremes and ties.
func TestBlockRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]sample{
		"decimals": {{ts: 1, v: uns.Float(21.47)}, {ts: 2, v: uns.Float(21.52)}, {ts: 2, v: uns.Float(-0.5), q: uns.Uncertain}},
		"bits":     {{ts: 0, v: uns.Float(math.Pi)}, {ts: 5, v: uns.Float(math.Copysign(0, -1))}, {ts: 9, v: uns.Float(math.MaxFloat64)}, {ts: 10, v: uns.Float(math.SmallestNonzeroFloat64)}},
		"ints":     {{ts: 1, v: uns.Int(math.MinInt64)}, {ts: 2, v: uns.Int(math.MaxInt64)}, {ts: 3, v: uns.Int(0)}},
		"mixed":    {{ts: 1, v: uns.Bool(true)}, {ts: 1, v: uns.String("idle")}, {ts: 2, v: uns.Int(7), q: uns.Bad}, {ts: 3, v: uns.Float(1e300)}, {ts: 4, v: uns.String("")}, {ts: 1 << 62, v: uns.Bool(false)}},
		"one":      {{ts: 42, v: uns.String("x")}},
		"float32":  {{ts: 1, v: uns.Float(float64(float32(0.1)))}, {ts: 2, v: uns.Float(math.Copysign(0, -1))}, {ts: 3, v: uns.Float(float64(float32(-21.7)))}, {ts: 4, v: uns.Float(0)}, {ts: 5, v: uns.Float(math.Inf(-1))}, {ts: 6, v: uns.Float(float64(float32(1e-30)))}},
	}
	var random []sample
	ts := int64(1_700_000_000_000_000_000)
	for range 5000 {
		ts += rng.Int64N(2e9)
		var v uns.Value
		switch rng.IntN(5) {
		case 0:
			v = uns.Float(rng.NormFloat64())
		case 1:
			v = uns.Float(math.Round(rng.NormFloat64()*1000) / 100)
		case 2:
			v = uns.Int(rng.Int64())
		case 3:
			v = uns.Bool(rng.IntN(2) == 0)
		default:
			v = uns.String(string(rune('a' + rng.IntN(26))))
		}
		random = append(random, sample{ts: ts, v: v, q: uns.Quality(rng.IntN(3))})
	}
	cases["random"] = random
	for name, ss := range cases {
		got, err := decodeBlock(nil, encodeBlock(nil, ss))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.EqualFunc(got, ss, sameSample) {
			t.Errorf("%s: round trip changed the samples:\n got %v\nwant %v", name, got, ss)
		}
	}
}

func sameSample(a, b sample) bool {
	if a.ts != b.ts || a.q != b.q || a.v.Kind() != b.v.Kind() {
		return false
	}
	if a.v.Kind() == uns.KindFloat {
		return math.Float64bits(a.v.Float64()) == math.Float64bits(b.v.Float64())
	}
	return a.v == b.v
}

// TestDecodeCorrupt checks that every truncation of an encoded block,
// rollup and chunk is refused, not misread or a panic.
func TestDecodeCorrupt(t *testing.T) {
	ss := []sample{{ts: 1, v: uns.Float(1.5)}, {ts: 2, v: uns.String("run")}, {ts: 3, v: uns.Int(-4)}, {ts: 4, v: uns.Bool(true)}}
	block := encodeBlock(nil, ss)
	rollup := encodeRollup(nil, minute, rollupOf(ss, minute))
	chunk := appendChunkHeader(nil, []string{"m/a"})
	for i, s := range ss {
		chunk = appendChunkPoint(chunk, i == 0, max(s.ts-1, 0), 0, s)
	}
	for i := range len(block) {
		if _, err := decodeBlock(nil, block[:i]); err == nil {
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
	f.Add(encodeBlock(nil, []sample{{ts: 1, v: uns.Float(1.5)}, {ts: 2, v: uns.String("x")}}))
	f.Add(encodeRollup(nil, minute, []store.Partial{{Start: 0, Count: 1, First: uns.Int(1), Last: uns.Int(1)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBlock(nil, b)
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
		f32[i].v = uns.Float(float64(float32(rng.NormFloat64())))
		f64[i].v = uns.Float(rng.NormFloat64())
		f64[i].ts += rng.Int64N(1e6) // not on whole units
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

// TestFloatsMean checks the choice of predictor: a noisy slow signal is
// stored as differences from the mean of the previous values, a signal
// that steps as differences from the previous value, and both come back
// exactly, as decimals and as float32s.
func TestFloatsMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	noisy, steps := make([]float64, 4000), make([]float64, 4000)
	for i := range noisy {
		noisy[i] = math.Round((50+5*math.Sin(float64(i)/300)+rng.NormFloat64()*0.3)*100) / 100
		steps[i] = float64(i / 500 * 10)
	}
	f32 := func(fs []float64) []float64 {
		out := make([]float64, len(fs))
		for i, f := range fs {
			out[i] = float64(float32(f + 1e-3*rng.NormFloat64()))
		}
		return out
	}
	for _, c := range []struct {
		name string
		fs   []float64
		mean bool
	}{{"noisy", noisy, true}, {"steps", steps, false}, {"noisy-float32", f32(noisy), true}, {"empty", nil, false}} {
		b := appendFloats(nil, c.fs)
		if got := len(b) > 0 && b[0]&floatsMean != 0; got != c.mean {
			t.Errorf("%s: mode %#x: from the mean %v, want %v", c.name, b[0], got, c.mean)
		}
		fr := newFloatReader(&reader{b: b})
		for i, want := range c.fs {
			if got := fr.next(); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%s: float %d = %v, want %v", c.name, i, got, want)
			}
		}
		if fr.r.err != nil || len(fr.r.b) != 0 {
			t.Errorf("%s: %v, %d bytes left", c.name, fr.r.err, len(fr.r.b))
		}
	}
}
