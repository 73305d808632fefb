package storetest

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// compacter is a backend that moves points into rollups in the
// background (the embedded one); the test has it do so between calls.
type compacter interface {
	Compact(ctx context.Context) error
}

// testRollupsAgree checks aggregates at steps a rollup resolution divides
// against the same aggregates computed here from Raw, on irregular data of
// every kind ingested in several calls (with compactions in between where
// the backend has them; late points into minutes already rolled up), for
// every aggregate, several steps and ranges that cut buckets. Then it
// expires every raw point: whole minutes and hours must still answer the
// same, which they can only from rollups.
func testRollupsAgree(t *testing.T, open Opener) {
	s := newStore(t, open)
	rng := rand.New(rand.NewPCG(7, 8))
	const path = "m/mixed"
	ts := int64(1_700_000_000) * int64(time.Second)
	start := ts
	for call := range 6 {
		var pts []uns.Point
		for i := range 1500 {
			// Bursts and pauses: mostly 100 ms apart, sometimes a minute,
			// one in ten at the timestamp of the point before, and a few
			// late ones.
			switch {
			case rng.IntN(100) == 0:
				ts += int64(time.Minute)
			case rng.IntN(10) != 0:
				ts += int64(time.Duration(rng.IntN(200)) * time.Millisecond)
			}
			at := ts
			if rng.IntN(50) == 0 {
				at = start + rng.Int64N(ts-start+1)
			}
			var v uns.Value
			switch i % 7 {
			case 0:
				v = uns.String(strconv.Itoa(i))
			case 1:
				v = uns.Bool(i%2 == 0)
			case 2, 3:
				v = uns.Int(rng.Int64N(1000) - 500)
			default:
				v = uns.Float(rng.NormFloat64() * 100)
			}
			pts = append(pts, uns.Point{Series: path, TS: at, Value: v})
		}
		ingest(t, s, orgA, srcA, []store.Record{{Seq: uint64(call + 1), Points: pts}})
		ingest(t, s, orgB, srcB, []store.Record{{Seq: uint64(call + 1), Points: pts}}) // for the cutoff below
		if c, ok := s.(compacter); ok && call < 5 {
			if err := c.Compact(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.Raw(t.Context(), orgA, path, 0, 1<<62, 0)
	if err != nil || len(all) != 6*1500 {
		t.Fatalf("Raw: %d points, %v", len(all), err)
	}
	end := ts + 1
	ranges := [][2]int64{{0, 1 << 62}, {start + 12345678, end - 98765432}, {start + int64(time.Minute), start + 2*int64(time.Minute)}}
	steps := []time.Duration{3 * time.Second, 7 * time.Second, time.Minute, 2 * time.Minute, time.Hour}
	for _, agg := range []store.Agg{store.Avg, store.Min, store.Max, store.Sum, store.Count, store.First, store.Last} {
		for _, step := range steps {
			for _, r := range ranges {
				got, err := s.Aggregate(t.Context(), orgA, path, r[0], r[1], int64(step), agg)
				if err != nil {
					t.Fatal(err)
				}
				want := reference(all, r[0], r[1], int64(step), agg)
				if len(want) == 0 {
					t.Fatalf("%s by %v in %v: no buckets", agg, step, r)
				}
				if !bucketsClose(got, want) {
					t.Errorf("%s by %v in %v:\n got %v\nwant %v", agg, step, r, got, want)
				}
			}
		}
	}

	// Expire every raw point; rollups are kept.
	if _, err := s.Expire(t.Context(), orgA, store.Retention{Raw: time.Hour}, time.Unix(0, end).Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if left, err := s.Raw(t.Context(), orgA, path, 0, 1<<62, 0); err != nil || len(left) != 0 {
		t.Fatalf("Raw after expiring every point: %d points, %v", len(left), err)
	}
	for _, agg := range []store.Agg{store.Avg, store.Min, store.Max, store.Sum, store.Count, store.First, store.Last} {
		for _, step := range []time.Duration{time.Minute, 2 * time.Minute, time.Hour} {
			res := store.RollupMinute
			if step == time.Hour {
				res = store.RollupHour
			}
			// Ranges on the step's rollup resolution, and one that
			// starts on a minute inside an hour: an hour chart's ragged
			// start is answered from minute rollups.
			m, h := store.RollupMinute, store.RollupHour
			for _, r := range [][2]int64{
				{(start + res - 1) / res * res, end - end%res},
				{(start + 7*m) / m * m, (end/h + 1) * h},
			} {
				lo, hi := r[0], r[1]
				if lo >= hi {
					continue
				}
				got, err := s.Aggregate(t.Context(), orgA, path, lo, hi, int64(step), agg)
				if err != nil {
					t.Fatal(err)
				}
				if want := reference(all, lo, hi, int64(step), agg); !bucketsClose(got, want) {
					t.Errorf("%s by %v in whole rollups [%d, %d) after the raw points expired:\n got %v\nwant %v", agg, step, lo, hi, got, want)
				}
			}
		}
	}

	// Org b: raw points, minute and hour rollups all kept one hour, the
	// cutoff in the middle of a minute. No aggregate may miss a point
	// that is still stored: the buckets holding the cutoff keep their
	// rollups (with the expired points they summarise), later ones agree
	// with the points left.
	cut := start + (end-start)/2 + 17*sec
	if _, err := s.Expire(t.Context(), orgB, store.Retention{Raw: time.Hour, Minute: time.Hour, Hour: time.Hour}, time.Unix(0, cut).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	left, err := s.Raw(t.Context(), orgB, path, 0, 1<<62, 0)
	if err != nil || len(left) == 0 || left[0].TS < cut {
		t.Fatalf("Raw after expiring before %d: %d points from %v, %v", cut, len(left), left[:min(len(left), 1)], err)
	}
	for _, step := range []time.Duration{time.Minute, time.Hour} {
		got, err := s.Aggregate(t.Context(), orgB, path, 0, 1<<62, int64(step), store.Count)
		if err != nil {
			t.Fatal(err)
		}
		held := cut - cut%int64(step)
		for _, w := range reference(left, 0, 1<<62, int64(step), store.Count) {
			i := slices.IndexFunc(got, func(b store.Bucket) bool { return b.Start == w.Start })
			switch {
			case i < 0:
				t.Errorf("count by %v after the cutoff at %d: bucket %d with %d points still stored is missing", step, cut, w.Start, w.Count)
			case w.Start == held && got[i].Count < w.Count:
				t.Errorf("count by %v after the cutoff at %d: bucket %d holding the cutoff counts %d, fewer than the %d points still stored", step, cut, w.Start, got[i].Count, w.Count)
			case w.Start > held && got[i] != w:
				t.Errorf("count by %v after the cutoff at %d: %v, want %v", step, cut, got[i], w)
			}
		}
	}
}

// reference computes buckets from points in time order (ties in ingest
// order), the plain way.
func reference(pts []uns.Point, from, to, step int64, agg store.Agg) []store.Bucket {
	var out []store.Bucket
	for i := 0; i < len(pts); {
		start := pts[i].TS - pts[i].TS%step
		j := i
		for j < len(pts) && pts[j].TS-pts[j].TS%step == start {
			j++
		}
		var in []uns.Point
		for _, p := range pts[i:j] {
			if p.TS >= from && p.TS < to {
				in = append(in, p)
			}
		}
		i = j
		if len(in) == 0 {
			continue
		}
		b := store.Bucket{Start: start}
		switch agg {
		case store.Count:
			b.Count, b.Value = int64(len(in)), uns.Int(int64(len(in)))
		case store.First:
			b.Count, b.Value = int64(len(in)), in[0].Value
		case store.Last:
			b.Count, b.Value = int64(len(in)), in[len(in)-1].Value
		default:
			var fs []float64
			for _, p := range in {
				if f, ok := p.Value.AsFloat(); ok {
					fs = append(fs, f)
				}
			}
			if len(fs) == 0 {
				continue
			}
			b.Count = int64(len(fs))
			var sum float64
			for _, f := range fs {
				sum += f
			}
			switch agg {
			case store.Avg:
				b.Value = uns.Float(sum / float64(len(fs)))
			case store.Sum:
				b.Value = uns.Float(sum)
			case store.Min:
				b.Value = uns.Float(slices.Min(fs))
			case store.Max:
				b.Value = uns.Float(slices.Max(fs))
			}
		}
		out = append(out, b)
	}
	return out
}

// bucketsClose compares buckets, floats to a relative 1e-12: the plans may
// add a bucket's values in different orders.
func bucketsClose(a, b []store.Bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Start != y.Start || x.Count != y.Count || x.Value.Kind() != y.Value.Kind() {
			return false
		}
		if x.Value.Kind() == uns.KindFloat {
			fx, fy := x.Value.Float64(), y.Value.Float64()
			if math.Abs(fx-fy) > 1e-12*math.Max(math.Abs(fx), math.Abs(fy)) {
				return false
			}
		} else if x.Value != y.Value {
			return false
		}
	}
	return true
}
