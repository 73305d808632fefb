package edge

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// Secrets are redacted from text and JSON that leave the edge; counters
// whose names hold such a word are not.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"dial tcp://user:hunter2@10.0.0.5:1883: refused", "dial tcp://[redacted]@10.0.0.5:1883: refused"},
		{"credential mlc_abcdefghijklmnop refused", "credential [redacted] refused"},
		{"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"},
		{"nothing secret here", "nothing secret here"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := string(redactJSON([]byte(`{"mqtt":{"url":"tcp://a:b@h:1","password":"p4ss","refused":{"bad_credentials":3},"subs":[{"api_key":"k"}]}}`)))
	want := `{"mqtt":{"password":"[redacted]","refused":{"bad_credentials":3},"subs":[{"api_key":"[redacted]"}],"url":"tcp://[redacted]@h:1"}}`
	if got != want {
		t.Errorf("redactJSON = %s\nwant %s", got, want)
	}
}

// The log ring keeps the last records, with attributes of secret names
// redacted, and stays bounded.
func TestLogRing(t *testing.T) {
	ring := &logRing{}
	log := slog.New(teeHandler{next: slog.DiscardHandler, ring: ring}).With("input", "inputs.line")
	for i := range logRingSize + 10 {
		log.Info("connected", "n", i, "password", "p4ss", slog.Group("tls", "private_key", "k3y"))
	}
	log.Debug("not kept")
	recs := ring.records()
	if len(recs) != logRingSize {
		t.Fatalf("%d records kept, want %d", len(recs), logRingSize)
	}
	first, last := recs[0], recs[len(recs)-1]
	if !strings.Contains(first.Attrs, `n="10"`) || !strings.Contains(last.Attrs, fmt.Sprintf(`n="%d"`, logRingSize+9)) {
		t.Errorf("ring order: first %q, last %q", first.Attrs, last.Attrs)
	}
	b, _ := json.Marshal(recs)
	if strings.Contains(string(b), "p4ss") || strings.Contains(string(b), "k3y") || !strings.Contains(last.Attrs, `input="inputs.line"`) {
		t.Errorf("record: %+v", last)
	}
}

// The recent points are bounded per series and in series, and come out in
// time order.
func TestRecentPoints(t *testing.T) {
	var r recentPoints
	const n = recentSeriesMax + 10
	for i := range n {
		r.add([]uns.Point{{Series: "a/b", TS: int64(i)}, {Series: fmt.Sprintf("s/%d", i), TS: int64(i)}})
	}
	pts := r.sample()
	if len(r.series) != recentSeriesMax {
		t.Errorf("%d series kept, want %d", len(r.series), recentSeriesMax)
	}
	kept := 0
	for i, p := range pts {
		if i > 0 && p.TS < pts[i-1].TS {
			t.Fatalf("sample not in time order at %d", i)
		}
		if p.Series == "a/b" {
			kept++
		}
	}
	if kept != recentPerSeries || pts[len(pts)-1].TS != n-1 {
		t.Errorf("a/b: %d points kept, last ts %d", kept, pts[len(pts)-1].TS)
	}
}

// BenchmarkRecentPoints is the cost the sample adds to ingest: one batch
// of 512 points over 100 series.
func BenchmarkRecentPoints(b *testing.B) {
	batch := make([]uns.Point, 512)
	for i := range batch {
		batch[i] = uns.Point{Series: fmt.Sprintf("site/area/line/cell-%d/temp", i%100), TS: int64(i), Value: uns.Float(1)}
	}
	var r recentPoints
	b.ReportAllocs()
	for b.Loop() {
		r.add(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/point")
}
