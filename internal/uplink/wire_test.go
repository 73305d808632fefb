package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

func samplePoints() []uns.Point {
	return []uns.Point{
		{Series: "s/a/l/m/temp", TS: 1_700_000_000_000_000_000, Value: uns.Float(21.5)},
		{Series: "s/a/l/m/count", TS: 1_700_000_000_000_000_001, Value: uns.Int(math.MaxInt64), Quality: uns.Uncertain},
		{Series: "s/a/l/m/temp", TS: 1_699_999_999_000_000_000, Value: uns.Float(math.Copysign(0, -1))},
		{Series: "s/a/l/m/on", TS: 5, Value: uns.Bool(true), Quality: uns.Bad},
		{Series: "s/a/l/m/on", TS: 0, Value: uns.Bool(true)},
		{Series: "s/a/l/m/on", TS: 6, Value: uns.Bool(false)},
		{Series: "s/a/l/m/state", TS: 7, Value: uns.String("running")},
		{Series: "s/a/l/m/state", TS: 8, Value: uns.String("")},
		{Series: "s/a/l/m/count", TS: 9, Value: uns.Int(math.MinInt64)},
	}
}

func TestPointsRoundTrip(t *testing.T) {
	// Records of up to smallTable series and of more (a map then), series
	// coming back after others.
	many := func(n int) []uns.Point {
		var pts []uns.Point
		for i := range 3 * n {
			pts = append(pts, uns.Point{Series: fmt.Sprintf("s/a/l/m/t%d", i%n), TS: int64(i), Value: uns.Int(int64(i))})
		}
		return pts
	}
	for _, pts := range [][]uns.Point{nil, samplePoints(), samplePoints()[:1], many(smallTable), many(smallTable + 1), many(100)} {
		b := EncodePoints(nil, pts)
		distinct := map[string]bool{}
		for _, p := range pts {
			distinct[p.Series] = true
		}
		if n, _ := binary.Uvarint(b[1:]); n != uint64(len(distinct)) {
			t.Fatalf("%d series in the table, want %d", n, len(distinct))
		}
		got, err := DecodePoints(nil, b)
		if err != nil {
			t.Fatalf("DecodePoints: %v", err)
		}
		if !slices.Equal(got, pts) && !(len(got) == 0 && len(pts) == 0) {
			t.Errorf("round trip\n got  %v\n want %v", got, pts)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	in := Batch{Stream: "points/abc", Records: []RawRecord{
		{Seq: 7, Data: EncodePoints(nil, samplePoints())},
		{Seq: 8, Data: EncodePoints(nil, samplePoints()[:2])},
		{Seq: 20, Data: EncodePoints(nil, nil)},
	}}
	got, err := DecodeBatch(EncodeBatch(nil, in))
	if err != nil {
		t.Fatalf("DecodeBatch: %v", err)
	}
	if got.Stream != in.Stream || len(got.Records) != len(in.Records) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	for i := range in.Records {
		if got.Records[i].Seq != in.Records[i].Seq || string(got.Records[i].Data) != string(in.Records[i].Data) {
			t.Errorf("record %d: got seq %d, want %d", i, got.Records[i].Seq, in.Records[i].Seq)
		}
	}
}

func TestDecodePointsRejects(t *testing.T) {
	valid := EncodePoints(nil, samplePoints())
	nan := EncodePoints(nil, []uns.Point{{Series: "a/b", TS: 1, Value: uns.Float(1)}})
	// Overwrite the float bits (the last 8 bytes) with NaN.
	nan = append(nan[:len(nan)-8], 0, 0, 0, 0, 0, 0, 0xf8, 0x7f)
	badPath := EncodePoints(nil, []uns.Point{{Series: "a/+", TS: 1, Value: uns.Int(1)}})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", []byte{9}},
		{"truncated", valid[:len(valid)-3]},
		{"trailing", append(slices.Clone(valid), 0)},
		{"nan", nan},
		{"wildcard series", badPath},
		{"huge string count", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge point count", []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"series index out of range", []byte{1, 0, 1, 3, 2, 0x20, 2}},
		{"bad kind", []byte{1, 1, 3, 'a', '/', 'b', 1, 0, 2, 0x90}},
		{"bad quality", []byte{1, 1, 3, 'a', '/', 'b', 1, 0, 2, 0x29, 2}},
		{"negative timestamp", EncodePoints(nil, []uns.Point{{Series: "a/b", TS: -1, Value: uns.Int(1)}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep := []uns.Point{{Series: "keep/me"}}
			got, err := DecodePoints(keep, tt.b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodePoints(%x) error = %v, want ErrMalformed", tt.b, err)
			}
			if len(got) != 1 {
				t.Errorf("dst changed on error: %v", got)
			}
		})
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	valid := EncodeBatch(nil, Batch{Stream: "s", Records: []RawRecord{{Seq: 1, Data: []byte{1, 0, 0}}}})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", []byte("XXXX\x01")},
		{"bad version", []byte("MLNB\x02")},
		{"truncated", valid[:len(valid)-1]},
		{"trailing", append(slices.Clone(valid), 0)},
		{"empty stream", EncodeBatch(nil, Batch{})},
		{"zero seq delta", EncodeBatch(nil, Batch{Stream: "s", Records: []RawRecord{{Seq: 0}}})},
		{"non increasing", EncodeBatch(nil, Batch{Stream: "s", Records: []RawRecord{{Seq: 2}, {Seq: 2}}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBatch(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeBatch(%x) error = %v, want ErrMalformed", tt.b, err)
			}
		})
	}
}

// FuzzDecodePoints: the hub decodes record bytes from the network; no input
// may panic, and what decodes must re-encode to an equivalent decoding.
func FuzzDecodePoints(f *testing.F) {
	f.Add(EncodePoints(nil, samplePoints()))
	f.Add(EncodePoints(nil, nil))
	f.Add([]byte{1, 1, 3, 'a', '/', 'b', 1, 0, 2, 0x20, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := DecodePoints(nil, b)
		if err != nil {
			return
		}
		again, err := DecodePoints(nil, EncodePoints(nil, pts))
		if err != nil || !slices.Equal(again, pts) {
			t.Fatalf("re-encoding changed points: %v", err)
		}
	})
}

// FuzzDecodeBatch: batches arrive from the network before anything else.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(nil, Batch{Stream: "points/x", Records: []RawRecord{{Seq: 1, Data: EncodePoints(nil, samplePoints())}}}))
	f.Add([]byte("MLNB\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, err := DecodeBatch(b)
		if err != nil {
			return
		}
		var prev uint64
		for _, r := range bt.Records {
			if r.Seq <= prev {
				t.Fatalf("decoded non-increasing seq %d after %d", r.Seq, prev)
			}
			prev = r.Seq
		}
	})
}

// benchPoints is a record as the edge writes them: a handful of series of
// one machine.
func benchPoints(n int) []uns.Point {
	pts := make([]uns.Point, n)
	for i := range pts {
		pts[i] = uns.Point{Series: fmt.Sprintf("demo-factory/hall-a/line-1/cnc-mill/tag%d", i%12), TS: 1_763_700_000_000_000_000 + int64(i)*1e6, Value: uns.Float(float64(i) * 0.25)}
	}
	return pts
}

// BenchmarkEncodePoints encodes a record of 1,000 points and one of 2, as
// the edge writes for each device message of two values.
func BenchmarkEncodePoints(b *testing.B) {
	for _, n := range []int{2, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pts := benchPoints(n)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = EncodePoints(buf[:0], pts)
			}
			b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(len(buf))/float64(len(pts)), "bytes/point")
		})
	}
}

