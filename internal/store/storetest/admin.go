package storetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// adminState describes what a store answers about a series of org: its
// points, its hourly sums and counts (from rollups), its latest value and
// its first timestamp, or "absent".
func adminState(t *testing.T, s store.Store, org, path string) string {
	t.Helper()
	ctx := t.Context()
	infos, err := s.Series(ctx, org, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var info *store.SeriesInfo
	for i := range infos {
		if infos[i].Path == path {
			info = &infos[i]
		}
	}
	pts := raw(t, s, org, path)
	if info == nil {
		if len(pts) > 0 {
			return "absent from Series but Raw has " + fmtPoints(pts)
		}
		return "absent"
	}
	out := fmt.Sprintf("first %d points %s", info.First, fmtPoints(pts))
	for _, agg := range []store.Agg{store.Sum, store.Count, store.Min, store.First, store.Last} {
		bs, err := s.Aggregate(ctx, org, path, 0, math.MaxInt64/2, int64(time.Hour), agg)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf(" %s", agg)
		for _, b := range bs {
			out += fmt.Sprintf(" %d=%s", b.Start, b.Value)
		}
	}
	latest, err := s.Latest(ctx, org, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out + " latest " + fmtPoints(latest)
}

// testSeriesAdmin deletes, renames and merges series: their points,
// rollups and latest values go along, other organisations' series of the
// same paths stay, and it all holds after reopening.
func testSeriesAdmin(t *testing.T, open Opener) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	h := int64(time.Hour)
	pts := func(series string, vals ...int) []uns.Point {
		var out []uns.Point
		for i, v := range vals {
			out = append(out, pt(series, t0+int64(i)*h/2+int64(v)*sec, uns.Float(float64(v))))
		}
		return out
	}
	var seq uint64
	put := func(org string, p []uns.Point) {
		seq++
		ingest(t, s, org, store.Source{Edge: "admin-" + org, Stream: "p"}, []store.Record{{Seq: seq, Points: p}})
	}
	put(orgA, pts("m/gone", 1, 2, 3))
	put(orgA, pts("m/old", 4, 5))
	put(orgA, pts("m/from", 6, 7, 8))
	put(orgA, pts("m/into", 9, 10))
	put(orgB, pts("m/gone", 11))

	bGone := adminState(t, s, orgB, "m/gone")
	old := adminState(t, s, orgA, "m/old")

	if err := s.DeleteSeries(ctx, orgA, "m/gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameSeries(ctx, orgA, "m/old", "m/new"); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeSeries(ctx, orgA, "m/from", "m/into"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"delete a missing series", s.DeleteSeries(ctx, orgA, "m/gone"), store.ErrNotFound},
		{"delete another organisation's series", s.DeleteSeries(ctx, orgA, "m/none"), store.ErrNotFound},
		{"rename onto a series", s.RenameSeries(ctx, orgA, "m/new", "m/into"), store.ErrExists},
		{"rename a missing series", s.RenameSeries(ctx, orgA, "m/old", "m/x"), store.ErrNotFound},
		{"merge a series into itself", s.MergeSeries(ctx, orgA, "m/into", "m/into"), store.ErrInvalid},
		{"merge a missing series", s.MergeSeries(ctx, orgA, "m/from", "m/into"), store.ErrNotFound},
		{"an invalid path", s.DeleteSeries(ctx, orgA, "m//x"), store.ErrInvalid},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
		}
	}

	// The merged series as if its points had been ingested under into.
	ref := open(t, t.TempDir())
	ingest(t, ref, orgA, srcA, []store.Record{{Seq: 1, Points: pts("m/into", 9, 10)}})
	var moved []uns.Point
	for _, p := range pts("m/from", 6, 7, 8) {
		p.Series = "m/into"
		moved = append(moved, p)
	}
	ingest(t, ref, orgA, srcA, []store.Record{{Seq: 2, Points: moved}})
	merged := adminState(t, ref, orgA, "m/into")
	ref.Close()

	check := func(s store.Store, when string) {
		t.Helper()
		for _, c := range []struct{ org, path, want string }{
			{orgA, "m/gone", "absent"},
			{orgB, "m/gone", bGone},
			{orgA, "m/old", "absent"},
			{orgA, "m/from", "absent"},
			{orgA, "m/into", merged},
		} {
			if got := adminState(t, s, c.org, c.path); got != c.want {
				t.Errorf("%s: %s of %s:\n got %s\nwant %s", when, c.path, c.org, got, c.want)
			}
		}
		if got, want := adminState(t, s, orgA, "m/new"), strings.ReplaceAll(old, "m/old", "m/new"); got != want {
			t.Errorf("%s: renamed:\n got %s\nwant %s", when, got, want)
		}
	}
	check(s, "after the changes")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	check(s, "after reopening")
	// A deleted series' path takes new points as a new series.
	seq = 100
	ingest(t, s, orgA, store.Source{Edge: "admin-a", Stream: "p"}, []store.Record{{Seq: seq, Points: pts("m/gone", 42)}})
	if got := raw(t, s, orgA, "m/gone"); len(got) != 1 {
		t.Errorf("a new point of a deleted series' path: %s", fmtPoints(got))
	}
}
