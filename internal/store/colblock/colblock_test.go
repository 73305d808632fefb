package colblock

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// TestBlockRoundTrip encodes and decodes blocks of every kind of value,
// including floats that are not short decimals, extremes and ties.
func TestBlockRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]Sample{
		"decimals": {{TS: 1, V: uns.Float(21.47)}, {TS: 2, V: uns.Float(21.52)}, {TS: 2, V: uns.Float(-0.5), Q: uns.Uncertain}},
		"bits":     {{TS: 0, V: uns.Float(math.Pi)}, {TS: 5, V: uns.Float(math.Copysign(0, -1))}, {TS: 9, V: uns.Float(math.MaxFloat64)}, {TS: 10, V: uns.Float(math.SmallestNonzeroFloat64)}},
		"ints":     {{TS: 1, V: uns.Int(math.MinInt64)}, {TS: 2, V: uns.Int(math.MaxInt64)}, {TS: 3, V: uns.Int(0)}},
		"mixed":    {{TS: 1, V: uns.Bool(true)}, {TS: 1, V: uns.String("idle")}, {TS: 2, V: uns.Int(7), Q: uns.Bad}, {TS: 3, V: uns.Float(1e300)}, {TS: 4, V: uns.String("")}, {TS: 1 << 62, V: uns.Bool(false)}},
		"one":      {{TS: 42, V: uns.String("x")}},
		"float32":  {{TS: 1, V: uns.Float(float64(float32(0.1)))}, {TS: 2, V: uns.Float(math.Copysign(0, -1))}, {TS: 3, V: uns.Float(float64(float32(-21.7)))}, {TS: 4, V: uns.Float(0)}, {TS: 5, V: uns.Float(math.Inf(-1))}, {TS: 6, V: uns.Float(float64(float32(1e-30)))}},
	}
	var random []Sample
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
		random = append(random, Sample{TS: ts, V: v, Q: uns.Quality(rng.IntN(3))})
	}
	cases["random"] = random
	for name, ss := range cases {
		got, err := Decode(nil, Encode(nil, ss))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.EqualFunc(got, ss, Sample.Equal) {
			t.Errorf("%s: round trip changed the samples:\n got %v\nwant %v", name, got, ss)
		}
	}
}

// TestDecodeTruncated checks that every truncation of an encoded block is
// refused, not misread or a panic.
func TestDecodeTruncated(t *testing.T) {
	block := Encode(nil, []Sample{{TS: 1, V: uns.Float(1.5)}, {TS: 2, V: uns.String("run")}, {TS: 3, V: uns.Int(-4)}, {TS: 4, V: uns.Bool(true)}})
	for i := range len(block) {
		if _, err := Decode(nil, block[:i]); err == nil {
			t.Errorf("block truncated to %d of %d bytes decoded", i, len(block))
		}
	}
}

// FuzzDecodeBlock feeds Decode arbitrary bytes: it returns an error or
// samples, never panics.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(Encode(nil, []Sample{{TS: 1, V: uns.Float(1.5)}, {TS: 2, V: uns.String("x")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(nil, b)
	})
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
		b := AppendFloats(nil, c.fs)
		if got := len(b) > 0 && b[0]&floatsMean != 0; got != c.mean {
			t.Errorf("%s: mode %#x: from the mean %v, want %v", c.name, b[0], got, c.mean)
		}
		fr := NewFloatReader(&Reader{B: b})
		for i, want := range c.fs {
			if got := fr.Next(); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%s: float %d = %v, want %v", c.name, i, got, want)
			}
		}
		if fr.r.Err != nil || len(fr.r.B) != 0 {
			t.Errorf("%s: %v, %d bytes left", c.name, fr.r.Err, len(fr.r.B))
		}
	}
}
