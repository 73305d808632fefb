//go:build !edgeonly

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
)

// TestDemoNationalProgramme starts `molen demo --programme` (the national
// synthetic programme: 3,500 companies, 10,000 assessments, 200,000
// people at the academy; its first start takes half a minute to a
// minute) and reads the national KPIs and the EDIH report as the
// programme office: the figures the seed makes, every time. It runs on
// its own in .ci/run (MOLEN_TEST_NATIONAL=1), out of the package's
// time budget of `go test ./...`.
func TestDemoNationalProgramme(t *testing.T) {
	if os.Getenv("MOLEN_TEST_NATIONAL") == "" {
		t.Skip("the national programme takes a minute to make: set MOLEN_TEST_NATIONAL=1 (.ci/run does)")
	}
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Seed: 1, Rate: 1, Programme: true}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	token, err := d.Hub.Auth().NewToken(t.Context(), auth.PlatformOrg, api.RoleViewer, "test")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest("GET", d.Hub.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %.300s", path, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var k struct {
		Scope   string `json:"scope"`
		Targets []struct {
			ID    string `json:"id"`
			Value int64  `json:"value"`
		} `json:"targets"`
		Services int `json:"services"`
		DMA      struct {
			Assessed, Companies int
		} `json:"dma"`
	}
	get("/api/v1/programme/kpi", &k)
	got := fmt.Sprint(k.Scope, k.Targets, k.Services, k.DMA)
	var rep struct {
		Customers []json.RawMessage `json:"customers"`
		DMA       []json.RawMessage `json:"dma"`
	}
	get("/api/v1/programme/edih-report", &rep)
	var lib struct {
		Entries []json.RawMessage `json:"entries"`
	}
	get("/api/v1/library", &lib)
	// Seed 1's figures: 3,431 registered customers served with a T0
	// (3,429 with a T1 too), 1,195 with an edge, people upskilled counted
	// once across hubs; 100 library entries (two per fieldlab).
	if want := "national[{factories-digitalising 1195} {people-upskilled 53456} {companies-supported 3431} {people-supported 32132}] 6798 {3431 3429}"; got != want {
		t.Errorf("national KPIs: %s\nwant %s", got, want)
	}
	if len(rep.Customers) != 3431 || len(rep.DMA) != 3431 || len(lib.Entries) != 100 {
		t.Errorf("EDIH report: %d customers, %d with a DMA; library: %d entries", len(rep.Customers), len(rep.DMA), len(lib.Entries))
	}
}
