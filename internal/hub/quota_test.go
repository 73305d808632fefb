package hub_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// points are one point of each series at ts.
func points(ts int64, series ...string) []byte {
	var pts []uns.Point
	for _, s := range series {
		pts = append(pts, uns.Point{Series: s, TS: ts, Value: uns.Int(1)})
	}
	return uplink.EncodePoints(nil, pts)
}

// TestQuotas: a platform admin sets an organisation's quota; points of new
// series beyond it and points beyond the day's quota are left out of
// stored batches, reported to the edge, counted per organisation and
// reason, and shown to the organisation; another organisation stores as
// before.
func TestQuotas(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *apiHub) {
		ctx := t.Context()
		ops, err := h.Auth().NewToken(ctx, auth.PlatformOrg, api.RolePlatformAdmin, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if code, body := h.do("PUT", "/api/v1/quotas/default", h.admin, `{"series": 2, "points_per_day": 5}`); code != 403 {
			t.Errorf("an organisation's admin sets its own quota: %d %v, want 403", code, body)
		}
		for _, bad := range []string{`{"series": -1, "points_per_day": 5}`, `{"series": 2}`, `[]`} {
			if code, body := h.do("PUT", "/api/v1/quotas/default", ops, bad); code != 400 {
				t.Errorf("quota %s: %d %v, want 400", bad, code, body)
			}
		}
		if code, _ := h.do("PUT", "/api/v1/quotas/nobody", ops, `{"series": 2, "points_per_day": 5}`); code != 404 {
			t.Errorf("quota of an unknown organisation: %d, want 404", code)
		}
		if code, body := h.do("PUT", "/api/v1/quotas/default", ops, `{"series": 2, "points_per_day": 5}`); code != 200 {
			t.Fatalf("set quota: %d %v", code, body)
		}

		c := &uplink.Client{URL: h.URL(), Credential: h.cred}
		send := func(seq uint64, data []byte) uplink.Ack {
			t.Helper()
			ack, err := c.Send(ctx, uplink.Batch{Stream: "points/q", Records: []uplink.RawRecord{{Seq: seq, Data: data}}})
			if err != nil {
				t.Fatalf("send %d: %v", seq, err)
			}
			return ack
		}
		// Three new series, two allowed: the third's point is refused.
		if ack := send(1, points(start1, "q/a", "q/b", "q/c")); ack.Stored != 1 || ack.RefusedSeries != 1 || ack.RefusedPoints != 0 {
			t.Errorf("batch 1: %+v, want stored with 1 point refused by the series quota", ack)
		}
		// Two known series, one new: 2 points stored of 5 today, then
		// the day's quota refuses the rest.
		if ack := send(2, points(start1+1, "q/a", "q/b", "q/d", "q/a", "q/b", "q/a")); ack.RefusedSeries != 1 || ack.RefusedPoints != 2 {
			t.Errorf("batch 2: %+v, want 1 point refused by the series quota, 2 by the day's", ack)
		}
		// A resend is a duplicate: nothing counted again.
		if ack := send(2, points(start1+1, "q/a", "q/b", "q/d", "q/a", "q/b", "q/a")); ack.Stored != 0 || ack.RefusedSeries+ack.RefusedPoints != 0 {
			t.Errorf("resent batch 2: %+v, want a duplicate with nothing refused", ack)
		}
		// An event-only record still goes through: events are not counted.
		sendEvents(t, h, "events/q", 1, uns.Event{Asset: "q", Kind: "alarm", Start: start1})

		if latest, err := h.Store().Latest(ctx, hub.DefaultOrg, "q", 0); err != nil || len(latest) != 2 {
			t.Errorf("series stored: %v %v, want q/a and q/b", latest, err)
		}
		if raw, err := h.Store().Raw(ctx, hub.DefaultOrg, "q/a", 0, start1+10, 0); err != nil || len(raw) != 3 {
			t.Errorf("points of q/a: %v %v, want 3", raw, err)
		}
		code, own := h.do("GET", "/api/v1/quota", h.viewer, "")
		want := map[string]any{"series": 2.0, "points": 5.0, "refused_series": 2.0, "refused_points": 2.0}
		if today, _ := own["today"].(map[string]any); code != 200 || fmt.Sprint(today) != fmt.Sprint(want) || own["default"] != false {
			t.Errorf("usage seen by the organisation: %d %v, want today %v", code, own, want)
		}

		// Organisation b has the default quota and is not affected.
		e, tok, err := h.Fleet().CreateEdge(ctx, "b", "b-line")
		if err != nil {
			t.Fatal(err)
		}
		en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		cb := &uplink.Client{URL: h.URL(), Credential: en.Credential}
		ack, err := cb.Send(ctx, uplink.Batch{Stream: "points/q", Records: []uplink.RawRecord{{Seq: 1, Data: points(start1, "q/a", "q/b", "q/c", "q/d", "q/e", "q/f")}}})
		if err != nil || ack.Stored != 1 || ack.RefusedSeries+ack.RefusedPoints != 0 {
			t.Errorf("edge %s of b: %+v %v, want stored with nothing refused", e.ID, ack, err)
		}
		if _, b := h.do("GET", "/api/v1/quota", h.adminB, ""); fmt.Sprint(b["today"]) != fmt.Sprint(map[string]any{"series": 6.0, "points": 6.0, "refused_series": 0.0, "refused_points": 0.0}) || b["default"] != true {
			t.Errorf("b's quota: %v", b)
		}

		metrics := get(t, h.URL()+"/metrics")
		for _, line := range []string{
			`molen_hub_quota_refused_points_total{org="default",reason="series"} 2`,
			`molen_hub_quota_refused_points_total{org="default",reason="points_per_day"} 2`,
		} {
			if !strings.Contains(metrics, line) {
				t.Errorf("metrics lack %s", line)
			}
		}
		if strings.Contains(metrics, `quota_refused_points_total{org="b"`) {
			t.Error("metrics count refusals of b")
		}
		// The change is in the organisation's audit log and the platform's.
		if got := auditActions(t, h, "quota."); len(got) != 1 || got[0] != "quota.set default" {
			t.Errorf("audit of default: %v", got)
		}

		// A deleted series no longer counts: another takes its place.
		if code, body := h.do("PUT", "/api/v1/quotas/default", ops, `{"series": 2, "points_per_day": 0}`); code != 200 {
			t.Fatalf("set quota: %d %v", code, body)
		}
		if code, body := h.do("DELETE", "/api/v1/series?path=q/b", h.admin, ""); code != 200 {
			t.Fatalf("delete q/b: %d %v", code, body)
		}
		if ack := send(3, points(start1+2, "q/c", "q/d")); ack.Stored != 1 || ack.RefusedSeries != 1 || ack.RefusedPoints != 0 {
			t.Errorf("batch 3 after deleting q/b: %+v, want q/c stored and q/d refused", ack)
		}

		// Back to the default: the same edge stores again.
		if code, body := h.do("DELETE", "/api/v1/quotas/default", ops, ""); code != 200 || body["default"] != true {
			t.Fatalf("clear quota: %d %v", code, body)
		}
		if ack := send(4, points(start1+3, "q/d", "q/e", "q/f")); ack.Stored != 1 || ack.RefusedSeries+ack.RefusedPoints != 0 {
			t.Errorf("batch 4 under the default quota: %+v", ack)
		}
	})
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
