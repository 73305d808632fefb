package main

import (
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// edgeFacts returns the facts an edge writes (internal/edge.SecurityFacts)
// for a configuration: open is an edge as molen demo starts it (no
// devices file, listeners on loopback), public one whose device listener
// faces the plant network without TLS, hardened one with devices, TLS
// and a pinned hub.
func edgeFacts(kind string, ts int64, credentialDays float64) []molensvc.Point {
	f := map[string]molensvc.Value{
		"mqtt_public": molensvc.Bool(false), "mqtt_tls": molensvc.Bool(false), "mqtt_client_certs": molensvc.Bool(false),
		"mqtt_anonymous": molensvc.Bool(true), "status_public": molensvc.Bool(false), "hub_pinned": molensvc.Bool(false),
		"credential_age_days": molensvc.Float(credentialDays),
	}
	switch kind {
	case "public":
		f["mqtt_public"] = molensvc.Bool(true)
		f["status_public"] = molensvc.Bool(true)
	case "hardened":
		f["mqtt_public"], f["mqtt_tls"], f["mqtt_anonymous"], f["hub_pinned"] = molensvc.Bool(true), molensvc.Bool(true), molensvc.Bool(false), molensvc.Bool(true)
		f["devices_file_age_days"] = molensvc.Float(20)
		f["mqtt_tls_cert_days_left"] = molensvc.Float(300)
	}
	var pts []molensvc.Point
	for name, v := range f {
		pts = append(pts, molensvc.Point{Series: prefix + name, TS: ts, Value: v})
	}
	return pts
}

// TestLifecycle walks an edge from the demo's defaults to a plant network
// without protection to hardened: the score follows, each failing check
// opens one event, and a check that passes again closes it.
func TestLifecycle(t *testing.T) {
	s := &secure{}
	if err := s.Init(nil); err != nil {
		t.Fatal(err)
	}
	h := int64(time.Hour)
	steps := []struct {
		kind      string
		cred      float64
		score     float64
		open      []string // checks whose events open at this step
		closed    []string // and close
		stillOpen int
	}{
		{"open", 0, 65, []string{"anonymous_access", "hub_not_pinned"}, nil, 2},
		{"open", 0.04, 65, nil, nil, 2},
		{"public", 400, 5, []string{"plaintext_listener", "public_status_api", "credential_age"}, nil, 5},
		{"hardened", 1, 100, nil, []string{"anonymous_access", "hub_not_pinned", "plaintext_listener", "public_status_api", "credential_age"}, 0},
	}
	for i, st := range steps {
		var out molensvc.Output
		s.Process(edgeFacts(st.kind, int64(i)*h, st.cred), &out)
		var score float64
		for _, p := range out.Points {
			if p.Series == prefix+"score" {
				score = p.Value.F
			}
		}
		if score != st.score {
			t.Errorf("step %d (%s): score %v, want %v", i, st.kind, score, st.score)
		}
		var opened, closed []string
		for _, e := range out.Events {
			if e.Kind != "security" || e.Asset != prefix+e.Attrs["check"] || e.Attrs["advice"] == "" {
				t.Errorf("event %+v", e)
			}
			if e.End == 0 {
				opened = append(opened, e.Attrs["check"])
			} else {
				closed = append(closed, e.Attrs["check"])
				if e.Start >= e.End {
					t.Errorf("closed %+v", e)
				}
			}
		}
		if !same(opened, st.open) || !same(closed, st.closed) || len(s.open) != st.stillOpen {
			t.Errorf("step %d (%s): opened %v, closed %v, open %d; want %v, %v, %d", i, st.kind, opened, closed, len(s.open), st.open, st.closed, st.stillOpen)
		}
	}
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestModule runs the built module on a simulated line with an edge's
// hourly facts beside it: the machine data passes through untouched (it
// is not read), the facts are judged as natively.
func TestModule(t *testing.T) {
	line := simfeed.Factory(t, 1)
	tick := 0
	src := func(now time.Time) []uns.Point {
		pts := line(now)
		if tick%1800 == 0 {
			kind := []string{"open", "public", "hardened"}[tick/1800%3]
			pts = append(pts, simfeed.UNS(edgeFacts(kind, now.UnixNano(), float64(tick)/86400))...)
		}
		tick++
		return pts
	}
	out := servicetest.Agree(t, ".", &secure{}, ``, src, 3*3600)
	if len(out.Events) == 0 {
		t.Error("no security events")
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"max_credential_days": 0}`, `{"min_cert_days": -1}`, `[`} {
		if err := (&secure{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
