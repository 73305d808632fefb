package service

import (
	"testing"

	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// TestCodecRoundTrip checks the host's batch encoding against the SDK's
// decoder and the SDK's result encoding against the host's decoder, for
// every value kind and quality.
func TestCodecRoundTrip(t *testing.T) {
	pts := []uns.Point{
		{Series: "a/b/f", TS: -1, Value: uns.Float(-2.5)},
		{Series: "a/b/i", TS: 1 << 62, Value: uns.Int(-1 << 63), Quality: uns.Uncertain},
		{Series: "a/b/t", TS: 3, Value: uns.Bool(true), Quality: uns.Bad},
		{Series: "a/b/s", TS: 4, Value: uns.String("")},
		{Series: "a/b/u", TS: 5, Value: uns.String("ünïcode")},
	}
	res := molensvc.RoundTripForBenchmark(appendBatch(nil, pts))
	var d resultDecoder
	got, evs, err := d.decodeResult(res, nil, nil)
	if err != nil || len(evs) != 0 || len(got) != len(pts) {
		t.Fatalf("got %v, %v, %v", got, evs, err)
	}
	for i := range pts {
		if got[i] != pts[i] {
			t.Errorf("point %d: got %+v, want %+v", i, got[i], pts[i])
		}
	}
	if n := batchSize(pts); n != len(appendBatch(nil, pts)) {
		t.Errorf("batchSize %d, encoding %d bytes", n, len(appendBatch(nil, pts)))
	}
}

// FuzzDecodeResult feeds a module's result decoder arbitrary bytes: it
// must return points and events or an error, never panic.
func FuzzDecodeResult(f *testing.F) {
	f.Add(molensvc.RoundTripForBenchmark(appendBatch(nil, benchPoints(3))))
	f.Add([]byte{1, 3, 0, 0, 0, 'b', 'a', 'd'})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 'a', 1, 'k', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'x', 1, 0, 'y'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d resultDecoder
		pts, _, err := d.decodeResult(b, nil, nil)
		if err == nil {
			for _, p := range pts {
				if p.Value.Kind() == uns.KindInvalid {
					t.Fatalf("invalid value decoded from %x", b)
				}
			}
		}
	})
}
