package hub_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/postgres"
	"github.com/molen-io/molen/internal/uns"
)

// TestCompactionUnderLease runs two hubs on one PostgreSQL schema: the one
// that takes the compaction lease moves the old points into blocks, the
// other leaves it to it, and both read every point once.
func TestCompactionUnderLease(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	// Start and the loops see the hour of the points: nothing is old yet.
	clock := func() time.Time { return start }
	var hubs [2]*hub.Hub
	for i := range hubs {
		h, err := hub.Start(t.Context(), hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema, Out: io.Discard, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		hubs[i] = h
	}
	var pts []uns.Point
	for i := range 3600 {
		pts = append(pts, uns.Point{Series: "plant/press/force", TS: start.UnixNano() + int64(i)*int64(time.Second), Value: uns.Float(float64(i%100) / 10)})
	}
	st := hubs[0].Store()
	if _, err := st.Ingest(t.Context(), hub.DefaultOrg, store.Source{Edge: "e", Stream: "points"}, []store.Record{{Seq: 1, Points: pts}}); err != nil {
		t.Fatal(err)
	}
	later := start.Add(2 * time.Hour)
	ran0, err := hubs[0].RunCompaction(t.Context(), later)
	if err != nil {
		t.Fatal(err)
	}
	ran1, err := hubs[1].RunCompaction(t.Context(), later)
	if err != nil {
		t.Fatal(err)
	}
	if ran0 == ran1 {
		t.Fatalf("compaction ran on hub 0: %v, on hub 1: %v; want exactly one", ran0, ran1)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var inBlocks int64
	if err := conn.QueryRow(t.Context(), `SELECT coalesce(sum(n), 0) FROM `+pgx.Identifier{schema, "blocks"}.Sanitize()).Scan(&inBlocks); err != nil || inBlocks != int64(len(pts)) {
		t.Errorf("%d points in blocks (%v), want %d", inBlocks, err, len(pts))
	}
	// The holder counts what it moved in /metrics.
	holder := hubs[0]
	if ran1 {
		holder = hubs[1]
	}
	resp, err := http.Get(holder.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(body), "molen_hub_compacted_points_total 3600\n") {
		t.Errorf("the holder's /metrics lack molen_hub_compacted_points_total 3600 (%v)", err)
	}
	m := scrape(t, holder.URL())
	if got := m["molen_hub_job_runs_total"].find(map[string]string{"job": "compaction"}); len(got) != 1 || got[0].value < 1 {
		t.Errorf("the holder's compaction runs: %v, want at least 1", got)
	}
	if got := m["molen_hub_storage_bytes"].find(map[string]string{"part": "postgres"}); len(got) != 1 || got[0].value < 8192 {
		t.Errorf("storage bytes on PostgreSQL: %v, want the schema's size", got)
	}
	// Nothing was left for another run: the holder's run moved it all.
	if left, err := st.(*postgres.Store).Compact(t.Context(), later); err != nil || left.Points != 0 {
		t.Errorf("a compaction after the hub's moved %d points (%v), want 0", left.Points, err)
	}
	for i, h := range hubs {
		got, err := h.Store().Raw(t.Context(), hub.DefaultOrg, "plant/press/force", 0, later.UnixNano(), 0)
		if err != nil || !slices.Equal(got, pts) {
			t.Errorf("hub %d: %d points (%v), want %d once each", i, len(got), err, len(pts))
		}
	}
}
