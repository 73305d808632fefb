package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// TestHubOnPostgres runs a hub on the PostgreSQL backend: an edge enrolls,
// sends a batch twice, and the API shows each point once.
func TestHubOnPostgres(t *testing.T) {
	dsn := os.Getenv("MOLEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("MOLEN_TEST_POSTGRES is unset: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the hub on PostgreSQL")
	}
	ctx := t.Context()
	schema := fmt.Sprintf("hub_test_%d", time.Now().UnixNano())
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() {
		// The test's schema goes with the test.
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	_, token, err := h.CreateEdge(ctx, "pg-edge")
	if err != nil {
		t.Fatal(err)
	}
	c := &uplink.Client{URL: h.URL()}
	en, err := c.Enroll(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Credential = en.Credential
	series := "pg/test/m/temp"
	pts := []uns.Point{{Series: series, TS: 1_700_000_000_000_000_000, Value: uns.Float(21.5)}, {Series: series, TS: 1_700_000_001_000_000_000, Value: uns.Float(22)}}
	b := uplink.Batch{Stream: "points/" + en.EdgeID, Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}
	for range 2 { // the second time as after a lost answer
		if _, err := c.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	admin, _ := h.AdminToken()
	req, _ := http.NewRequest("GET", h.URL()+"/api/v1/query?agg=raw&from=0&to=now&series="+series, nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Points []struct {
			Value float64 `json:"value"`
		} `json:"points"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Points) != 2 || out.Points[0].Value != 21.5 {
		t.Errorf("points = %+v, want 21.5 and 22 once each", out.Points)
	}
}
