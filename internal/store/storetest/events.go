package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// ev makes an event; attrs are key, value pairs.
func ev(asset, kind string, start, end int64, attrs ...string) uns.Event {
	e := uns.Event{Asset: asset, Kind: kind, Start: start, End: end}
	if len(attrs) > 0 {
		e.Attrs = make(map[string]string, len(attrs)/2)
		for i := 0; i+1 < len(attrs); i += 2 {
			e.Attrs[attrs[i]] = attrs[i+1]
		}
	}
	return e
}

// evRec makes a record of events (and points).
func evRec(seq uint64, pts []uns.Point, evs ...uns.Event) store.Record {
	return store.Record{Seq: seq, Points: pts, Events: evs}
}

// all is a query for every event of an org.
var all = store.EventQuery{From: 0, To: math.MaxInt64}

func events(t *testing.T, s store.Events, org string, q store.EventQuery) []uns.Event {
	t.Helper()
	got, err := s.Events(t.Context(), org, q)
	if err != nil {
		t.Fatalf("Events(%s, %+v): %v", org, q, err)
	}
	return got
}

func fmtEvents(es []uns.Event) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s [%d, %d] %v", e.Asset, e.Kind, e.Start, e.End, e.Attrs)
	}
	b.WriteString("]")
	return b.String()
}

// equalEvents compares events; nil and empty attributes are equal.
func equalEvents(a, b []uns.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Asset != y.Asset || x.Kind != y.Kind || x.Start != y.Start || x.End != y.End || !maps.Equal(x.Attrs, y.Attrs) {
			return false
		}
	}
	return true
}

func checkEvents(t *testing.T, what string, got, want []uns.Event) {
	t.Helper()
	if !equalEvents(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtEvents(got), fmtEvents(want))
	}
}

