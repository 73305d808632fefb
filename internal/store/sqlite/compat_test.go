package sqlite

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// compatSamples are the samples of the blocks and rollups in
// testdata/v1 and testdata/v2, which molen wrote with block and rollup
// versions 1 and 2: an hour
// of 1 Hz decimals, with a stretch of floats that are not decimals.
func compatSamples() []colblock.Sample {
	rng := rand.New(rand.NewPCG(5, 6))
	ss := make([]colblock.Sample, 3600)
	for i := range ss {
		v := math.Round((20+5*math.Sin(float64(i)/300)+rng.NormFloat64()*0.3)*100) / 100
		if i >= 1800 && i < 1900 {
			v = rng.NormFloat64()
		}
		ss[i] = colblock.Sample{TS: 1_700_000_000_000_000_000 + int64(i)*1e9, V: uns.Float(v)}
	}
	return ss
}

// TestDecodeVersion1 checks that blocks and rollups of versions 1 and 2,
// as earlier molens stored them, still decode to what was stored.
func TestDecodeVersion1(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) { testDecodeOld(t, v) })
	}
}

func testDecodeOld(t *testing.T, version string) {
	ss := compatSamples()
	b, err := os.ReadFile(filepath.Join("testdata", version, "block.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := colblock.Decode(nil, b)
	if err != nil || !slices.EqualFunc(got, ss, sample.Equal) {
		t.Errorf("block of %s: %d samples, %v; want the %d stored", version, len(got), err, len(ss))
	}
	b, err = os.ReadFile(filepath.Join("testdata", version, "rollup-minute.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := rollupOf(ss, minute)
	gotP, err := decodeRollup(nil, minute, b)
	if err != nil || !reflect.DeepEqual(gotP, want) {
		t.Errorf("rollup of %s: %v, %v; want %v", version, gotP, err, want)
	}
}
