package hub_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// BenchmarkUplink measures the whole edge→hub hop: encode, compress, HTTP
// over loopback, decode, authenticate and store with the watermark, in
// batches as the edge's forwarder sends them (records of 16 points, the
// size of one simulated machine tick).
func BenchmarkUplink(b *testing.B) {
	for _, records := range []int{100, 1000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			ctx := b.Context()
			h, err := hub.Start(ctx, hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			_, token, err := h.CreateEdge(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			c := &uplink.Client{URL: h.URL()}
			en, err := c.Enroll(ctx, token, "")
			if err != nil {
				b.Fatal(err)
			}
			c.Credential = en.Credential
			const perRecord = 16
			var seq uint64
			ts := int64(1_763_700_000_000_000_000)
			pts := make([]uns.Point, perRecord)
			b.ReportAllocs()
			for b.Loop() {
				batch := uplink.Batch{Stream: "points/bench", Records: make([]uplink.RawRecord, records)}
				for i := range batch.Records {
					ts += 1e9
					for j := range pts {
						pts[j] = uns.Point{Series: fmt.Sprintf("f/a/l/m%d/tag%d", i%4, j), TS: ts, Value: uns.Float(float64(j) + float64(i%100)/10)}
					}
					seq++
					batch.Records[i] = uplink.RawRecord{Seq: seq, Data: uplink.EncodePoints(nil, pts)}
				}
				if _, err := c.Send(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*records*perRecord)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