func testEvents(t *testing.T, open Opener) {
	t.Run("StoredWithPoints", func(t *testing.T) {
		s := newStore(t, open)
		p := pt("m/press/temp", t0, uns.Float(1))
		e := ev("m/press", "downtime", t0, t0+60*sec, "reason", `jam "feeder" ü`, "operator", "")
		if got := ingest(t, s, orgA, srcA, []store.Record{evRec(1, []uns.Point{p}, e)}); got != 1 {
			t.Errorf("stored %d records, want 1", got)
		}
		checkPoints(t, "Raw", raw(t, s, orgA, "m/press/temp"), []uns.Point{p})
		checkEvents(t, "Events", events(t, s, orgA, all), []uns.Event{e})
		// A record of events alone is stored and advances the watermark.
		e2 := ev("m/press", "state", t0, 0, "state", "running")
		ingest(t, s, orgA, srcA, []store.Record{evRec(2, nil, e2)})
		if got := watermark(t, s, srcA); got != 2 {
			t.Errorf("watermark = %d, want 2", got)
		}
		checkEvents(t, "Events after a record of events alone", events(t, s, orgA, all), []uns.Event{e, e2})
	})

	// The watermark decides for events as for points: a record at or below
	// it is skipped whole, so a redelivered version of an event changes
	// nothing, even where it differs from what was stored.
	t.Run("SkippedAtOrBelowWatermark", func(t *testing.T) {
		s := newStore(t, open)
		open1 := ev("m/press", "downtime", t0, 0, "reason", "jam")
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, []uns.Point{pt("m/press/temp", t0, uns.Float(1))}, open1)})
		closed := ev("m/press", "downtime", t0, t0+sec, "reason", "changed")
		other := ev("m/drill", "alarm", t0, 0)
		if got := ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, closed, other)}); got != 0 {
			t.Errorf("redelivery stored %d records, want 0", got)
		}
		checkEvents(t, "Events after redelivery", events(t, s, orgA, all), []uns.Event{open1})
		// Old and new records in one call: only the new one counts.
		fresh := ev("m/drill", "state", t0+2*sec, 0)
		if got := ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, closed), evRec(2, nil, fresh)}); got != 1 {
			t.Errorf("stored %d records, want 1", got)
		}
		checkEvents(t, "Events after old and new", events(t, s, orgA, all), []uns.Event{fresh, open1})
	})

	t.Run("OpenThenClosed", func(t *testing.T) {
		opened := ev("m/press", "downtime", t0, 0, "reason", "unknown")
		closed := ev("m/press", "downtime", t0, t0+90*sec, "reason", "jam", "by", "operator")
		tests := []struct {
			name  string
			calls [][]store.Record
		}{
			{"two calls", [][]store.Record{{evRec(1, nil, opened)}, {evRec(2, nil, closed)}}},
			{"two records of one call", [][]store.Record{{evRec(1, nil, opened), evRec(2, nil, closed)}}},
			{"one record", [][]store.Record{{evRec(1, nil, opened, closed)}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, open)
				for _, c := range tt.calls {
					ingest(t, s, orgA, srcA, c)
				}
				checkEvents(t, "Events", events(t, s, orgA, all), []uns.Event{closed})
			})
		}
		// The latest version wins, whatever it says: an event can also be
		// reopened or lose attributes.
		t.Run("latest version wins", func(t *testing.T) {
			s := newStore(t, open)
			reopened := ev("m/press", "downtime", t0, 0)
			ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, closed), evRec(2, nil, reopened)})
			checkEvents(t, "Events", events(t, s, orgA, all), []uns.Event{reopened})
		})
	})

	// Identity is org, asset, kind, start and the key attributes
	// (uns.EventKeyAttrs): an asset has an alarm per series and limit.
	t.Run("Identity", func(t *testing.T) {
		s := newStore(t, open)
		hiTemp := ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "high", "value", "81")
		hiPres := ev("m/press", "alarm", t0, 0, "series", "m/press/pressure", "limit", "high")
		loTemp := ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "low")
		noKey := ev("m/press", "alarm", t0, 0)
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, hiTemp, hiPres, loTemp, noKey)})
		// Another value attribute is the same event: replaced.
		hiTempClosed := ev("m/press", "alarm", t0, t0+sec, "series", "m/press/temp", "limit", "high", "value", "79")
		// Another kind, asset or start is another event.
		others := []uns.Event{
			ev("m/press", "anomaly", t0, 0, "series", "m/press/temp", "limit", "high"),
			ev("m/press/head", "alarm", t0, 0, "series", "m/press/temp", "limit", "high"),
			ev("m/press", "alarm", t0+1, 0, "series", "m/press/temp", "limit", "high"),
		}
		ingest(t, s, orgA, srcA, []store.Record{evRec(2, nil, append([]uns.Event{hiTempClosed}, others...)...)})
		got := events(t, s, orgA, all)
		want := []uns.Event{others[2], noKey, hiPres, hiTempClosed, loTemp, others[0], others[1]}
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d:\n got %s\nwant %s", len(got), len(want), fmtEvents(got), fmtEvents(want))
		}
		// Events with equal start, asset and kind have no documented order.
		for _, w := range want {
			if !containsEvent(got, w) {
				t.Errorf("missing %s in %s", fmtEvents([]uns.Event{w}), fmtEvents(got))
			}
		}
		// A trailing '/' of the asset names the same asset.
		s2 := newStore(t, open)
		ingest(t, s2, orgA, srcA, []store.Record{evRec(1, nil, ev("m/press/", "state", t0, 0))})
		ingest(t, s2, orgA, srcA, []store.Record{evRec(2, nil, ev("m/press", "state", t0, t0+sec))})
		checkEvents(t, "Events after m/press/ then m/press", events(t, s2, orgA, all), []uns.Event{ev("m/press", "state", t0, t0+sec)})
	})

	t.Run("Prefix", func(t *testing.T) {
		s := newStore(t, open)
		// m1-b, m1.v2 and m10 sort between m1 and m1/… or just after.
		assets := []string{"site/line/m1", "site/line/m1/spindle", "site/line/m1-b", "site/line/m1.v2", "site/line/m10", "site/line/m1x", "site/line2/m1", "w/a_c", "w/abc", "w/a-c"}
		var recs []store.Record
		for i, a := range assets {
			// Later assets start earlier, so the order is the list's.
			recs = append(recs, evRec(uint64(i+1), nil, ev(a, "state", t0-int64(i)*sec, 0)))
		}
		ingest(t, s, orgA, srcA, recs)
		tests := []struct {
			prefix string
			want   []string
		}{
			{"", assets},
			{"site", assets[:7]},
			{"site/line", assets[:6]},
			{"site/line/m1", assets[:2]},
			{"site/line/m1/", assets[:2]},
			{"site/line/m1/spindle", assets[1:2]},
			{"site/line/m1-b", assets[2:3]},
			{"site/line/m", nil},
			{"site/lin", nil},
			{"w/a_c", assets[7:8]},
			{"w/a_", nil},
			{"w/a%", nil},
			{"w/%", nil},
			{"w/*", nil},
			{"w/?bc", nil},
			{"nowhere", nil},
		}
		for _, tt := range tests {
			got := events(t, s, orgA, store.EventQuery{AssetPrefix: tt.prefix, To: math.MaxInt64})
			var gotAssets []string
			for _, e := range got {
				gotAssets = append(gotAssets, e.Asset)
			}
			if !slices.Equal(gotAssets, tt.want) {
				t.Errorf("prefix %q: got %q, want %q", tt.prefix, gotAssets, tt.want)
			}
		}
	})

	t.Run("Kind", func(t *testing.T) {
		s := newStore(t, open)
		state := ev("m/press", "state", t0+2*sec, 0, "state", "running")
		down := ev("m/press", "downtime", t0+sec, t0+2*sec)
		alarm := ev("m/press", "alarm", t0, 0, "series", "m/press/temp")
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, state, down, alarm)})
		for kind, want := range map[string][]uns.Event{
			"":         {state, down, alarm},
			"state":    {state},
			"downtime": {down},
			"alarm":    {alarm},
			"anomaly":  nil,
			"down%":    nil,
			"_tate":    nil,
		} {
			checkEvents(t, "kind "+kind, events(t, s, orgA, store.EventQuery{Kind: kind, To: math.MaxInt64}), want)
		}
	})

	// An event covers [Start, End); an open one has not ended, and an
	// instant one (End == Start) covers its start. A query finds the events
	// that cover any of [From, To).
	t.Run("Overlap", func(t *testing.T) {
		s := newStore(t, open)
		closed := ev("m/a", "downtime", t0+10, t0+20)
		opened := ev("m/b", "downtime", t0+15, 0)
		instant := ev("m/c", "alarm", t0+30, t0+30)
		later := ev("m/d", "downtime", t0+40, t0+50)
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, closed, opened, instant, later)})
		tests := []struct {
			from, to int64
			want     []uns.Event
		}{
			{0, t0 + 10, nil},
			{0, t0 + 11, []uns.Event{closed}},
			{0, t0 + 15, []uns.Event{closed}},
			{0, t0 + 16, []uns.Event{opened, closed}},
			{t0 + 19, t0 + 20, []uns.Event{opened, closed}},
			{t0 + 20, t0 + 25, []uns.Event{opened}},
			{t0 + 29, t0 + 30, []uns.Event{opened}},
			{t0 + 30, t0 + 31, []uns.Event{instant, opened}},
			{t0 + 31, t0 + 40, []uns.Event{opened}},
			{t0 + 49, t0 + 1000, []uns.Event{later, opened}},
			{t0 + 50, math.MaxInt64, []uns.Event{opened}},
			{0, math.MaxInt64, []uns.Event{later, instant, opened, closed}},
			{t0 + 12, t0 + 12, nil},
			{t0 + 40, t0 + 10, nil},
		}
		for _, tt := range tests {
			got := events(t, s, orgA, store.EventQuery{From: tt.from, To: tt.to})
			checkEvents(t, fmt.Sprintf("[t0%+d, t0%+d)", tt.from-t0, tt.to-t0), got, tt.want)
		}
	})

	t.Run("OrderAndLimit", func(t *testing.T) {
		s := newStore(t, open)
		// Ingested out of order; the query orders by start (newest first),
		// then asset, then kind.
		want := []uns.Event{
			ev("m/b", "state", t0+3*sec, 0),
			ev("m/a", "state", t0+2*sec, 0),
			ev("m/b", "alarm", t0+2*sec, 0),
			ev("m/b", "state", t0+2*sec, 0),
			ev("m/a", "downtime", t0+sec, t0+2*sec),
			ev("m/a", "state", t0, t0+2*sec),
		}
		order := []int{3, 5, 0, 2, 4, 1}
		var evs []uns.Event
		for _, i := range order {
			evs = append(evs, want[i])
		}
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, evs[:3]...), evRec(2, nil, evs[3:]...)})
		checkEvents(t, "Events", events(t, s, orgA, all), want)
		for _, tt := range []struct {
			limit int
			want  []uns.Event
		}{{1, want[:1]}, {3, want[:3]}, {6, want}, {100, want}, {0, want}, {-1, want}} {
			q := all
			q.Limit = tt.limit
			checkEvents(t, fmt.Sprintf("limit %d", tt.limit), events(t, s, orgA, q), tt.want)
		}
		// The limit applies after the filters.
		checkEvents(t, "kind state, limit 2", events(t, s, orgA, store.EventQuery{Kind: "state", To: math.MaxInt64, Limit: 2}), []uns.Event{want[0], want[1]})
	})

	t.Run("OrgIsolation", func(t *testing.T) {
		s := newStore(t, open)
		a := ev("site/m1", "downtime", t0, 0, "reason", "a")
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, a)})
		if got := events(t, s, orgB, all); len(got) != 0 {
			t.Errorf("org B sees %s of org A", fmtEvents(got))
		}
		for _, q := range []store.EventQuery{
			{AssetPrefix: "site", To: math.MaxInt64},
			{AssetPrefix: "site/m1", Kind: "downtime", From: t0, To: t0 + 1},
		} {
			if got := events(t, s, orgB, q); len(got) != 0 {
				t.Errorf("org B, %+v: sees %s of org A", q, fmtEvents(got))
			}
		}
		// The same identity in org B is B's own event: it does not close
		// A's, and A's does not show in B.
		b := ev("site/m1", "downtime", t0, t0+sec, "reason", "b")
		ingest(t, s, orgB, srcB, []store.Record{evRec(1, nil, b)})
		checkEvents(t, "org A", events(t, s, orgA, all), []uns.Event{a})
		checkEvents(t, "org B", events(t, s, orgB, all), []uns.Event{b})
		if got := events(t, s, "", all); len(got) != 0 {
			t.Errorf("empty org sees %s", fmtEvents(got))
		}
	})

	// A bad event refuses the whole call: none of its points or events is
	// stored and the watermark stays.
	t.Run("RejectsBadEventsWhole", func(t *testing.T) {
		good := evRec(1, []uns.Point{pt("m/temp", t0, uns.Float(1))}, ev("m", "state", t0, 0))
		manyAttrs := ev("m", "state", t0, 0)
		manyAttrs.Attrs = map[string]string{}
		for i := range uns.MaxEventAttrs + 1 {
			manyAttrs.Attrs[fmt.Sprintf("k%d", i)] = "v"
		}
		tests := []struct {
			name string
			e    uns.Event
		}{
			{"empty asset", ev("", "state", t0, 0)},
			{"invalid asset", ev("m/pre ss", "state", t0, 0)},
			{"wildcard asset", ev("m/#", "state", t0, 0)},
			{"empty kind", ev("m", "", t0, 0)},
			{"upper-case kind", ev("m", "State", t0, 0)},
			{"wildcard kind", ev("m", "st%", t0, 0)},
			{"long kind", ev("m", strings.Repeat("k", uns.MaxEventKind+1), t0, 0)},
			{"negative start", ev("m", "state", -1, 0)},
			{"end before start", ev("m", "state", t0, t0-1)},
			{"too many attributes", manyAttrs},
			{"empty attribute key", ev("m", "state", t0, 0, "", "v")},
			{"long attribute value", ev("m", "state", t0, 0, "reason", strings.Repeat("v", uns.MaxAttrLen+1))},
			{"attribute with NUL", ev("m", "state", t0, 0, "reason", "a\x00b")},
			{"attribute not UTF-8", ev("m", "state", t0, 0, "reason", "\xff")},
			{"attribute key not UTF-8", ev("m", "state", t0, 0, "\xfe", "v")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, open)
				n, err := s.Ingest(t.Context(), orgA, srcA, []store.Record{good, evRec(2, nil, ev("m", "alarm", t0, 0), tt.e)})
				if !errors.Is(err, store.ErrInvalid) {
					t.Errorf("Ingest = %d, %v; want an error wrapping store.ErrInvalid", n, err)
				}
				if n != 0 {
					t.Errorf("Ingest failed but reported %d stored", n)
				}
				if got := watermark(t, s, srcA); got != 0 {
					t.Errorf("watermark = %d after a rejected call, want 0", got)
				}
				if got := raw(t, s, orgA, "m/temp"); len(got) != 0 {
					t.Errorf("a rejected call stored %s", fmtPoints(got))
				}
				if got := events(t, s, orgA, all); len(got) != 0 {
					t.Errorf("a rejected call stored %s", fmtEvents(got))
				}
			})
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		opened := ev("m/press", "downtime", t0, 0, "reason", "jam")
		alarm := ev("m/press", "alarm", t0+sec, t0+2*sec, "series", "m/press/temp", "limit", "high")
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, opened, alarm)})
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s = open(t, dir)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		checkEvents(t, "Events after reopen", events(t, s, orgA, all), []uns.Event{alarm, opened})
		// Redelivery after reopen stores nothing; the identity survives,
		// so closing the open event replaces it.
		ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, ev("m/other", "state", t0, 0))})
		closed := ev("m/press", "downtime", t0, t0+3*sec, "reason", "jam")
		ingest(t, s, orgA, srcA, []store.Record{evRec(2, nil, closed)})
		checkEvents(t, "Events after closing after reopen", events(t, s, orgA, all), []uns.Event{alarm, closed})
	})
}

