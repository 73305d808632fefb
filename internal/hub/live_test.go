package hub_test

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/live/livetest"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// TestLive: what an edge's batch stores reaches the live streams of its
// organisation after the commit, once, and only theirs.
func TestLive(t *testing.T) {
	h := startAPIHub(t)
	s := livetest.Open(t, h.URL()+"/api/v1/live?prefix=site/hall", h.viewer)
	other := livetest.Open(t, h.URL()+"/api/v1/live", h.adminB)
	if s.Resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", s.Resp.Header.Get("Content-Type"))
	}
	c := &uplink.Client{URL: h.URL(), Credential: h.cred}
	rec := func(seq uint64, v float64) uplink.RawRecord {
		pts := []uns.Point{{Series: "site/hall/press/temp", TS: 1_700_000_000_000_000_000 + int64(seq), Value: uns.Float(v)}}
		var evs []uns.Event
		if seq == 1 {
			evs = []uns.Event{{Asset: "site/hall/press", Kind: "state", Start: 1_700_000_000_000_000_000, Attrs: map[string]string{"state": "idle"}}}
		}
		return uplink.RawRecord{Seq: seq, Data: uplink.EncodeRecord(nil, pts, evs)}
	}
	first := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{rec(1, 1.5)}}
	for range 2 { // the second time a duplicate: stored and published once
		if _, err := c.Send(t.Context(), first); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Send(t.Context(), uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{rec(2, 2.5)}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ event, data string }{
		{"points", `"value":1.5`}, {"events", `"asset":"site/hall/press"`}, {"points", `"value":2.5`},
	} {
		if m := s.NextEvent(); m.Event != want.event || !strings.Contains(m.Data, want.data) {
			t.Errorf("got %+v, want %s with %s", m, want.event, want.data)
		}
	}
	// Organisation b's stream got nothing of it: its connection is still
	// open and silent, which the next message it gets (its own) shows.
	h.Live().Publish("b", []uns.Point{{Series: "b/x", TS: 1, Value: uns.Int(7)}}, nil)
	if m := other.NextEvent(); !strings.Contains(m.Data, `"series":"b/x"`) {
		t.Errorf("b's stream got %+v first, want its own point", m)
	}
	// Another organisation's data by ?org= needs a grant.
	if code, _ := h.do("GET", "/api/v1/live?org=default", h.adminB, ""); code != 404 {
		t.Errorf("b's stream of the default organisation: %d, want 404", code)
	}
}
