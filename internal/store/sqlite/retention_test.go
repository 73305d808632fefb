package sqlite

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// TestExpireKeepsRollups expires raw points, then minute and hour rollups,
// of a series compacted into several blocks, and checks that aggregates
// at 1-minute and 1-hour steps over the expired raw range are still
// answered from the rollups, unchanged, until those expire in turn.
func TestExpireKeepsRollups(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "hub.db"))
	defer s.Close()
	const org, path = "org", "m/temp"
	start := int64(1_699_999_200) * int64(time.Second) // a whole hour
	sec := int64(time.Second)
	// Three hours at 1 Hz in four calls, each compacted into blocks of its
	// own. (The conformance suite expires points still in the head.)
	for call := range int64(4) {
		var pts []uns.Point
		for i := call * 2700; i < (call+1)*2700; i++ {
			pts = append(pts, uns.Point{Series: path, TS: start + i*sec, Value: uns.Float(float64(i%600) / 10)})
		}
		if _, err := s.Ingest(ctx, org, store.Source{Edge: "e"}, []store.Record{{Seq: uint64(call + 1), Points: pts}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	end := start + 3*int64(time.Hour)
	agg := func(step int64, a store.Agg) []store.Bucket {
		t.Helper()
		b, err := s.Aggregate(ctx, org, path, start, end, step, a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	from := func(bs []store.Bucket, ts int64) []store.Bucket {
		return slices.DeleteFunc(slices.Clone(bs), func(b store.Bucket) bool { return b.Start < ts })
	}
	checkBuckets := func(what string, got, want []store.Bucket) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d buckets from %v, want %d from %v", what, len(got), got[:min(len(got), 1)], len(want), want[:min(len(want), 1)])
		}
	}
	minAvg, minCount, hourSum, tenCount := agg(int64(time.Minute), store.Avg), agg(int64(time.Minute), store.Count), agg(int64(time.Hour), store.Sum), agg(10*sec, store.Count)
	if len(minAvg) != 180 || len(hourSum) != 3 {
		t.Fatalf("before Expire: %d minute and %d hour buckets, want 180 and 3", len(minAvg), len(hourSum))
	}

	// Raw points before 1:30:17 go; the rollups stay.
	now := time.Unix(0, end+int64(time.Hour))
	rawCut := start + int64(90*time.Minute) + 17*sec
	st, err := s.Expire(ctx, org, store.Retention{Raw: time.Duration(end + int64(time.Hour) - rawCut)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (rawCut - start) / sec; st.Points != want || st.Minutes != 0 || st.Hours != 0 {
		t.Errorf("Expire removed %+v, want %d points and no rollups", st, want)
	}
	pts, err := s.Raw(ctx, org, path, 0, end, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) == 0 || pts[0].TS != rawCut || int64(len(pts)) != (end-rawCut)/sec {
		t.Errorf("Raw after Expire: %d points from %v, want %d from %d", len(pts), pts[:min(len(pts), 1)], (end-rawCut)/sec, rawCut)
	}
	checkBuckets("1-minute avg after raw expiry", agg(int64(time.Minute), store.Avg), minAvg)
	checkBuckets("1-minute count after raw expiry", agg(int64(time.Minute), store.Count), minCount)
	checkBuckets("1-hour sum after raw expiry", agg(int64(time.Hour), store.Sum), hourSum)
	// Steps no rollup serves read points: only those left.
	ten := agg(10*sec, store.Count)
	checkBuckets("10-second count after raw expiry", ten[1:], from(tenCount, rawCut+10*sec-rawCut%(10*sec)))
	if ten[0].Start != rawCut-rawCut%(10*sec) || ten[0].Count != 3 { // 1:30:17, :18, :19
		t.Errorf("first 10-second bucket after raw expiry = %+v, want the 3 points left of it", ten[0])
	}

	// Cutoffs at 1:00:30 (minutes) and 1:30 (hours): the buckets that end
	// by then go, those holding them (1:00 and hour 1) stay.
	minCut, hourCut := start+int64(time.Hour)+30*sec, start+int64(90*time.Minute)
	r := store.Retention{Raw: now.Sub(time.Unix(0, rawCut)), Minute: now.Sub(time.Unix(0, minCut)), Hour: now.Sub(time.Unix(0, hourCut))}
	if st, err = s.Expire(ctx, org, r, now); err != nil {
		t.Fatal(err)
	}
	// Each compaction stored its part of hour 0 (calls end at 0:45 and
	// 1:30), so it is 2 pieces; minutes are not split.
	if st.Points != 0 || st.Minutes != 60 || st.Hours != 2 {
		t.Errorf("Expire of rollups removed %+v, want 60 minute buckets and 2 pieces of 1 hour bucket", st)
	}
	checkBuckets("1-minute avg after minute expiry", agg(int64(time.Minute), store.Avg), from(minAvg, minCut-minCut%int64(time.Minute)))
	checkBuckets("1-hour sum after hour expiry", agg(int64(time.Hour), store.Sum), from(hourSum, hourCut-hourCut%int64(time.Hour)))

	// The series is still listed, First at the oldest point left.
	series, err := s.Series(ctx, org, "", 0)
	if err != nil || len(series) != 1 || series[0].First != rawCut || series[0].Last != end-sec {
		t.Errorf("Series after Expire = %+v, %v; want First %d, Last %d", series, err, rawCut, end-sec)
	}
}

// TestMigrateMinuteFirsts opens a database as a molen before schema
// version 6 left it: minute rollups with first values, and the oldest
// points (to the middle of a minute) removed by retention. First and last
// by the minute must still be what they were, from the minute firsts the
// migration keeps of the removed points and the points left.
func TestMigrateMinuteFirsts(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openAt(t, path)
	const org, series = "org", "m/x"
	start := int64(1_699_999_200) * int64(time.Second) // a whole hour
	sec := int64(time.Second)
	cut := start + 3630*sec // the middle of minute 60
	var all []colblock.Sample
	for call, r := range [][2]int64{{0, 3630}, {3630, 7200}} {
		var pts []uns.Point
		for i := r[0]; i < r[1]; i++ {
			v := uns.Float(float64(i*7919%1000) / 10)
			if i%13 == 0 {
				v = uns.Int(i)
			}
			pts = append(pts, uns.Point{Series: series, TS: start + i*sec, Value: v})
			all = append(all, colblock.Sample{TS: start + i*sec, V: v})
		}
		if _, err := s.Ingest(ctx, org, store.Source{Edge: "e"}, []store.Record{{Seq: uint64(call + 1), Points: pts}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// What a molen before version 6 stored: minute rollups with first and
	// last values; its retention removed the points before cut.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM blocks WHERE res = ?`, []any{minute}},
		{`INSERT INTO blocks (series_id, res, gen, min_ts, max_ts, n, data) VALUES (1, ?, 1, ?, ?, 120, ?)`,
			[]any{minute, start, start + 119*int64(time.Minute), colblock.Compress(encodeRollupFlags(nil, minute, rollupOf(all, minute), rollupFirst|rollupLast))}},
		{`DELETE FROM blocks WHERE res = 0 AND max_ts < ?`, []any{cut}},
		{`UPDATE schema_version SET version = 5`, nil},
	} {
		if _, err := s.w.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if raw, err := s.Raw(ctx, org, series, 0, 1<<62, 0); err != nil || len(raw) != 7200-3630 {
		t.Fatalf("Raw before migration: %d points, %v; want %d", len(raw), err, 7200-3630)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	defer s.Close()
	for _, agg := range []store.Agg{store.First, store.Last, store.Count} {
		for _, step := range []int64{int64(time.Minute), 2 * int64(time.Minute), 7 * int64(time.Minute)} {
			var want []store.Bucket
			for _, p := range rollupOf(all, step) {
				b, _ := p.Bucket(agg)
				want = append(want, b)
			}
			got, err := s.Aggregate(ctx, org, series, start, start+7200*sec, step, agg)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s by %v after migration: %v, %v\nwant %v", agg, time.Duration(step), got, err, want)
			}
		}
	}
}
