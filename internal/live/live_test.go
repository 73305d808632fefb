package live_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/live"
	"github.com/molen-io/molen/internal/live/livetest"
	"github.com/molen-io/molen/internal/uns"
)

func open(t *testing.T, srv *apitest.Server, path, secret string, header ...string) *livetest.Stream {
	t.Helper()
	return livetest.Open(t, srv.URL+path, secret, header...)
}

func serve(t *testing.T, h *live.Hub) *apitest.Server {
	return apitest.Serve(t, apitest.Secrets{
		"viewer":  {Org: "acme", Role: api.RoleViewer, Token: "tok_v", Scopes: "read"},
		"other":   {Org: "beta", Role: api.RoleViewer, Token: "tok_b", Scopes: "read"},
		"viewer2": {Org: "acme", Role: api.RoleViewer, Token: "tok_v2", Scopes: "read"},
	}, nil, h.Routes())
}

func pt(series string, ts int64, v uns.Value) uns.Point {
	return uns.Point{Series: series, TS: ts, Value: v}
}

func TestStreamSendsOnlyItsPrefixAndOrganisation(t *testing.T) {
	h := live.New(live.Options{})
	srv := serve(t, h)
	s := open(t, srv, "/api/v1/live?prefix=site/hall", "viewer")
	h.Publish("beta", []uns.Point{pt("site/hall/m/temp", 1, uns.Float(99))}, nil)
	h.Publish("acme", []uns.Point{pt("site/other/m/temp", 1, uns.Float(1))}, nil)
	h.Publish("acme", []uns.Point{
		pt("site/hall/m/temp", 1_700_000_000_123_456_789, uns.Float(21.5)),
		pt("site/hallway/m/temp", 1, uns.Float(2)),
		pt("site/hall/m/state", 1_700_000_000_000_000_000, uns.String("running")),
		pt("site/hall/m/on", 1_700_000_000_000_000_000, uns.Bool(true)),
	}, []uns.Event{{Asset: "site/hall/m", Kind: "state", Start: 1_700_000_000_000_000_000, Attrs: map[string]string{"state": "running"}}})

	m := s.NextEvent()
	if m.Event != "points" || m.ID == "" {
		t.Fatalf("got %+v, want points with an id", m)
	}
	want := `{"points":[{"series":"site/hall/m/temp","ts":"2023-11-14T22:13:20.123456789Z","value":21.5},` +
		`{"series":"site/hall/m/state","ts":"2023-11-14T22:13:20Z","value":"running"},` +
		`{"series":"site/hall/m/on","ts":"2023-11-14T22:13:20Z","value":true}]}`
	if m.Data != want {
		t.Errorf("data\n got %s\nwant %s", m.Data, want)
	}
	e := s.NextEvent()
	var evs struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(e.Data), &evs); err != nil || e.Event != "events" || e.ID == "" || e.ID == m.ID {
		t.Fatalf("got %+v (%v), want events with an id of their own", e, err)
	}
	if len(evs.Events) != 1 || evs.Events[0]["asset"] != "site/hall/m" || evs.Events[0]["start"] != float64(1_700_000_000_000) {
		t.Errorf("events = %v", evs.Events)
	}
}