func BenchmarkDecodePoints(b *testing.B) {
	pts := benchPoints(1000)
	buf := EncodePoints(nil, pts)
	dst := make([]uns.Point, 0, len(pts))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = DecodePoints(dst[:0], buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "points/s")
}

func sampleEvents() []uns.Event {
	return []uns.Event{
		{Asset: "s/a/l/m", Kind: "downtime", Start: 1_700_000_000_000_000_000, End: 1_700_000_060_000_000_000, Attrs: map[string]string{"reason": "jam", "duration_s": "60"}},
		{Asset: "s/a/l/m", Kind: "alarm", Start: 1_700_000_000_000_000_000, Attrs: map[string]string{"series": "s/a/l/m/temp", "limit": "hi"}},
		{Asset: "s/a", Kind: "state", Start: 5},
	}
}

func TestRecordWithEventsRoundTrip(t *testing.T) {
	b := EncodeRecord(nil, samplePoints(), sampleEvents())
	pts, evs, err := DecodeRecord(nil, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pts, samplePoints()) {
		t.Errorf("points changed: %v", pts)
	}
	if len(evs) != 3 || evs[0].Attrs["reason"] != "jam" || evs[1].End != 0 || evs[2].Attrs != nil || evs[0].End != sampleEvents()[0].End {
		t.Errorf("events changed: %+v", evs)
	}
	// Without events the encoding stays version 1, readable by DecodePoints.
	if v1 := EncodeRecord(nil, samplePoints(), nil); v1[0] != pointsVersion {
		t.Errorf("a record without events is version %d", v1[0])
	}
	if got, err := DecodePoints(nil, b); err != nil || len(got) != len(samplePoints()) {
		t.Errorf("DecodePoints of a version 2 record: %d points, %v", len(got), err)
	}
}

func TestDecodeRecordRejectsBadEvents(t *testing.T) {
	for _, e := range []uns.Event{
		{Asset: "", Kind: "x", Start: 1},
		{Asset: "a/+", Kind: "x", Start: 1},
		{Asset: "a", Kind: "Bad Kind", Start: 1},
		{Asset: "a", Kind: "x", Start: 10, End: 5},
		{Asset: "a", Kind: "x", Start: -1},
	} {
		b := EncodeRecord(nil, nil, []uns.Event{e})
		keep := []uns.Event{{Asset: "keep"}}
		if _, evs, err := DecodeRecord(nil, keep, b); !errors.Is(err, ErrMalformed) || len(evs) != 1 {
			t.Errorf("event %+v: error %v, %d events; want ErrMalformed and dst unchanged", e, err, len(evs))
		}
	}
}

// FuzzDecodeRecord: records with events come from the network too.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecord(nil, samplePoints(), sampleEvents()))
	f.Add(EncodeRecord(nil, nil, sampleEvents()[:1]))
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, evs, err := DecodeRecord(nil, nil, b)
		if err != nil {
			return
		}
		for _, e := range evs {
			if err := uns.ValidateEvent(e); err != nil {
				t.Fatalf("decoded an invalid event: %v", err)
			}
		}
		pts2, evs2, err := DecodeRecord(nil, nil, EncodeRecord(nil, pts, evs))
		if err != nil || !slices.Equal(pts2, pts) || len(evs2) != len(evs) {
			t.Fatalf("re-encoding changed the record: %v", err)
		}
	})
}
