package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// sendEvents sends events from h's edge as record seq of stream.
func sendEvents(t *testing.T, h *apiHub, stream string, seq uint64, evs ...uns.Event) {
	t.Helper()
	c := &uplink.Client{URL: h.URL(), Credential: h.cred}
	b := uplink.Batch{Stream: stream, Records: []uplink.RawRecord{{Seq: seq, Data: uplink.EncodeRecord(nil, nil, evs)}}}
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

// token makes an API token of the default organisation.
func token(t *testing.T, h *apiHub, role api.Role) string {
	t.Helper()
	tok, err := h.Auth().NewToken(t.Context(), hub.DefaultOrg, role, string(role)+"-test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// auditActions are the actions of the default organisation's audit log
// with the prefix, newest first.
func auditActions(t *testing.T, h *apiHub, prefix string) []string {
	t.Helper()
	es, err := h.AuditLog().List(t.Context(), hub.DefaultOrg, audit.Query{Action: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Target)
	}
	return out
}

const (
	start1 = int64(1_700_000_000_000_000_000) // 2023-11-14T22:13:20Z
	start2 = int64(1_700_000_100_123_456_789)
)

func TestReasons(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *apiHub) {
		eng := token(t, h, api.RoleEngineer)
		code, out := h.do("GET", "/api/v1/reasons", h.viewer, "")
		rs, _ := out["reasons"].([]any)
		if code != 200 || len(rs) != 10 {
			t.Fatalf("default reasons: %d %v", code, out)
		}
		first := rs[1].(map[string]any)
		if first["code"] != "changeover" || first["planned"] != true || first["label"].(map[string]any)["nl"] != "Omstellen" {
			t.Errorf("changeover = %v", first)
		}
		list := `{"reasons":[{"code":"jam","label":{"en":"Jam","nl":"Vastloper"},"planned":false},{"code":"setup","label":{"en":"Set-up"},"planned":true}]}`
		for _, bad := range []string{`{"reasons":[]}`, `{"reasons":[{"code":"Jam!","label":{"en":"x"}}]}`,
			`{"reasons":[{"code":"a","label":{"nl":"x"}}]}`, `{"reasons":[{"code":"a","label":{"en":"x"}},{"code":"a","label":{"en":"y"}}]}`, `{"list":[]}`} {
			if code, out := h.do("PUT", "/api/v1/reasons", h.admin, bad); code != 400 {
				t.Errorf("PUT %s: %d %v, want 400", bad, code, out)
			}
		}
		if code, _ := h.do("PUT", "/api/v1/reasons", eng, list); code != 403 {
			t.Errorf("an engineer sets reasons: %d, want 403", code)
		}
		if code, out := h.do("PUT", "/api/v1/reasons", h.admin, list); code != 200 {
			t.Fatalf("PUT: %d %v", code, out)
		}
		_, out = h.do("GET", "/api/v1/reasons", h.viewer, "")
		if got := fmt.Sprint(out["reasons"]); got != "[map[code:jam label:map[en:Jam nl:Vastloper] planned:false] map[code:setup label:map[en:Set-up] planned:true]]" {
			t.Errorf("reasons after PUT: %s", got)
		}
		// Organisation b still has the defaults.
		if _, out := h.do("GET", "/api/v1/reasons", h.adminB, ""); len(out["reasons"].([]any)) != 10 {
			t.Errorf("b's reasons: %v", out)
		}
		if got := auditActions(t, h, "reasons."); len(got) != 1 {
			t.Errorf("audit: %v, want one reasons.set", got)
		}

		// Assigning a reason.
		state := uns.Event{Asset: "site/hall/press", Kind: "state", Start: start1, Attrs: map[string]string{"state": "down"}}
		down := uns.Event{Asset: "site/hall/press", Kind: "downtime", Start: start1, Attrs: map[string]string{"state": "down", "reason": "down"}}
		other := uns.Event{Asset: "site/hall/drill", Kind: "downtime", Start: start2, End: start2 + 60e9, Attrs: map[string]string{"reason": "down"}}
		sendEvents(t, h, "events/x", 1, state, down, other)
		ms := "2023-11-14T22:13:20.000Z" // as GET /api/v1/events shows it, in ms
		for _, c := range []struct {
			body string
			code int
		}{
			{`{"asset":"site/hall/press","kind":"state","start":"` + ms + `","reason":"nope"}`, 400},
			{`{"asset":"site/hall/press","kind":"state","start":"yesterday","reason":"jam"}`, 400},
			{`{"asset":"site/hall/press","kind":"state","start":"2023-11-14T22:13:21Z","reason":"jam"}`, 404},
			{`{"asset":"site/hall/lathe","kind":"state","start":"` + ms + `","reason":"jam"}`, 404},
		} {
			if code, out := h.do("POST", "/api/v1/events/reason", eng, c.body); code != c.code {
				t.Errorf("%s: %d %v, want %d", c.body, code, out, c.code)
			}
		}
		if code, _ := h.do("POST", "/api/v1/events/reason", h.viewer, `{}`); code != 403 {
			t.Errorf("a viewer assigns: %d, want 403", code)
		}
		// b cannot reach the default organisation's event.
		if code, _ := h.do("POST", "/api/v1/events/reason", h.adminB,
			`{"asset":"site/hall/press","kind":"state","start":"`+ms+`","reason":"changeover"}`); code != 404 {
			t.Errorf("b assigns a reason to another organisation's event: %d, want 404", code)
		}
		code, out = h.do("POST", "/api/v1/events/reason", eng, `{"asset":"site/hall/press","kind":"state","start":"`+ms+`","reason":"jam","comment":"feeder"}`)
		if code != 200 || out["kind"] != "state" || out["attrs"].(map[string]any)["reason"] != "jam" ||
			out["attrs"].(map[string]any)["reason_comment"] != "feeder" || out["attrs"].(map[string]any)["reason_by"] == "" {
			t.Fatalf("assign: %d %v", code, out)
		}
		// By the exact start of an event with nanoseconds.
		if code, out := h.do("POST", "/api/v1/events/reason", eng,
			`{"asset":"site/hall/drill","kind":"downtime","start":"2023-11-14T22:15:00.123456789Z","reason":"setup"}`); code != 200 {
			t.Fatalf("assign by exact start: %d %v", code, out)
		}
		// The edge closes the press's downtime: the reason stays.
		closed := down
		closed.End = start1 + 120e9
		sendEvents(t, h, "events/x", 2, closed)
		_, out = h.do("GET", "/api/v1/events?asset=site/hall/press&kind=downtime&from=0&to=now", h.viewer, "")
		evs := out["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["attrs"].(map[string]any)["reason"] != "jam" || evs[0].(map[string]any)["end"] == nil {
			t.Errorf("events after closing: %v", evs)
		}
		_, out = h.do("GET", "/api/v1/downtime/pareto?by=reason&from=0&to=now", h.viewer, "")
		if got := fmt.Sprint(out["items"]); got != "[map[count:1 cumulative:0.6666666666666666 duration_s:120 key:jam share:0.6666666666666666] map[count:1 cumulative:1 duration_s:60 key:setup share:0.3333333333333333]]" {
			t.Errorf("pareto: %s", got)
		}
		if got := auditActions(t, h, "event."); len(got) != 2 || got[0] != "event.reason_set site/hall/drill" {
			t.Errorf("audit: %v", got)
		}
	})
}

func TestAlarms(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *apiHub) {
		eng := token(t, h, api.RoleEngineer)
		alarm := uns.Event{Asset: "site/hall/press", Kind: "alarm", Start: start1, Attrs: map[string]string{"series": "site/hall/press/temp", "limit": "hi"}}
		anomaly := uns.Event{Asset: "site/hall/drill", Kind: "anomaly", Start: start2, End: start2 + 1e9, Attrs: map[string]string{"series": "site/hall/drill/vib"}}
		state := uns.Event{Asset: "site/hall/drill", Kind: "state", Start: start2}
		sendEvents(t, h, "events/x", 1, alarm, anomaly, state)

		list := func(query string) []map[string]any {
			t.Helper()
			code, out := h.do("GET", "/api/v1/alarms?from=0&to=now"+query, h.viewer, "")
			if code != 200 {
				t.Fatalf("alarms%s: %d %v", query, code, out)
			}
			var as []map[string]any
			for _, a := range out["alarms"].([]any) {
				as = append(as, a.(map[string]any))
			}
			return as
		}
		as := list("")
		if len(as) != 2 || as[0]["kind"] != "anomaly" || as[0]["start"] != "2023-11-14T22:15:00.123456789Z" || as[0]["end"] != "2023-11-14T22:15:01.123456789Z" ||
			as[1]["kind"] != "alarm" || as[1]["end"] != "" || as[1]["acked"] != false || as[1]["attrs"].(map[string]any)["limit"] != "hi" {
			t.Fatalf("alarms: %v", as)
		}
		if got := list("&prefix=site/hall/press"); len(got) != 1 || got[0]["kind"] != "alarm" {
			t.Errorf("by prefix: %v", got)
		}
		body := `{"asset":"site/hall/press","kind":"alarm","start":"2023-11-14T22:13:20Z","comment":"looking"}`
		for _, c := range []struct {
			secret, path, body string
			code               int
		}{
			{h.viewer, "/api/v1/alarms/ack", body, 403},
			{h.adminB, "/api/v1/alarms/ack", body, 404},
			{eng, "/api/v1/alarms/ack", `{"asset":"site/hall/drill","kind":"state","start":"2023-11-14T22:15:00.123456789Z"}`, 400},
			{eng, "/api/v1/alarms/ack", `{"asset":"site/hall/press","kind":"alarm","start":"2023-11-14T22:13:21Z"}`, 404},
			{eng, "/api/v1/alarms/comment", `{"asset":"site/hall/press","kind":"alarm","start":"2023-11-14T22:13:20Z"}`, 400},
			{eng, "/api/v1/alarms/ack", body, 200},
			{eng, "/api/v1/alarms/ack", body, 409},
			{eng, "/api/v1/alarms/comment", `{"asset":"site/hall/press","kind":"alarm","start":"2023-11-14T22:13:20Z","comment":"fan replaced"}`, 200},
		} {
			if code, out := h.do("POST", c.path, c.secret, c.body); code != c.code {
				t.Errorf("%s %s: %d %v, want %d", c.path, c.body, code, out, c.code)
			}
		}
		acked := list("&state=acked")
		if len(acked) != 1 || acked[0]["acked"] != true || acked[0]["acked_by"] == "" || acked[0]["acked_at"] != "2023-11-14T22:23:20Z" {
			t.Fatalf("acked: %v", acked)
		}
		if got := fmt.Sprint(acked[0]["comments"]); got != fmt.Sprintf("[map[at:2023-11-14T22:23:20Z by:%s text:looking] map[at:2023-11-14T22:23:20Z by:%s text:fan replaced]]", acked[0]["acked_by"], acked[0]["acked_by"]) {
			t.Errorf("comments: %s", got)
		}
		if open := list("&state=open"); len(open) != 1 || open[0]["kind"] != "anomaly" {
			t.Errorf("open: %v", open)
		}
		if code, _ := h.do("GET", "/api/v1/alarms?state=new", h.viewer, ""); code != 400 {
			t.Errorf("state=new: %d, want 400", code)
		}
		if _, out := h.do("GET", "/api/v1/alarms?from=0&to=now", h.adminB, ""); len(out["alarms"].([]any)) != 0 {
			t.Errorf("b sees alarms: %v", out)
		}
		if got := auditActions(t, h, "alarm."); len(got) != 2 {
			t.Errorf("audit: %v, want acked and commented", got)
		}
	})
}

