package storetest

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

const (
	orgA = "org-a"
	orgB = "org-b"
)

var (
	srcA = store.Source{Edge: "edge-a", Stream: "points"}
	srcB = store.Source{Edge: "edge-b", Stream: "points"}
)

func testIngest(t *testing.T, open Opener) {
	t.Run("StoresAndAdvancesWatermark", func(t *testing.T) {
		s := newStore(t, open)
		if got := watermark(t, s, srcA); got != 0 {
			t.Fatalf("watermark before any ingest = %d, want 0", got)
		}
		if got := ingest(t, s, orgA, srcA, recs("m/temp", 1, 3)); got != 3 {
			t.Errorf("stored = %d, want 3", got)
		}
		if got := watermark(t, s, srcA); got != 3 {
			t.Errorf("watermark = %d, want 3", got)
		}
		want := []uns.Point{
			pt("m/temp", t0+1*sec, uns.Float(1)),
			pt("m/temp", t0+2*sec, uns.Float(2)),
			pt("m/temp", t0+3*sec, uns.Float(3)),
		}
		checkPoints(t, "Raw", raw(t, s, orgA, "m/temp"), want)
	})

	t.Run("NoRecords", func(t *testing.T) {
		s := newStore(t, open)
		if got := ingest(t, s, orgA, srcA, nil); got != 0 {
			t.Errorf("stored = %d, want 0", got)
		}
		if got := watermark(t, s, srcA); got != 0 {
			t.Errorf("watermark = %d, want 0", got)
		}
	})

	t.Run("RecordWithoutPointsAdvancesWatermark", func(t *testing.T) {
		s := newStore(t, open)
		if got := ingest(t, s, orgA, srcA, []store.Record{rec(4)}); got != 1 {
			t.Errorf("stored = %d, want 1", got)
		}
		if got := watermark(t, s, srcA); got != 4 {
			t.Errorf("watermark = %d, want 4", got)
		}
	})

	// Redelivery is the edge retrying after a lost acknowledgement: it may
	// resend the same batch, a batch that overlaps, or old records mixed
	// with new ones. Each record is stored once.
	t.Run("Redelivery", func(t *testing.T) {
		tests := []struct {
			name       string
			second     []store.Record
			wantStored int
			wantWM     uint64
			wantN      int // points of m/temp after both calls
		}{
			{"same batch", recs("m/temp", 1, 5), 0, 5, 5},
			{"older part only", recs("m/temp", 2, 3), 0, 5, 5},
			{"overlapping", recs("m/temp", 4, 8), 3, 8, 8},
			{"old and new with gaps", []store.Record{
				rec(1, pt("m/temp", t0+1*sec, uns.Float(1))),
				rec(3, pt("m/temp", t0+3*sec, uns.Float(3))),
				rec(7, pt("m/temp", t0+7*sec, uns.Float(7))),
				rec(9, pt("m/temp", t0+9*sec, uns.Float(9))),
			}, 2, 9, 7},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, open)
				ingest(t, s, orgA, srcA, recs("m/temp", 1, 5))
				if got := ingest(t, s, orgA, srcA, tt.second); got != tt.wantStored {
					t.Errorf("second Ingest stored %d, want %d", got, tt.wantStored)
				}
				if got := watermark(t, s, srcA); got != tt.wantWM {
					t.Errorf("watermark = %d, want %d", got, tt.wantWM)
				}
				if got := raw(t, s, orgA, "m/temp"); len(got) != tt.wantN {
					t.Errorf("Raw has %d points, want %d: %s", len(got), tt.wantN, fmtPoints(got))
				}
			})
		}
	})

	// A redelivered record is skipped by its Seq, even where its points
	// differ from what was stored (they cannot, for a well-behaved edge;
	// the point is that the watermark, not the content, decides).
	t.Run("DuplicateSkippedBySeq", func(t *testing.T) {
		s := newStore(t, open)
		ingest(t, s, orgA, srcA, []store.Record{rec(1, pt("m/temp", t0, uns.Float(1)))})
		ingest(t, s, orgA, srcA, []store.Record{rec(1, pt("m/temp", t0+sec, uns.Float(2)))})
		checkPoints(t, "Raw", raw(t, s, orgA, "m/temp"), []uns.Point{pt("m/temp", t0, uns.Float(1))})
	})

	t.Run("Gaps", func(t *testing.T) {
		s := newStore(t, open)
		rs := []store.Record{
			rec(1, pt("m/temp", t0+1*sec, uns.Float(1))),
			rec(5, pt("m/temp", t0+5*sec, uns.Float(5))),
			rec(9, pt("m/temp", t0+9*sec, uns.Float(9))),
		}
		if got := ingest(t, s, orgA, srcA, rs); got != 3 {
			t.Errorf("stored = %d, want 3", got)
		}
		if got := watermark(t, s, srcA); got != 9 {
			t.Errorf("watermark = %d, want 9", got)
		}
		// Seq 7 lies in a gap but below the watermark: it arrived too late.
		if got := ingest(t, s, orgA, srcA, recs("m/temp", 7, 7)); got != 0 {
			t.Errorf("late record in a gap: stored %d, want 0", got)
		}
		if got := len(raw(t, s, orgA, "m/temp")); got != 3 {
			t.Errorf("Raw has %d points, want 3", got)
		}
	})

	t.Run("WatermarkPerSource", func(t *testing.T) {
		s := newStore(t, open)
		sources := []store.Source{
			{Edge: "e1", Stream: "s1"},
			{Edge: "e1", Stream: "s2"},
			{Edge: "e2", Stream: "s1"},
			{Edge: "e2", Stream: "s2"},
		}
		for i, src := range sources {
			series := "m/" + src.Edge + "-" + src.Stream
			ingest(t, s, orgA, src, recs(series, 1, uint64(10*(i+1))))
		}
		for i, src := range sources {
			if got, want := watermark(t, s, src), uint64(10*(i+1)); got != want {
				t.Errorf("watermark %v = %d, want %d", src, got, want)
			}
		}
		// Seq 15 is new for e1/s1 (at 10) though old for the others.
		for i, src := range sources {
			got := ingest(t, s, orgA, src, recs("m/"+src.Edge+"-"+src.Stream, 15, 15))
			if want := map[bool]int{true: 1, false: 0}[i == 0]; got != want {
				t.Errorf("Ingest seq 15 into %v stored %d, want %d", src, got, want)
			}
		}
		if got := watermark(t, s, store.Source{Edge: "e3", Stream: "s1"}); got != 0 {
			t.Errorf("watermark of an unknown source = %d, want 0", got)
		}
	})

	t.Run("WatermarkFullUint64", func(t *testing.T) {
		s := newStore(t, open)
		big := uint64(1)<<63 + 5
		ingest(t, s, orgA, srcA, []store.Record{rec(big, pt("m/temp", t0, uns.Float(1)))})
		if got := watermark(t, s, srcA); got != big {
			t.Errorf("watermark = %d, want %d", got, big)
		}
		if got := ingest(t, s, orgA, srcA, []store.Record{rec(big-1, pt("m/temp", t0+sec, uns.Float(2)))}); got != 0 {
			t.Errorf("record below a watermark above 1<<63 stored %d, want 0", got)
		}
	})

	// Storage is append-only: points with the same series and timestamp
	// are all kept, in one record, across records and across calls. Raw
	// gives them in the order they were ingested; Latest gives the one
	// ingested last.
	t.Run("SameSeriesAndTimestampAllKept", func(t *testing.T) {
		s := newStore(t, open)
		idle := pt("m/state", t0, uns.String("idle"))
		running := pt("m/state", t0, uns.String("running"))
		again := pt("m/state", t0, uns.String("running"))
		stopped := uns.Point{Series: "m/state", TS: t0, Value: uns.String("stopped"), Quality: uns.Bad}
		ingest(t, s, orgA, srcA, []store.Record{rec(1, idle, running), rec(2, again)})
		checkPoints(t, "Raw after one call", raw(t, s, orgA, "m/state"), []uns.Point{idle, running, again})
		latest, err := s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest after one call", latest, []uns.Point{again})

		ingest(t, s, orgA, srcA, []store.Record{rec(3, stopped)})
		checkPoints(t, "Raw", raw(t, s, orgA, "m/state"), []uns.Point{idle, running, again, stopped})
		latest, err = s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest", latest, []uns.Point{stopped})
		got, err := s.Raw(t.Context(), orgA, "m/state", 0, 1<<62, 2)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Raw with a limit inside a tie", got, []uns.Point{idle, running})

		// An older point ingested later changes neither Latest nor the
		// order of the tie.
		older := pt("m/state", t0-sec, uns.String("setup"))
		ingest(t, s, orgA, srcA, []store.Record{rec(4, older)})
		checkPoints(t, "Raw after an older point", raw(t, s, orgA, "m/state"), []uns.Point{older, idle, running, again, stopped})
		latest, err = s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest after an older point", latest, []uns.Point{stopped})
	})

	// The watermark is the only deduplication. The same points under a new
	// Seq, or from another source, are new points and are stored again, so
	// a hub whose watermark broke would show duplicates rather than hide
	// them; the same Seq again stores nothing.
	t.Run("SamePointsUnderNewSeqStoredTwice", func(t *testing.T) {
		s := newStore(t, open)
		t1, t2 := pt("m/temp", t0, uns.Float(1)), pt("m/temp", t0+sec, uns.Float(2))
		state := pt("m/state", t0, uns.String("run"))
		if got := ingest(t, s, orgA, srcA, []store.Record{rec(1, t1, t2, state)}); got != 1 {
			t.Errorf("first Ingest stored %d, want 1", got)
		}
		if got := ingest(t, s, orgA, srcA, []store.Record{rec(1, t1, t2, state)}); got != 0 {
			t.Errorf("Ingest of the same seq again stored %d, want 0", got)
		}
		checkPoints(t, "Raw after the same seq again", raw(t, s, orgA, "m/temp"), []uns.Point{t1, t2})

		if got := ingest(t, s, orgA, srcA, []store.Record{rec(2, t1, t2, state)}); got != 1 {
			t.Errorf("Ingest of the same points under seq 2 stored %d, want 1", got)
		}
		checkPoints(t, "Raw after a new seq", raw(t, s, orgA, "m/temp"), []uns.Point{t1, t1, t2, t2})
		checkPoints(t, "Raw of m/state after a new seq", raw(t, s, orgA, "m/state"), []uns.Point{state, state})
		ingest(t, s, orgA, srcB, []store.Record{rec(1, t1)})
		checkPoints(t, "Raw after another source", raw(t, s, orgA, "m/temp"), []uns.Point{t1, t1, t1, t2, t2})

		got, err := s.Aggregate(t.Context(), orgA, "m/temp", 0, 1<<62, 10*sec, store.Count)
		want := []store.Bucket{{Start: t0, Value: uns.Int(5), Count: 5}}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Aggregate(count) = %v, %v; want %v", got, err, want)
		}
		got, err = s.Aggregate(t.Context(), orgA, "m/temp", 0, 1<<62, 10*sec, store.Sum)
		want = []store.Bucket{{Start: t0, Value: uns.Float(7), Count: 5}}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Aggregate(sum) = %v, %v; want %v", got, err, want)
		}
		series, err := s.Series(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		wantSeries := []store.SeriesInfo{
			{Path: "m/state", Kind: uns.KindString, First: t0, Last: t0},
			{Path: "m/temp", Kind: uns.KindFloat, First: t0, Last: t0 + sec},
		}
		if !slices.Equal(series, wantSeries) {
			t.Errorf("Series = %+v, want %+v", series, wantSeries)
		}
		latest, err := s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest", latest, []uns.Point{state, t2})
	})

	// Bad input never half-stores: the call fails with ErrInvalid and
	// leaves no trace, not even of its valid records.
	t.Run("RejectsBadInputWhole", func(t *testing.T) {
		good := rec(1, pt("m/temp", t0, uns.Float(1)))
		tests := []struct {
			name string
			org  string
			src  store.Source
			recs []store.Record
		}{
			{"seq not increasing", orgA, srcA, []store.Record{good, rec(3, pt("m/temp", t0+3*sec, uns.Float(3))), rec(2, pt("m/temp", t0+2*sec, uns.Float(2)))}},
			{"seq repeated", orgA, srcA, []store.Record{good, rec(1, pt("m/temp", t0+sec, uns.Float(2)))}},
			{"invalid path", orgA, srcA, []store.Record{good, rec(2, pt("m/te mp", t0, uns.Float(1)))}},
			{"one-segment path", orgA, srcA, []store.Record{good, rec(2, pt("temp", t0, uns.Float(1)))}},
			{"wildcard path", orgA, srcA, []store.Record{good, rec(2, pt("m/#", t0, uns.Float(1)))}},
			{"value without kind", orgA, srcA, []store.Record{good, rec(2, pt("m/temp", t0+sec, uns.Value{}))}},
			{"NaN", orgA, srcA, []store.Record{good, rec(2, pt("m/temp", t0+sec, uns.Float(math.NaN())))}},
			{"infinity", orgA, srcA, []store.Record{good, rec(2, pt("m/temp", t0+sec, uns.Float(math.Inf(1))))}},
			{"negative timestamp", orgA, srcA, []store.Record{good, rec(2, pt("m/temp", -1, uns.Float(1)))}},
			{"unknown quality", orgA, srcA, []store.Record{good, rec(2, uns.Point{Series: "m/temp", TS: t0 + sec, Value: uns.Float(1), Quality: 9})}},
			{"empty org", "", srcA, []store.Record{good}},
			{"empty edge", orgA, store.Source{Stream: "points"}, []store.Record{good}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, open)
				n, err := s.Ingest(t.Context(), tt.org, tt.src, tt.recs)
				if err == nil {
					t.Fatalf("Ingest succeeded (stored %d), want an error", n)
				}
				if !errors.Is(err, store.ErrInvalid) {
					t.Errorf("Ingest: %v, want an error wrapping store.ErrInvalid", err)
				}
				if n != 0 {
					t.Errorf("Ingest failed but reported %d stored", n)
				}
				if got := watermark(t, s, tt.src); got != 0 {
					t.Errorf("watermark = %d after a rejected call, want 0", got)
				}
				if got := raw(t, s, tt.org, "m/temp"); len(got) != 0 {
					t.Errorf("a rejected call stored %s", fmtPoints(got))
				}
				if got, err := s.Series(t.Context(), tt.org, "", 0); err != nil || len(got) != 0 {
					t.Errorf("Series after a rejected call = %v, %v; want none", got, err)
				}
			})
		}
	})
}

