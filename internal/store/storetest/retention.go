package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

func testRetention(t *testing.T, open Opener) {
	t.Run("Invalid", func(t *testing.T) {
		s := newStore(t, open)
		if _, err := s.Expire(t.Context(), orgA, store.Retention{Raw: -time.Second}, time.Now()); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Expire with a negative period: error %v, want %v", err, store.ErrInvalid)
		}
	})

	t.Run("Expire", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		closed := false
		t.Cleanup(func() {
			if !closed {
				s.Close()
			}
		})
		ctx := t.Context()
		// org a: x has points at 1..10 s with a tie at 6 s; y has points at
		// 1..3 s only. org b: x as org a's, without the tie.
		x, y := "m/x", "m/y"
		var ra []store.Record
		for n := range int64(10) {
			n++
			ra = append(ra, rec(uint64(n), pt(x, t0+n*sec, uns.Float(float64(n)))))
		}
		ra[5].Points = append(ra[5].Points, pt(x, t0+6*sec, uns.Int(60)))
		ra = append(ra, rec(11, pt(y, t0+sec, uns.Float(1)), pt(y, t0+2*sec, uns.Float(2))), rec(12, pt(y, t0+3*sec, uns.String("three"))))
		ingest(t, s, orgA, srcA, ra[:4])
		ingest(t, s, orgA, srcA, ra[4:])
		ingest(t, s, orgB, srcB, recs(x, 1, 10))
		allX := raw(t, s, orgA, x)
		allB := raw(t, s, orgB, x)
		latestA, err := s.Latest(ctx, orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}

		// Nothing of a zero retention, nor of a period longer than the data.
		now := time.Unix(0, t0+5*sec).Add(time.Hour) // the raw cutoff is at 5 s
		for _, r := range []store.Retention{{}, {Raw: 2 * time.Hour, Minute: 2 * time.Hour, Hour: 2 * time.Hour}} {
			st, err := s.Expire(ctx, orgA, r, now)
			if err != nil {
				t.Fatal(err)
			}
			if st.Points != 0 {
				t.Errorf("Expire(%+v) removed %d points, want none", r, st.Points)
			}
			checkPoints(t, "Raw after an Expire that removes nothing", raw(t, s, orgA, x), allX)
		}

		st, err := s.Expire(ctx, orgA, store.Retention{Raw: time.Hour}, now)
		if err != nil {
			t.Fatal(err)
		}
		if st.Points != 7 { // x at 1..4 s, y at 1..3 s
			t.Errorf("Expire removed %d points, want 7", st.Points)
		}
		check := func(when string) {
			t.Helper()
			checkPoints(t, "Raw of org a's x "+when, raw(t, s, orgA, x), allX[4:]) // from 5 s: the cutoff itself stays
			checkPoints(t, "Raw of org a's y "+when, raw(t, s, orgA, y), nil)
			checkPoints(t, "Raw of org b's x "+when, raw(t, s, orgB, x), allB)
			latest, err := s.Latest(ctx, orgA, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			checkPoints(t, "Latest of org a "+when, latest, latestA)
			series, err := s.Series(ctx, orgA, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []store.SeriesInfo{
				{Path: x, Kind: uns.KindFloat, First: t0 + 5*sec, Last: t0 + 10*sec},
				{Path: y, Kind: uns.KindString, First: t0 + 3*sec, Last: t0 + 3*sec}, // none left: the latest's
			}
			if len(series) != len(want) || series[0] != want[0] || series[1] != want[1] {
				t.Errorf("Series of org a %s = %+v, want %+v", when, series, want)
			}
			series, err = s.Series(ctx, orgB, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(series) != 1 || series[0].First != t0+sec {
				t.Errorf("Series of org b %s = %+v, want First %d", when, series, t0+sec)
			}
			buckets, err := s.Aggregate(ctx, orgA, x, t0, t0+20*sec, 10*sec, store.Count)
			if err != nil {
				t.Fatal(err)
			}
			wantB := []store.Bucket{{Start: t0, Value: uns.Int(6), Count: 6}, {Start: t0 + 10*sec, Value: uns.Int(1), Count: 1}}
			if len(buckets) != 2 || buckets[0] != wantB[0] || buckets[1] != wantB[1] {
				t.Errorf("Aggregate count of org a's x %s = %+v, want %+v", when, buckets, wantB)
			}
		}
		check("after Expire")

		// Again: nothing more to remove.
		if st, err := s.Expire(ctx, orgA, store.Retention{Raw: time.Hour}, now); err != nil || st.Points != 0 {
			t.Errorf("second Expire removed %d points (%v), want none", st.Points, err)
		}
		check("after a second Expire")

		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		closed = true
		s = open(t, dir)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		check("after reopen")

		// A new point older than the oldest one left moves First back.
		ingest(t, s, orgA, srcA, []store.Record{rec(20, pt(x, t0+4*sec+sec/2, uns.Float(4.5)))})
		series, err := s.Series(ctx, orgA, x, 0)
		if err != nil || len(series) != 1 || series[0].First != t0+4*sec+sec/2 {
			t.Errorf("Series after a late point = %+v, %v; want First %d", series, err, t0+4*sec+sec/2)
		}
	})
}