// TestOEEByWeek: bucket=week cuts at Monday 00:00 in tz, through the hub's
// API and each storage backend.
func TestOEEByWeek(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *apiHub) {
		// 2023-11-19 is a Sunday; Amsterdam is UTC+1. The window ending
		// 22:30 UTC ends on Sunday evening local time, the one ending
		// 23:30 UTC on Monday 00:30 local: they belong to different weeks.
		sunday := time.Date(2023, 11, 19, 22, 30, 0, 0, time.UTC)
		var pts []uns.Point
		for i, end := range []time.Time{sunday, sunday.Add(time.Hour)} {
			for tag, v := range map[string]float64{"running_s": float64(1000 * (i + 1)), "planned_s": 3600, "good": 10, "total": 10, "performance": 1} {
				pts = append(pts, uns.Point{Series: "s/a/l/m/oee/" + tag, TS: end.UnixNano(), Value: uns.Float(v)})
			}
		}
		c := &uplink.Client{URL: h.URL(), Credential: h.cred}
		if _, err := c.Send(t.Context(), uplink.Batch{Stream: "points/oee",
			Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
			t.Fatal(err)
		}
		ams, err := time.LoadLocation("Europe/Amsterdam")
		if err != nil {
			t.Fatal(err)
		}
		monday := func(d int) int64 { return time.Date(2023, 11, d, 0, 0, 0, 0, ams).UnixMilli() }
		q := fmt.Sprintf("/api/v1/oee?prefix=s/a/l/m&bucket=week&tz=Europe/Amsterdam&from=%d&to=%d", monday(13), monday(27))
		code, out := h.do("GET", q, h.viewer, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %v", q, code, out)
		}
		var got []string
		for _, g := range out["groups"].([]any) {
			for _, b := range g.(map[string]any)["buckets"].([]any) {
				b := b.(map[string]any)
				got = append(got, fmt.Sprintf("%.0f-%.0f running %v", b["start"], b["end"], b["running_s"]))
			}
		}
		want := []string{
			fmt.Sprintf("%d-%d running 1000", monday(13), monday(20)),
			fmt.Sprintf("%d-%d running 2000", monday(20), monday(27)),
		}
		if out["bucket"] != "week" || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("bucket %v, got %v, want %v", out["bucket"], got, want)
		}
	})
}