func testValues(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t, open)
		values := []struct {
			tag string
			v   uns.Value
			q   uns.Quality
		}{
			{"float", uns.Float(3.25), uns.Good},
			{"float-integral", uns.Float(42), uns.Good}, // must stay a float, not become an int
			{"float-negative-zero-ish", uns.Float(-2.5e-300), uns.Uncertain},
			{"float-huge", uns.Float(1.7976931348623157e308), uns.Bad},
			{"int-zero", uns.Int(0), uns.Good},
			{"int-negative", uns.Int(-1), uns.Good},
			{"int-max", uns.Int(math.MaxInt64), uns.Good},
			{"int-min", uns.Int(math.MinInt64), uns.Uncertain},
			{"int-beyond-float", uns.Int(1<<53 + 1), uns.Good}, // a float64 would round it
			{"bool-true", uns.Bool(true), uns.Good},
			{"bool-false", uns.Bool(false), uns.Bad},
			{"string-empty", uns.String(""), uns.Good},
			{"string", uns.String("running"), uns.Good},
			{"string-number", uns.String("42"), uns.Good}, // must stay a string
			{"string-unicode", uns.String("Störung ⚙ 故障"), uns.Uncertain},
			{"string-sql", uns.String(`'; DROP TABLE points; --`), uns.Good},
			{"string-nul", uns.String("a\x00b"), uns.Good},
		}
		var pts []uns.Point
		for i, v := range values {
			pts = append(pts, uns.Point{Series: "site/values/" + v.tag, TS: t0 + int64(i)*sec, Value: v.v, Quality: v.q})
		}
		ingest(t, s, orgA, srcA, []store.Record{{Seq: 1, Points: pts}})
		for _, p := range pts {
			checkPoints(t, "Raw "+p.Series, raw(t, s, orgA, p.Series), []uns.Point{p})
			latest, err := s.Latest(t.Context(), orgA, p.Series, 0)
			if err != nil {
				t.Fatal(err)
			}
			checkPoints(t, "Latest "+p.Series, latest, []uns.Point{p})
		}
	})

	t.Run("TypeChange", func(t *testing.T) {
		s := newStore(t, open)
		const path = "line/m1/state"
		want := []uns.Point{
			pt(path, t0, uns.Float(1)),
			pt(path, t0+sec, uns.Int(2)),
			pt(path, t0+2*sec, uns.String("running")),
		}
		ingest(t, s, orgA, srcA, []store.Record{rec(1, want[0]), rec(2, want[1])})
		ingest(t, s, orgA, srcA, []store.Record{rec(3, want[2])})
		checkPoints(t, "Raw", raw(t, s, orgA, path), want)
		latest, err := s.Latest(t.Context(), orgA, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest", latest, want[2:])
		series, err := s.Series(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != 1 || series[0].Kind != uns.KindString {
			t.Errorf("Series = %+v, want one of kind string", series)
		}
	})
}

func testSeries(t *testing.T, open Opener) {
	s := newStore(t, open)
	paths := []string{"a/b", "a/b/c", "a/b/d", "a/bc/x", "a/b-x/y", "a/b.x/y", "x/y"}
	var rs []store.Record
	for i, p := range paths {
		rs = append(rs, rec(uint64(i+1), pt(p, t0+int64(i)*sec, uns.Float(float64(i)))))
	}
	ingest(t, s, orgA, srcA, rs)

	t.Run("Prefix", func(t *testing.T) {
		tests := []struct {
			prefix string
			limit  int
			want   []string
		}{
			{"", 0, []string{"a/b", "a/b-x/y", "a/b.x/y", "a/b/c", "a/b/d", "a/bc/x", "x/y"}},
			{"a/b", 0, []string{"a/b", "a/b/c", "a/b/d"}},
			{"a/b/", 0, []string{"a/b", "a/b/c", "a/b/d"}},
			{"a/bc", 0, []string{"a/bc/x"}},
			{"a/b/c", 0, []string{"a/b/c"}},
			{"a", 0, []string{"a/b", "a/b-x/y", "a/b.x/y", "a/b/c", "a/b/d", "a/bc/x"}},
			{"a/x", 0, nil},
			{"b", 0, nil},
			{"", 2, []string{"a/b", "a/b-x/y"}},
			{"a/b", 2, []string{"a/b", "a/b/c"}},
			{"a/b", 100, []string{"a/b", "a/b/c", "a/b/d"}},
		}
		for _, tt := range tests {
			got, err := s.Series(t.Context(), orgA, tt.prefix, tt.limit)
			if err != nil {
				t.Fatalf("Series(%q, %d): %v", tt.prefix, tt.limit, err)
			}
			var paths []string
			for _, si := range got {
				paths = append(paths, si.Path)
			}
			if !slices.Equal(paths, tt.want) {
				t.Errorf("Series(%q, %d) = %q, want %q", tt.prefix, tt.limit, paths, tt.want)
			}
		}
	})

	// Characters that are wildcards in LIKE or GLOB select nothing special.
	t.Run("WildcardsAreLiteral", func(t *testing.T) {
		for _, prefix := range []string{"%", "a/%", "a/_", "a/b_", "*", "a/*", "a/b%", "a/?", "'"} {
			got, err := s.Series(t.Context(), orgA, prefix, 0)
			if err == nil && len(got) != 0 {
				t.Errorf("Series(%q) = %+v, want nothing (or an error)", prefix, got)
			}
			latest, err := s.Latest(t.Context(), orgA, prefix, 0)
			if err == nil && len(latest) != 0 {
				t.Errorf("Latest(%q) = %s, want nothing (or an error)", prefix, fmtPoints(latest))
			}
		}
	})

	t.Run("Info", func(t *testing.T) {
		s := newStore(t, open)
		// Out of time order: First and Last are by timestamp.
		ingest(t, s, orgA, srcA, []store.Record{
			rec(1, pt("m/temp", t0+5*sec, uns.Float(5))),
			rec(2, pt("m/temp", t0+2*sec, uns.Float(2)), pt("m/state", t0, uns.Bool(true))),
		})
		ingest(t, s, orgA, srcA, []store.Record{rec(3, pt("m/temp", t0+9*sec, uns.Int(9)), pt("m/temp", t0+1*sec, uns.Float(1)))})
		got, err := s.Series(t.Context(), orgA, "m", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.SeriesInfo{
			{Path: "m/state", Kind: uns.KindBool, First: t0, Last: t0},
			{Path: "m/temp", Kind: uns.KindInt, First: t0 + sec, Last: t0 + 9*sec},
		}
		if !slices.Equal(got, want) {
			t.Errorf("Series = %+v, want %+v", got, want)
		}
	})
}

func testLatest(t *testing.T, open Opener) {
	t.Run("NewestByTimestamp", func(t *testing.T) {
		s := newStore(t, open)
		// The newest point arrives first; older ones later, in a later
		// record and in a later call.
		ingest(t, s, orgA, srcA, []store.Record{
			rec(1, pt("m/temp", t0+10*sec, uns.Float(10))),
			rec(2, pt("m/temp", t0+3*sec, uns.Float(3))),
		})
		ingest(t, s, orgA, srcA, []store.Record{rec(3, pt("m/temp", t0+5*sec, uns.Float(5)))})
		got, err := s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest", got, []uns.Point{pt("m/temp", t0+10*sec, uns.Float(10))})
		ingest(t, s, orgA, srcA, []store.Record{rec(4, pt("m/temp", t0+11*sec, uns.Float(11)))})
		got, err = s.Latest(t.Context(), orgA, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoints(t, "Latest after a newer point", got, []uns.Point{pt("m/temp", t0+11*sec, uns.Float(11))})
	})

	t.Run("PrefixAndLimit", func(t *testing.T) {
		s := newStore(t, open)
		ingest(t, s, orgA, srcA, []store.Record{rec(1,
			pt("l1/m2/temp", t0, uns.Float(2)),
			pt("l1/m1/temp", t0, uns.Float(1)),
			pt("l1/m1/state", t0+sec, uns.String("ok")),
			pt("l10/m1/temp", t0, uns.Float(10)),
		)})
		tests := []struct {
			prefix string
			limit  int
			want   []uns.Point
		}{
			{"l1", 0, []uns.Point{pt("l1/m1/state", t0+sec, uns.String("ok")), pt("l1/m1/temp", t0, uns.Float(1)), pt("l1/m2/temp", t0, uns.Float(2))}},
			{"l1/m1", 1, []uns.Point{pt("l1/m1/state", t0+sec, uns.String("ok"))}},
			{"l10", 0, []uns.Point{pt("l10/m1/temp", t0, uns.Float(10))}},
			{"", 2, []uns.Point{pt("l1/m1/state", t0+sec, uns.String("ok")), pt("l1/m1/temp", t0, uns.Float(1))}},
		}
		for _, tt := range tests {
			got, err := s.Latest(t.Context(), orgA, tt.prefix, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			checkPoints(t, "Latest("+tt.prefix+")", got, tt.want)
		}
	})
}

func testRaw(t *testing.T, open Opener) {
	s := newStore(t, open)
	const path = "m/temp"
	var pts []uns.Point
	for i := range 10 {
		pts = append(pts, pt(path, t0+int64(i)*sec, uns.Float(float64(i))))
	}
	// Stored in reverse, in two calls: Raw is in time order regardless.
	rev := slices.Clone(pts)
	slices.Reverse(rev)
	ingest(t, s, orgA, srcA, []store.Record{{Seq: 1, Points: rev[:5]}})
	ingest(t, s, orgA, srcA, []store.Record{{Seq: 2, Points: rev[5:]}})

	tests := []struct {
		name     string
		series   string
		from, to int64
		limit    int
		want     []uns.Point
	}{
		{"all", path, 0, 1 << 62, 0, pts},
		{"from inclusive, to exclusive", path, t0 + 2*sec, t0 + 5*sec, 0, pts[2:5]},
		{"between points", path, t0 + 2*sec + 1, t0 + 5*sec + 1, 0, pts[3:6]},
		{"limit keeps the oldest", path, t0 + 2*sec, t0 + 9*sec, 3, pts[2:5]},
		{"limit above count", path, t0, t0 + 3*sec, 10, pts[:3]},
		{"empty range", path, t0 + 3*sec, t0 + 3*sec, 0, nil},
		{"inverted range", path, t0 + 5*sec, t0 + 3*sec, 0, nil},
		{"before all", path, 0, t0, 0, nil},
		{"unknown series", "m/nothing", 0, 1 << 62, 0, nil},
		{"prefix is not a series", "m", 0, 1 << 62, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Raw(t.Context(), orgA, tt.series, tt.from, tt.to, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			checkPoints(t, "Raw", got, tt.want)
		})
	}
}

func testAggregate(t *testing.T, open Opener) {
	s := newStore(t, open)
	const path = "m/mixed"
	// Buckets of 10 s from t0: [0,10) holds 1.0 and int 4; [10,20) true,
	// "x" and 2.5; [20,30) only "y"; [30,40) nothing; [40,50) 10.0.
	ingest(t, s, orgA, srcA, []store.Record{
		rec(1, pt(path, t0+17*sec, uns.Float(2.5)), pt(path, t0+1*sec, uns.Float(1))),
		rec(2, pt(path, t0+12*sec, uns.Bool(true)), pt(path, t0+25*sec, uns.String("y"))),
		rec(3, pt(path, t0+3*sec, uns.Int(4)), pt(path, t0+15*sec, uns.String("x")), pt(path, t0+41*sec, uns.Float(10))),
	})
	f, i := uns.Float, uns.Int
	b := func(start int64, v uns.Value, n int64) store.Bucket {
		return store.Bucket{Start: t0 + start*sec, Value: v, Count: n}
	}
	const all = 1 << 62
	tests := []struct {
		agg            store.Agg
		from, to, step int64
		want           []store.Bucket
	}{
		{store.Avg, 0, all, 10 * sec, []store.Bucket{b(0, f(2.5), 2), b(10, f(1.75), 2), b(40, f(10), 1)}},
		{store.Min, 0, all, 10 * sec, []store.Bucket{b(0, f(1), 2), b(10, f(1), 2), b(40, f(10), 1)}},
		{store.Max, 0, all, 10 * sec, []store.Bucket{b(0, f(4), 2), b(10, f(2.5), 2), b(40, f(10), 1)}},
		{store.Sum, 0, all, 10 * sec, []store.Bucket{b(0, f(5), 2), b(10, f(3.5), 2), b(40, f(10), 1)}},
		{store.Count, 0, all, 10 * sec, []store.Bucket{b(0, i(2), 2), b(10, i(3), 3), b(20, i(1), 1), b(40, i(1), 1)}},
		{store.First, 0, all, 10 * sec, []store.Bucket{b(0, f(1), 2), b(10, uns.Bool(true), 3), b(20, uns.String("y"), 1), b(40, f(10), 1)}},
		{store.Last, 0, all, 10 * sec, []store.Bucket{b(0, i(4), 2), b(10, f(2.5), 3), b(20, uns.String("y"), 1), b(40, f(10), 1)}},
		// Buckets stay aligned to multiples of step, not to from; the
		// range cuts the first and last bucket.
		{store.Count, t0 + 3*sec, t0 + 41*sec, 10 * sec, []store.Bucket{b(0, i(1), 1), b(10, i(3), 3), b(20, i(1), 1)}},
		{store.Sum, t0 + 2*sec, t0 + 15*sec, 10 * sec, []store.Bucket{b(0, f(4), 1), b(10, f(1), 1)}},
		// A step that does not divide 10 s.
		{store.Count, 0, all, 7 * sec, []store.Bucket{b(0, i(2), 2), b(7, i(1), 1), b(14, i(2), 2), b(21, i(1), 1), b(35, i(1), 1)}},
		// One bucket for everything.
		{store.Avg, 0, all, 70 * sec, []store.Bucket{b(0, f((1+4+1+2.5+10)/5.0), 5)}},
		{store.Count, t0, t0, 10 * sec, nil},
	}
	for _, tt := range tests {
		got, err := s.Aggregate(t.Context(), orgA, path, tt.from, tt.to, tt.step, tt.agg)
		if err != nil {
			t.Fatalf("Aggregate(%s, %d..%d by %d): %v", tt.agg, tt.from, tt.to, tt.step, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Aggregate(%s, %d..%d by %d):\n got %v\nwant %v", tt.agg, tt.from-t0, tt.to-t0, tt.step, got, tt.want)
		}
	}

	// Many points per bucket, as in 1 Hz data shown by the minute; a
	// backend may plan such queries differently from sparse ones.
	t.Run("Dense", func(t *testing.T) {
		const dense = "m/dense"
		// Point i at t0 + i/4 s: 40 per 10 s bucket. Every tenth is a
		// string, the rest Int(i).
		var pts []uns.Point
		for i := range 120 {
			v := uns.Int(int64(i))
			if i%10 == 0 {
				v = uns.String("s")
			}
			pts = append(pts, pt(dense, t0+int64(i)*sec/4, v))
		}
		ingest(t, s, orgA, store.Source{Edge: "edge-dense", Stream: "points"}, []store.Record{{Seq: 1, Points: pts}})
		// Bucket k holds 40k..40k+39; its numbers sum to 1440k+720.
		per := func(fn func(k int64) (uns.Value, int64)) []store.Bucket {
			var out []store.Bucket
			for k := range int64(3) {
				v, n := fn(k)
				out = append(out, b(10*k, v, n))
			}
			return out
		}
		tests := []struct {
			agg      store.Agg
			from, to int64
			want     []store.Bucket
		}{
			{store.Avg, 0, all, per(func(k int64) (uns.Value, int64) { return f(float64(40*k + 20)), 36 })},
			{store.Min, 0, all, per(func(k int64) (uns.Value, int64) { return f(float64(40*k + 1)), 36 })},
			{store.Max, 0, all, per(func(k int64) (uns.Value, int64) { return f(float64(40*k + 39)), 36 })},
			{store.Sum, 0, all, per(func(k int64) (uns.Value, int64) { return f(float64(1440*k + 720)), 36 })},
			{store.Count, 0, all, per(func(k int64) (uns.Value, int64) { return i(40), 40 })},
			{store.First, 0, all, per(func(k int64) (uns.Value, int64) { return uns.String("s"), 40 })},
			{store.Last, 0, all, per(func(k int64) (uns.Value, int64) { return i(40*k + 39), 40 })},
			{store.Count, t0 + 5*sec, t0 + 25*sec, []store.Bucket{b(0, i(20), 20), b(10, i(40), 40), b(20, i(20), 20)}},
			{store.First, t0 + 5*sec, t0 + 25*sec, []store.Bucket{b(0, uns.String("s"), 20), b(10, uns.String("s"), 40), b(20, uns.String("s"), 20)}},
			{store.Last, t0 + 5*sec, t0 + 25*sec, []store.Bucket{b(0, i(39), 20), b(10, i(79), 40), b(20, i(99), 20)}},
		}
		for _, tt := range tests {
			got, err := s.Aggregate(t.Context(), orgA, dense, tt.from, tt.to, 10*sec, tt.agg)
			if err != nil {
				t.Fatalf("Aggregate(%s): %v", tt.agg, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Aggregate(%s, %d..%d):\n got %v\nwant %v", tt.agg, tt.from-t0, tt.to-t0, got, tt.want)
			}
		}
	})

	// Points with the same timestamp all count. First is the one of the
	// bucket's first ts ingested first, Last the one of its last ts
	// ingested last, as in Raw. Sparse and dense data, as a backend may
	// plan them differently.
	t.Run("Ties", func(t *testing.T) {
		const ties = "m/ties"
		// Raw order: t0+1s: 1.0, 2.0, 6.0; t0+5s: "a", 4.
		ingest(t, s, orgA, store.Source{Edge: "edge-ties", Stream: "points"}, []store.Record{
			rec(1, pt(ties, t0+1*sec, f(1)), pt(ties, t0+1*sec, f(2))),
			rec(2, pt(ties, t0+5*sec, uns.String("a")), pt(ties, t0+1*sec, f(6)), pt(ties, t0+5*sec, i(4))),
		})
		// Points i/4 s after t0+20s, i in 0..39: each ts twice, Int(i)
		// and then, in a later record, Int(100+i). One bucket of 80.
		var first, second []uns.Point
		for n := range int64(40) {
			first = append(first, pt(ties, t0+20*sec+n*sec/4, i(n)))
			second = append(second, pt(ties, t0+20*sec+n*sec/4, i(100+n)))
		}
		ingest(t, s, orgA, store.Source{Edge: "edge-ties", Stream: "dense"}, []store.Record{{Seq: 1, Points: first}, {Seq: 2, Points: second}})
		tests := []struct {
			agg      store.Agg
			from, to int64
			want     []store.Bucket
		}{
			{store.Count, 0, all, []store.Bucket{b(0, i(5), 5), b(20, i(80), 80)}},
			{store.Avg, 0, all, []store.Bucket{b(0, f(3.25), 4), b(20, f(69.5), 80)}},
			{store.Min, 0, all, []store.Bucket{b(0, f(1), 4), b(20, f(0), 80)}},
			{store.Max, 0, all, []store.Bucket{b(0, f(6), 4), b(20, f(139), 80)}},
			{store.Sum, 0, all, []store.Bucket{b(0, f(13), 4), b(20, f(5560), 80)}},
			{store.First, 0, all, []store.Bucket{b(0, f(1), 5), b(20, i(0), 80)}},
			{store.Last, 0, all, []store.Bucket{b(0, i(4), 5), b(20, i(139), 80)}},
			{store.First, 0, t0 + 10*sec, []store.Bucket{b(0, f(1), 5)}},
			{store.Last, 0, t0 + 10*sec, []store.Bucket{b(0, i(4), 5)}},
			{store.First, t0 + 20*sec, all, []store.Bucket{b(20, i(0), 80)}},
			{store.Last, t0 + 20*sec, all, []store.Bucket{b(20, i(139), 80)}},
		}
		for _, tt := range tests {
			got, err := s.Aggregate(t.Context(), orgA, ties, tt.from, tt.to, 10*sec, tt.agg)
			if err != nil {
				t.Fatalf("Aggregate(%s): %v", tt.agg, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Aggregate(%s, %d..%d):\n got %v\nwant %v", tt.agg, tt.from-t0, tt.to-t0, got, tt.want)
			}
		}
	})

	// Sums of integers beyond int64 are floats, not an overflow error.
	t.Run("SumBeyondInt64", func(t *testing.T) {
		const big = "m/big"
		ingest(t, s, orgA, store.Source{Edge: "edge-big", Stream: "points"}, []store.Record{rec(1,
			pt(big, t0, uns.Int(math.MaxInt64)), pt(big, t0+sec, uns.Int(math.MaxInt64)))})
		got, err := s.Aggregate(t.Context(), orgA, big, 0, all, 10*sec, store.Sum)
		want := []store.Bucket{b(0, f(2*float64(math.MaxInt64)), 2)}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Aggregate(sum) = %v, %v; want %v", got, err, want)
		}
	})

	t.Run("UnknownSeries", func(t *testing.T) {
		got, err := s.Aggregate(t.Context(), orgA, "m/nothing", 0, all, sec, store.Count)
		if err != nil || len(got) != 0 {
			t.Errorf("Aggregate of an unknown series = %v, %v; want nothing", got, err)
		}
	})

	t.Run("BadArguments", func(t *testing.T) {
		for _, tt := range []struct {
			step int64
			agg  store.Agg
		}{{0, store.Avg}, {-sec, store.Avg}, {sec, "median"}, {sec, ""}} {
			if got, err := s.Aggregate(t.Context(), orgA, path, 0, all, tt.step, tt.agg); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Aggregate(step %d, %q) = %v, %v; want an error wrapping store.ErrInvalid", tt.step, tt.agg, got, err)
			}
		}
	})
}

// testIsolation stores the same paths in two organisations and checks that
// every query sees only its own organisation's data.
func testIsolation(t *testing.T, open Opener) {
	s := newStore(t, open)
	const shared = "site/line/m1/temp"
	ingest(t, s, orgA, srcA, []store.Record{rec(1,
		pt(shared, t0, uns.Float(1)), pt(shared, t0+sec, uns.Float(2)),
		pt("site/line/m1/a-only", t0, uns.Float(3)),
	)})
	ingest(t, s, orgB, srcB, []store.Record{rec(1,
		pt(shared, t0+2*sec, uns.String("b")),
		pt("site/line/m1/b-only", t0, uns.Float(4)),
	)})
	const all = 1 << 62

	for _, tt := range []struct {
		org        string
		wantSeries []string
		wantLatest []uns.Point
		wantRaw    []uns.Point
		wantCount  []store.Bucket
	}{
		{orgA, []string{"site/line/m1/a-only", shared},
			[]uns.Point{pt("site/line/m1/a-only", t0, uns.Float(3)), pt(shared, t0+sec, uns.Float(2))},
			[]uns.Point{pt(shared, t0, uns.Float(1)), pt(shared, t0+sec, uns.Float(2))},
			[]store.Bucket{{Start: t0, Value: uns.Int(2), Count: 2}}},
		{orgB, []string{"site/line/m1/b-only", shared},
			[]uns.Point{pt("site/line/m1/b-only", t0, uns.Float(4)), pt(shared, t0+2*sec, uns.String("b"))},
			[]uns.Point{pt(shared, t0+2*sec, uns.String("b"))},
			[]store.Bucket{{Start: t0, Value: uns.Int(1), Count: 1}}},
		{"org-c", nil, nil, nil, nil},
		{"", nil, nil, nil, nil},
	} {
		t.Run("org="+tt.org, func(t *testing.T) {
			for _, prefix := range []string{"", "site", "site/line/m1", shared} {
				series, err := s.Series(t.Context(), tt.org, prefix, 0)
				if err != nil {
					t.Fatal(err)
				}
				var paths []string
				for _, si := range series {
					if uns.HasPrefix(si.Path, prefix) {
						paths = append(paths, si.Path)
					}
				}
				if len(paths) != len(series) {
					t.Errorf("Series(%q) returned paths outside the prefix: %+v", prefix, series)
				}
				want := slices.DeleteFunc(slices.Clone(tt.wantSeries), func(p string) bool { return !uns.HasPrefix(p, prefix) })
				if !slices.Equal(paths, want) {
					t.Errorf("Series(%q) = %q, want %q", prefix, paths, want)
				}
				latest, err := s.Latest(t.Context(), tt.org, prefix, 0)
				if err != nil {
					t.Fatal(err)
				}
				wantLatest := slices.DeleteFunc(slices.Clone(tt.wantLatest), func(p uns.Point) bool { return !uns.HasPrefix(p.Series, prefix) })
				checkPoints(t, "Latest("+prefix+")", latest, wantLatest)
			}
			checkPoints(t, "Raw", raw(t, s, tt.org, shared), tt.wantRaw)
			got, err := s.Aggregate(t.Context(), tt.org, shared, 0, all, 10*sec, store.Count)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.wantCount) {
				t.Errorf("Aggregate count = %v, want %v", got, tt.wantCount)
			}
			for _, other := range []string{"site/line/m1/a-only", "site/line/m1/b-only"} {
				if slices.Contains(tt.wantSeries, other) {
					continue
				}
				if got := raw(t, s, tt.org, other); len(got) != 0 {
					t.Errorf("Raw(%s) of another organisation's series = %s", other, fmtPoints(got))
				}
				if got, err := s.Aggregate(t.Context(), tt.org, other, 0, all, 10*sec, store.Count); err != nil || len(got) != 0 {
					t.Errorf("Aggregate(%s) of another organisation's series = %v, %v", other, got, err)
				}
			}
		})
	}
}
