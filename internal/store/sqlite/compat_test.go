package sqlite

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// compatSamples are the samples of the blocks and rollups in
// testdata/v1, which molen wrote with block and rollup version 1: an hour
// of 1 Hz decimals, with a stretch of floats that are not decimals.
func compatSamples() []sample {
	rng := rand.New(rand.NewPCG(5, 6))
	ss := make([]sample, 3600)
	for i := range ss {
		v := math.Round((20+5*math.Sin(float64(i)/300)+rng.NormFloat64()*0.3)*100) / 100
		if i >= 1800 && i < 1900 {
			v = rng.NormFloat64()
		}
		ss[i] = sample{ts: 1_700_000_000_000_000_000 + int64(i)*1e9, v: uns.Float(v)}
	}
	return ss
}

// TestDecodeVersion1 checks that blocks and rollups of version 1, as an
// earlier molen stored them, still decode to what was stored.
func TestDecodeVersion1(t *testing.T) {
	ss := compatSamples()
	b, err := os.ReadFile(filepath.Join("testdata", "v1", "block.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBlock(nil, b)
	if err != nil || !slices.EqualFunc(got, ss, sameSample) {
		t.Errorf("block of version 1: %d samples, %v; want the %d stored", len(got), err, len(ss))
	}
	b, err = os.ReadFile(filepath.Join("testdata", "v1", "rollup-minute.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := rollupOf(ss, minute)
	gotP, err := decodeRollup(nil, minute, b)
	if err != nil || !reflect.DeepEqual(gotP, want) {
		t.Errorf("rollup of version 1: %v, %v; want %v", gotP, err, want)
	}
}
