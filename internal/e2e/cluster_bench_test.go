package e2e

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// BenchmarkClusterIngest measures the ingest of hub replicas (1, 2, 3) on
// one PostgreSQL and a three-node NATS cluster (R3, fsync always), all in
// this process: 8 edges' streams, each sending batches of 100 records of
// 10 points one after the other to a replica (edge k to replica k mod n),
// until every point is stored. b.N is the number of batches.
func BenchmarkClusterIngest(b *testing.B) {
	const streams, records, perRecord = 8, 100, 10
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			dsn := metatest.DSN(b)
			schema := metatest.Schema(b, dsn)
			nc := clustertest.Start(b, 3, true)
			var hubs []*hub.Hub
			for i := range n {
				h, err := hub.Start(b.Context(), hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema,
					Out: io.Discard, Now: func() time.Time { return time.Unix(0, clusterBase) },
					Rates:   hub.Rates{Org: api.Rate{PerSecond: -1}, Edge: api.Rate{PerSecond: -1}}, // the edges of a whole site
					Cluster: &hub.Cluster{NATS: nc.URLs, Replica: fmt.Sprint(i), Replicas: 3}})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { h.Close() })
				hubs = append(hubs, h)
			}
			_, token, err := hubs[0].CreateEdge(b.Context(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			en, err := (&uplink.Client{URL: hubs[0].URL()}).Enroll(b.Context(), token, "")
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			last := make([]uint64, streams)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for s := range streams {
				wg.Go(func() {
					c := &uplink.Client{URL: hubs[s%n].URL(), Credential: en.Credential}
					seq := uint64(0)
					for next.Add(1) <= int64(b.N) {
						bt := uplink.Batch{Stream: fmt.Sprintf("points/%d", s)}
						for range records {
							seq++
							pts := make([]uns.Point, perRecord)
							for i := range pts {
								pts[i] = uns.Point{Series: fmt.Sprintf("bench/s%d/t%d", s, i), TS: clusterBase + int64(seq)*1e6, Value: uns.Float(float64(seq))}
							}
							bt.Records = append(bt.Records, uplink.RawRecord{Seq: seq, Data: uplink.EncodePoints(nil, pts)})
						}
						if _, err := c.Send(b.Context(), bt); err != nil {
							b.Error(err)
							return
						}
					}
					last[s] = seq
				})
			}
			wg.Wait()
			accepted := time.Since(start)
			st := hubs[0].Store()
			for s := range streams {
				src := store.Source{Edge: en.EdgeID, Stream: fmt.Sprintf("points/%d", s)}
				for {
					wm, err := st.Watermark(b.Context(), src)
					if err != nil {
						b.Fatal(err)
					}
					if wm >= last[s] {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			stored := time.Since(start)
			pts := float64(b.N * records * perRecord)
			b.ReportMetric(pts/accepted.Seconds(), "accepted-points/s")
			b.ReportMetric(pts/stored.Seconds(), "stored-points/s")
		})
	}
}
