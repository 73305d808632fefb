package ingest_test

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

type fixture struct {
	srv *apitest.Server
	st  store.Store
	svc *ingest.Service
}

// newFixture serves the uplink on SQLite for the edge "e1" of org a,
// whose credential is "cred-a".
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/molen.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := ingest.New(st, 0, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := apitest.Serve(t,
		apitest.Secrets{"token-a": {Org: "a", Role: api.RoleAdmin}},
		apitest.Secrets{"cred-a": {Org: "a", Role: api.RoleEdge, Name: "press", Edge: "e1"}},
		svc.Routes())
	return &fixture{srv: srv, st: st, svc: svc}
}

func batch(seq uint64) uplink.Batch {
	pts := []uns.Point{{Series: "x/y", TS: int64(seq), Value: uns.Int(int64(seq))}}
	return uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{{Seq: seq, Data: uplink.EncodePoints(nil, pts)}}}
}

// TestUplink stores a batch once, for the edge's organisation, however
// often it comes.
func TestUplink(t *testing.T) {
	f := newFixture(t)
	c := &uplink.Client{URL: f.srv.URL, Credential: "cred-a"}
	for i, want := range []uplink.Ack{{Stored: 1, Watermark: 1}, {Stored: 0, Watermark: 1, Previous: 1}} {
		ack, err := c.Send(t.Context(), batch(1))
		if err != nil || ack != want {
			t.Errorf("send %d: %+v, %v; want %+v", i, ack, err, want)
		}
	}
	pts, err := f.st.Raw(t.Context(), "a", "x/y", 0, 10, 0)
	if err != nil || len(pts) != 1 {
		t.Errorf("stored points = %v, %v; want one", pts, err)
	}
	if wm, err := f.st.Watermark(t.Context(), store.Source{Edge: "e1", Stream: "points/x"}); err != nil || wm != 1 {
		t.Errorf("watermark of the edge's stream = %d, %v; want 1", wm, err)
	}
}

func TestUplinkRefused(t *testing.T) {
	f := newFixture(t)
	for _, cred := range []string{"", "cred-b", "token-a"} {
		c := &uplink.Client{URL: f.srv.URL, Credential: cred}
		if _, err := c.Send(t.Context(), batch(1)); !errors.Is(err, uplink.ErrUnauthorized) {
			t.Errorf("send with credential %q: %v, want ErrUnauthorized", cred, err)
		}
	}
	for _, tt := range []struct {
		name, enc, body string
		want            error
	}{
		{"garbage", "", "not a batch", uplink.ErrMalformed},
		{"bad zstd", "zstd", "not zstd", uplink.ErrMalformed},
		{"unknown encoding", "gzip", "x", uplink.ErrMalformed},
		{"too large", "", strings.Repeat("x", uplink.MaxBatchBytes+1), uplink.ErrTooLarge},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/uplink", strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer cred-a")
		if tt.enc != "" {
			req.Header.Set("Content-Encoding", tt.enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if se := (&uplink.StatusError{Code: resp.StatusCode}); !errors.Is(se, tt.want) {
			t.Errorf("%s: %d, want the status of %v", tt.name, resp.StatusCode, tt.want)
		}
	}
	// A record the store refuses: 422, nothing of the batch stored.
	bad := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{
		{Seq: 1, Data: uplink.EncodePoints(nil, []uns.Point{{Series: "x/y", TS: 1, Value: uns.Int(1)}})},
		{Seq: 2, Data: uplink.EncodePoints(nil, []uns.Point{{Series: "x/y", TS: -1, Value: uns.Int(1)}})},
	}}
	c := &uplink.Client{URL: f.srv.URL, Credential: "cred-a"}
	if _, err := c.Send(t.Context(), bad); !errors.Is(err, uplink.ErrInvalidRecord) {
		t.Errorf("send of an invalid record: %v, want ErrInvalidRecord", err)
	}
	if pts, _ := f.st.Raw(t.Context(), "a", "x/y", 0, 10, 0); len(pts) != 0 {
		t.Errorf("a refused batch stored %v", pts)
	}
}

// TestMetrics counts batches by result, refusals by the router included.
func TestMetrics(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/molen.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	svc, err := ingest.New(st, 0, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := apitest.Serve(t, nil, apitest.Secrets{"cred-a": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}, svc.Routes())
	for _, cred := range []string{"cred-a", "nope"} {
		c := &uplink.Client{URL: srv.URL, Credential: cred}
		c.Send(t.Context(), batch(1))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "molen_hub_uplink_batches_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if want := map[string]float64{"stored": 1, "unauthorized": 1, "malformed": 0, "busy": 0, "error": 0}; !maps.Equal(got, want) {
		t.Errorf("batches by result = %v, want %v", got, want)
	}
}
