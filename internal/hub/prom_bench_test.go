package hub_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// BenchmarkPromDashboard measures the queries of a typical Grafana
// dashboard through /prom, over HTTP on loopback with the token as a Basic
// password: 4 machines, each with a temperature and a parts counter, a
// point every 10 s for a day (69,120 points), compacted as a running hub
// keeps them. The panels ask for about 720 points per series, as a panel
// of ~1,000 pixels does.
func BenchmarkPromDashboard(b *testing.B) {
	ctx := b.Context()
	day := promBase
	off := api.Rate{PerSecond: -1}
	h, err := hub.Start(ctx, hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Now:   func() time.Time { return day.Add(25 * time.Hour) },
		Rates: hub.Rates{Address: off, Org: off, Caller: off, Edge: off, SignIn: off}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	token, err := h.AdminToken()
	if err != nil {
		b.Fatal(err)
	}
	_, enroll, err := h.CreateEdge(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, enroll, "")
	if err != nil {
		b.Fatal(err)
	}
	c := &uplink.Client{URL: h.URL(), Credential: en.Credential}
	var seq uint64
	for m := range 4 {
		for _, tag := range []string{"temperature", "parts_total"} {
			path := fmt.Sprintf("plant/hall/line-%d/machine-%d/%s", m%2+1, m, tag)
			pts := make([]uns.Point, 0, 8640)
			for i := range 8640 {
				v := uns.Value(uns.Int(int64(i * (m + 1))))
				if tag == "temperature" {
					v = uns.Float(20 + float64(i%97)/10)
				}
				pts = append(pts, uns.Point{Series: path, TS: day.Add(time.Duration(i) * 10 * time.Second).UnixNano(), Value: v})
			}
			seq++
			if _, err := c.Send(ctx, uplink.Batch{Stream: "points/bench", Records: []uplink.RawRecord{{Seq: seq, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if cs, ok := h.Store().(interface{ Compact(context.Context) error }); ok {
		if err := cs.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
	p := promClient(b, h.URL(), basicAuth{user: "grafana", password: token})
	for _, bc := range []struct {
		name, expr string
		r          promv1.Range
		series     int
	}{
		{"avg_over_time/24h/step=2m", `avg_over_time(temperature{site="plant"}[2m])`,
			promv1.Range{Start: day, End: day.Add(24 * time.Hour), Step: 2 * time.Minute}, 4},
		// The same panel at a step that is no whole minute reads raw points.
		{"avg_over_time/24h/step=90s", `avg_over_time(temperature{site="plant"}[90s])`,
			promv1.Range{Start: day, End: day.Add(24 * time.Hour), Step: 90 * time.Second}, 4},
		{"sum_rate_by_line/6h/step=30s", `sum by (line) (rate(parts_total[2m]))`,
			promv1.Range{Start: day.Add(6 * time.Hour), End: day.Add(12 * time.Hour), Step: 30 * time.Second}, 2},
		{"selector/24h/step=2m", `temperature`,
			promv1.Range{Start: day, End: day.Add(24 * time.Hour), Step: 2 * time.Minute}, 4},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _, _, err := p.QueryRange(ctx, bc.expr, bc.r)
				if err != nil {
					b.Fatal(err)
				}
				if m := v.(model.Matrix); len(m) != bc.series || len(m[0].Values) < 700 {
					b.Fatalf("%s: %d series, want %d", bc.expr, len(m), bc.series)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}
