package edge_test

import (
	"testing"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/quota"
)

// TestQuotaRefusalsAreCountedAndNotResent: points the organisation's
// quota refuses are counted by the edge with the hub's reason, the rest
// of the batch is stored, and the outbox empties (nothing resent).
func TestQuotaRefusalsAreCountedAndNotResent(t *testing.T) {
	v := start(t)
	if err := v.hub.Quota().Set(t.Context(), hub.DefaultOrg, quota.Limits{Series: 1}); err != nil {
		t.Fatal(err)
	}
	dev := v.device(4)
	publish(t, dev, "f/m/temp", []byte(`{"value": 21.5}`))
	eventually(t, "the first series at the hub", func() bool { return len(v.latest("f/m")) == 1 })
	publish(t, dev, "f/m/speed", []byte(`{"value": 3}`))
	publish(t, dev, "f/m/temp", []byte(`{"value": 22.5}`))
	eventually(t, "the refusal counted at the edge", func() bool {
		return v.scrape()[`molen_edge_quota_refused_points_total{reason="series"}`] == 1
	})
	eventually(t, "the outbox empty", func() bool {
		return v.scrape()["molen_edge_outbox_pending_records"] == 0
	})
	if got := v.latest("f/m"); len(got) != 1 || got["f/m/temp"] == nil {
		t.Errorf("hub's latest values: %v, want f/m/temp only", got)
	}
	if n := v.count("f/m/temp"); n != 2 {
		t.Errorf("points of f/m/temp at the hub: %d, want 2", n)
	}
	if m := v.scrape(); m[`molen_edge_quota_refused_points_total{reason="points_per_day"}`] != 0 {
		t.Errorf("refused by the day's quota: %v", m[`molen_edge_quota_refused_points_total{reason="points_per_day"}`])
	}
}