func containsEvent(es []uns.Event, e uns.Event) bool {
	return slices.ContainsFunc(es, func(x uns.Event) bool { return equalEvents([]uns.Event{x}, []uns.Event{e}) })
}

// testSetEventAttrs: a person's reason is stored on the event, in its
// organisation only, and survives later versions of the event from the
// edge; key attributes cannot be set.
func testSetEventAttrs(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	opened := ev("m/press", "downtime", t0, 0, "reason", "down", "state", "down")
	alarm1 := ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "hi")
	alarm2 := ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "hihi")
	ingest(t, s, orgA, srcA, []store.Record{evRec(1, nil, opened, alarm1, alarm2)})
	ingest(t, s, orgB, srcB, []store.Record{evRec(1, nil, opened)})

	set := map[string]string{"reason": "changeover", "reason_by": "usr_1", "reason_comment": "new mould"}
	got, err := s.SetEventAttrs(ctx, orgA, "m/press/", "downtime", t0, set)
	if err != nil {
		t.Fatal(err)
	}
	assigned := ev("m/press", "downtime", t0, 0, "reason", "changeover", "state", "down", "reason_by", "usr_1", "reason_comment", "new mould")
	checkEvents(t, "SetEventAttrs", got, []uns.Event{assigned})
	checkEvents(t, "Events after SetEventAttrs", events(t, s, orgA, store.EventQuery{Kind: "downtime", To: math.MaxInt64}), []uns.Event{assigned})
	checkEvents(t, "the other organisation's event", events(t, s, orgB, all), []uns.Event{opened})

	// The edge closes the event: its end and attributes arrive, the
	// person's reason stays.
	closed := ev("m/press", "downtime", t0, t0+60*sec, "reason", "down", "state", "down", "duration_s", "60")
	ingest(t, s, orgA, srcA, []store.Record{evRec(2, nil, closed)})
	want := ev("m/press", "downtime", t0, t0+60*sec, "reason", "changeover", "state", "down", "duration_s", "60",
		"reason_by", "usr_1", "reason_comment", "new mould")
	checkEvents(t, "after the edge closed it", events(t, s, orgA, store.EventQuery{Kind: "downtime", To: math.MaxInt64}), []uns.Event{want})

	// An empty value removes an attribute; every event of that start and
	// kind is set, whatever its key attributes.
	got, err = s.SetEventAttrs(ctx, orgA, "m/press", "alarm", t0, map[string]string{"acked": "1", "limit_text": ""})
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "alarms", got, []uns.Event{
		ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "hi", "acked", "1"),
		ev("m/press", "alarm", t0, 0, "series", "m/press/temp", "limit", "hihi", "acked", "1"),
	})
	if got, err := s.SetEventAttrs(ctx, orgA, "m/press", "downtime", t0+1, set); err != nil || len(got) != 0 {
		t.Errorf("no such event: %v, %v; want none", fmtEvents(got), err)
	}
	if got, err := s.SetEventAttrs(ctx, orgB, "m/drill", "downtime", t0, set); err != nil || len(got) != 0 {
		t.Errorf("another asset: %v, %v; want none", fmtEvents(got), err)
	}
	if _, err := s.SetEventAttrs(ctx, orgA, "m/press", "alarm", t0, map[string]string{"limit": "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("setting a key attribute: %v, want ErrInvalid", err)
	}
}