func TestStreamResumesAndResets(t *testing.T) {
	// Room for 4 points: a fifth evicts the oldest message.
	h := live.New(live.Options{BufferPoints: 4})
	srv := serve(t, h)
	s := open(t, srv, "/api/v1/live", "viewer")
	h.Publish("acme", []uns.Point{pt("a/x", 1, uns.Int(1))}, nil)
	first := s.NextEvent()
	h.Publish("acme", []uns.Point{pt("a/x", 2, uns.Int(2))}, nil)
	h.Publish("acme", []uns.Point{pt("a/x", 3, uns.Int(3))}, nil)

	// Resuming after the first message sends the two after it, by header
	// or by parameter.
	for _, r := range []*livetest.Stream{
		open(t, srv, "/api/v1/live", "viewer2", "Last-Event-ID", first.ID),
		open(t, srv, "/api/v1/live?after="+first.ID, "viewer2"),
	} {
		for _, want := range []string{`"value":2`, `"value":3`} {
			if m := r.NextEvent(); m.Event != "points" || !strings.Contains(m.Data, want) {
				t.Errorf("resumed: %+v, want points with %s", m, want)
			}
		}
	}

	// Three more points evict the first two messages: a cursor before
	// them is too old.
	h.Publish("acme", []uns.Point{pt("a/x", 4, uns.Int(4)), pt("a/x", 5, uns.Int(5)), pt("a/x", 6, uns.Int(6))}, nil)
	for _, cursor := range []string{first.ID, "garbage", "0-1"} {
		r := open(t, srv, "/api/v1/live?after="+cursor, "viewer2")
		m := r.NextEvent()
		if m.Event != "reset" || m.Data != "{}" || m.ID == "" {
			t.Errorf("after=%s: %+v, want a reset", cursor, m)
		}
		// Then new data follows the reset.
		h.Publish("acme", []uns.Point{pt("a/x", 7, uns.Int(7))}, nil)
		if m := r.NextEvent(); m.Event != "points" || !strings.Contains(m.Data, `"value":7`) {
			t.Errorf("after the reset: %+v", m)
		}
	}
}

func TestStreamFallingBehindIsReset(t *testing.T) {
	h := live.New(live.Options{BufferPoints: 2})
	srv := serve(t, h)
	s := open(t, srv, "/api/v1/live", "viewer")
	// The stream is waiting; these all arrive before it reads the ring
	// again, and the ring holds only the last two: the stream is behind.
	h.Publish("acme", []uns.Point{pt("a/x", 1, uns.Int(1))}, nil)
	var got []string
	for m := s.NextEvent(); ; m = s.NextEvent() {
		got = append(got, m.Event)
		if m.Event == "reset" {
			break
		}
		// Publish more than the ring holds while the stream is between
		// reads of it, so that it surely falls behind.
		for i := range 5 {
			h.Publish("acme", []uns.Point{pt("a/x", int64(10+i), uns.Int(0))}, nil)
		}
		if len(got) > 200 {
			t.Fatalf("no reset after %v", got)
		}
	}
}

func TestKeepaliveAndStreamLimit(t *testing.T) {
	h := live.New(live.Options{Keepalive: time.Millisecond, MaxStreams: 2})
	srv := serve(t, h)
	a := open(t, srv, "/api/v1/live", "viewer")
	if m := a.Next(); m.Comment != "keepalive" {
		t.Errorf("got %+v, want a keepalive comment", m)
	}
	open(t, srv, "/api/v1/live", "viewer")
	c := open(t, srv, "/api/v1/live", "viewer")
	if c.Resp.StatusCode != 429 || c.Resp.Header.Get("Retry-After") == "" {
		t.Errorf("third stream: %d Retry-After %q, want 429 with Retry-After", c.Resp.StatusCode, c.Resp.Header.Get("Retry-After"))
	}
	if d := open(t, srv, "/api/v1/live", "viewer2"); d.Resp.StatusCode != 200 {
		t.Errorf("another caller's stream: %d, want 200", d.Resp.StatusCode)
	}
	if code, _ := srv.Do("GET", "/api/v1/live?prefix=a//b", "viewer", nil); code != 400 {
		t.Errorf("bad prefix: %d, want 400", code)
	}
}

// TestCloseEndsStreams: a hub shutting down ends its open streams.
func TestCloseEndsStreams(t *testing.T) {
	h := live.New(live.Options{})
	srv := serve(t, h)
	s := open(t, srv, "/api/v1/live", "viewer")
	h.Close()
	h.Close()
	if b, err := io.ReadAll(s.Resp.Body); err != nil || len(b) != 0 {
		t.Errorf("after Close: %q, %v; want the stream ended", b, err)
	}
}
