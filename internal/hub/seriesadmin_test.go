package hub_test

import (
	"fmt"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

func TestSeriesAdmin(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *apiHub) {
		eng := token(t, h, api.RoleEngineer)
		var pts []uns.Point
		for i, s := range []string{"site/a/temp", "site/a/temp_old", "site/a/speed", "site/a/speed2", "site/a/gone"} {
			pts = append(pts, uns.Point{Series: s, TS: start1 + int64(i)*1e9, Value: uns.Float(float64(i))})
		}
		c := &uplink.Client{URL: h.URL(), Credential: h.cred}
		if _, err := c.Send(t.Context(), uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
			t.Fatal(err)
		}
		paths := func() string {
			_, out := h.do("GET", "/api/v1/series?prefix=site", h.viewer, "")
			var ps []string
			for _, s := range out["series"].([]any) {
				ps = append(ps, s.(map[string]any)["path"].(string))
			}
			return fmt.Sprint(ps)
		}
		for _, c := range []struct {
			secret, method, path, body string
			code                       int
		}{
			{eng, "DELETE", "/api/v1/series?path=site/a/gone", "", 403},
			{h.adminB, "DELETE", "/api/v1/series?path=site/a/gone", "", 404},
			{h.admin, "DELETE", "/api/v1/series?path=site//gone", "", 400},
			{h.admin, "DELETE", "/api/v1/series?path=site/a/gone", "", 200},
			{h.admin, "DELETE", "/api/v1/series?path=site/a/gone", "", 404},
			{h.admin, "POST", "/api/v1/series/rename", `{"from":"site/a/temp_old","to":"site/a/temp"}`, 409},
			{h.admin, "POST", "/api/v1/series/rename", `{"from":"site/a/temp_old","to":"site/a/temp_older"}`, 200},
			{h.admin, "POST", "/api/v1/series/rename", `{"from":"site/a/x"}`, 400},
			{h.adminB, "POST", "/api/v1/series/merge", `{"from":"site/a/speed2","into":"site/a/speed"}`, 404},
			{h.admin, "POST", "/api/v1/series/merge", `{"from":"site/a/speed2","into":"site/a/speed2"}`, 400},
			{h.admin, "POST", "/api/v1/series/merge", `{"from":"site/a/speed2","into":"site/a/speed"}`, 200},
		} {
			if code, out := h.do(c.method, c.path, c.secret, c.body); code != c.code {
				t.Errorf("%s %s %s: %d %v, want %d", c.method, c.path, c.body, code, out, c.code)
			}
		}
		if got := paths(); got != "[site/a/speed site/a/temp site/a/temp_older]" {
			t.Errorf("series: %s", got)
		}
		_, out := h.do("GET", "/api/v1/query?agg=raw&from=0&to=now&series=site/a/speed", h.viewer, "")
		if got := fmt.Sprint(out["points"]); got != "[map[q:good series:site/a/speed ts:1.700000002e+12 value:2] map[q:good series:site/a/speed ts:1.700000003e+12 value:3]]" {
			t.Errorf("merged points: %s", got)
		}
		if got := auditActions(t, h, "series."); fmt.Sprint(got) != "[series.merged site/a/speed2 series.renamed site/a/temp_old series.deleted site/a/gone]" {
			t.Errorf("audit: %v", got)
		}
	})
}
