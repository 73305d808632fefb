package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Opener opens the backend under test on dir. Given a fresh directory it
// returns an empty store; given a directory again after the store opened
// on it was closed, it returns a store with that store's data. A backend
// that keeps no files of its own (a server database) derives a database or
// schema name from dir. The suite closes every store it opens; the Opener
// fails t if it cannot open.
type Opener func(t *testing.T, dir string) store.Store

// Run runs the conformance suite against the backend that open opens. Each
// subtest opens its own empty store.
func Run(t *testing.T, open Opener) {
	t.Run("Ingest", func(t *testing.T) { testIngest(t, open) })
	t.Run("Values", func(t *testing.T) { testValues(t, open) })
	t.Run("Series", func(t *testing.T) { testSeries(t, open) })
	t.Run("Latest", func(t *testing.T) { testLatest(t, open) })
	t.Run("Raw", func(t *testing.T) { testRaw(t, open) })
	t.Run("Aggregate", func(t *testing.T) { testAggregate(t, open) })
	t.Run("RollupsAgree", func(t *testing.T) { testRollupsAgree(t, open) })
	t.Run("OrgIsolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("SetEventAttrs", func(t *testing.T) { testSetEventAttrs(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("SeriesAdmin", func(t *testing.T) { testSeriesAdmin(t, open) })
}

// newStore opens an empty store that is closed when t ends.
func newStore(t *testing.T, open Opener) store.Store {
	t.Helper()
	s := open(t, t.TempDir())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// t0 is a multiple of 70 s, so buckets of 7 s and 10 s both start at it.
const (
	t0  = int64(1_699_999_980) * int64(time.Second)
	sec = int64(time.Second)
)

func pt(series string, ts int64, v uns.Value) uns.Point {
	return uns.Point{Series: series, TS: ts, Value: v}
}

func rec(seq uint64, pts ...uns.Point) store.Record {
	return store.Record{Seq: seq, Points: pts}
}

// recs makes records seq from..to (inclusive) of one point each on series,
// the point of seq n at t0 + n s with value n.
func recs(series string, from, to uint64) []store.Record {
	var out []store.Record
	for n := from; n <= to; n++ {
		out = append(out, rec(n, pt(series, t0+int64(n)*sec, uns.Float(float64(n)))))
	}
	return out
}

func ingest(t *testing.T, s store.Points, org string, src store.Source, rs []store.Record) int {
	t.Helper()
	n, err := s.Ingest(t.Context(), org, src, rs)
	if err != nil {
		t.Fatalf("Ingest(%s, %v, %d records): %v", org, src, len(rs), err)
	}
	return n
}

func raw(t *testing.T, s store.Points, org, series string) []uns.Point {
	t.Helper()
	got, err := s.Raw(t.Context(), org, series, 0, 1<<62, 0)
	if err != nil {
		t.Fatalf("Raw(%s, %s): %v", org, series, err)
	}
	return got
}

func watermark(t *testing.T, s store.Points, src store.Source) uint64 {
	t.Helper()
	wm, err := s.Watermark(t.Context(), src)
	if err != nil {
		t.Fatalf("Watermark(%v): %v", src, err)
	}
	return wm
}

func fmtPoints(ps []uns.Point) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s@%d=%s(%s,%s)", p.Series, p.TS, p.Value, p.Value.Kind(), p.Quality)
	}
	b.WriteString("]")
	return b.String()
}

func equalPoints(a, b []uns.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkPoints(t *testing.T, what string, got, want []uns.Point) {
	t.Helper()
	if !equalPoints(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtPoints(got), fmtPoints(want))
	}
}
