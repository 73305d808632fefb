package hub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
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
	schema := metatest.Schema(t, dsn)
	// The hub's clock is the points' time, so that its retention run at
	// start finds nothing old to remove.
	now := func() time.Time { return time.Unix(0, 1_700_000_010_000_000_000) }
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema, Out: io.Discard, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
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
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("query: %d %s", resp.StatusCode, b)
	}
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

// TestTwoHubsStartAtOnce starts two hubs on one fresh PostgreSQL schema at
// the same time: both start, there is one default organisation, and one
// hub made (and printed) its admin token, which works on both.
func TestTwoHubsStartAtOnce(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	var (
		wg   sync.WaitGroup
		hubs [2]*hub.Hub
		errs [2]error
		outs [2]bytes.Buffer
	)
	for i := range hubs {
		wg.Go(func() {
			hubs[i], errs[i] = hub.Start(t.Context(), hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema, Out: &outs[i]})
		})
	}
	wg.Wait()
	for i, h := range hubs {
		if errs[i] != nil {
			t.Fatalf("hub %d: %v", i, errs[i])
		}
		defer h.Close()
	}
	var tokens []string
	for i, h := range hubs {
		if outs[i].Len() == 0 {
			continue
		}
		tok, err := h.AdminToken()
		if err != nil || !strings.Contains(outs[i].String(), tok) {
			t.Errorf("hub %d printed %q but its admin-token file says %q (%v)", i, outs[i].String(), tok, err)
		}
		tokens = append(tokens, tok)
	}
	if len(tokens) != 1 {
		t.Fatalf("%d hubs made an admin token, want 1", len(tokens))
	}
	orgs, err := hubs[0].Auth().Orgs(t.Context())
	if err != nil || len(orgs) != 2 || orgs[0].ID != hub.DefaultOrg || orgs[1].ID != "platform" {
		t.Errorf("organisations = %+v, %v; want the default one below the platform", orgs, err)
	}
	for i, h := range hubs {
		c := client{t: t, url: h.URL()}
		if code, body := c.do("GET", "/api/v1/whoami", tokens[0], ""); code != 200 {
			t.Errorf("hub %d: the admin token: %d %v", i, code, body)
		}
	}
}
