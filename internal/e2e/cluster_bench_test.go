package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// The cluster benchmarks' edges: streams sending batches of benchRecords
// records of benchPerRecord points (one per series bench/s<stream>/t<i>).
const benchStreams, benchRecords, benchPerRecord = 8, 100, 10

// benchCluster starts n hub replicas on one PostgreSQL schema and a
// three-node NATS cluster (R3, fsync always), all in this process, with
// no rate limits (the edges of a whole site), and enrolls an edge.
func benchCluster(b *testing.B, n int, now time.Time) ([]*hub.Hub, uplink.Enrollment) {
	dsn := metatest.DSN(b)
	schema := metatest.Schema(b, dsn)
	nc := clustertest.Start(b, 3, true)
	none := api.Rate{PerSecond: -1}
	var hubs []*hub.Hub
	for i := range n {
		h, err := hub.Start(b.Context(), hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema,
			Out: io.Discard, Now: func() time.Time { return now },
			Rates:   hub.Rates{Address: none, Org: none, Caller: none, Edge: none},
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
	return hubs, en
}

// benchSender sends stream s's batches, its points step apart from
// clusterBase, to one replica.
type benchSender struct {
	c    *uplink.Client
	s    int
	step time.Duration
	seq  uint64 // the last record sent
}

func (bs *benchSender) send(ctx context.Context) error {
	bt := uplink.Batch{Stream: fmt.Sprintf("points/%d", bs.s)}
	for range benchRecords {
		bs.seq++
		pts := make([]uns.Point, benchPerRecord)
		for i := range pts {
			pts[i] = uns.Point{Series: fmt.Sprintf("bench/s%d/t%d", bs.s, i), TS: clusterBase + int64(bs.seq)*int64(bs.step), Value: uns.Float(float64(bs.seq))}
		}
		bt.Records = append(bt.Records, uplink.RawRecord{Seq: bs.seq, Data: uplink.EncodePoints(nil, pts)})
	}
	_, err := bs.c.Send(ctx, bt)
	return err
}

// benchSenders are one sender a stream, stream s to replica s mod n.
func benchSenders(hubs []*hub.Hub, en uplink.Enrollment, step time.Duration) []*benchSender {
	out := make([]*benchSender, benchStreams)
	for s := range out {
		out[s] = &benchSender{c: &uplink.Client{URL: hubs[s%len(hubs)].URL(), Credential: en.Credential}, s: s, step: step}
	}
	return out
}

// waitStored waits until the store has every record the senders sent.
func waitStored(b *testing.B, st store.Store, en uplink.Enrollment, senders []*benchSender) {
	for _, bs := range senders {
		src := store.Source{Edge: en.EdgeID, Stream: fmt.Sprintf("points/%d", bs.s)}
		for {
			wm, err := st.Watermark(b.Context(), src)
			if err != nil {
				b.Fatal(err)
			}
			if wm >= bs.seq {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// BenchmarkClusterIngest measures the ingest of hub replicas (1, 2, 3) on
// one PostgreSQL and a three-node NATS cluster (R3, fsync always), all in
// this process: 8 edges' streams, each sending batches of 100 records of
// 10 points one after the other to a replica (edge k to replica k mod n),
// until every point is stored. b.N is the number of batches. points/cpu-s
// is what the process (replicas, NATS nodes and the edges' clients; not
// PostgreSQL) spent.
func BenchmarkClusterIngest(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			hubs, en := benchCluster(b, n, time.Unix(0, clusterBase))
			senders := benchSenders(hubs, en, time.Millisecond)
			var next atomic.Int64
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			var wg sync.WaitGroup
			for _, bs := range senders {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := bs.send(b.Context()); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			accepted := time.Since(start)
			waitStored(b, hubs[0].Store(), en, senders)
			stored, cpu := time.Since(start), processCPU()-cpu
			pts := float64(b.N * benchRecords * benchPerRecord)
			b.ReportMetric(pts/accepted.Seconds(), "accepted-points/s")
			b.ReportMetric(pts/stored.Seconds(), "stored-points/s")
			// The replicas', NATS nodes' and edges' CPU, not PostgreSQL's.
			b.ReportMetric(pts/cpu.Seconds(), "points/cpu-s")
		})
	}
}

// BenchmarkClusterQueryUnderIngest measures a dashboard's chart query (GET
// /api/v1/query, one series, an hour, points=300, as the web
// application's machine page asks) on the first of three replicas, with
// the cluster idle and while the 8 streams of BenchmarkClusterIngest send
// as fast as they are answered to all three. The series has a point a
// second, an hour of them (3,600) stored before; under ingest the streams
// go on after that hour (the query's range), into the same series and
// tables. b.N is the number of queries, one after the other.
func BenchmarkClusterQueryUnderIngest(b *testing.B) {
	for _, ingest := range []bool{false, true} {
		b.Run(fmt.Sprintf("ingest=%v", ingest), func(b *testing.B) {
			hubs, en := benchCluster(b, 3, time.Unix(0, clusterBase).Add(2*time.Hour))
			senders := benchSenders(hubs, en, time.Second)
			var wg sync.WaitGroup
			for _, bs := range senders {
				wg.Go(func() {
					for range 3600 / benchRecords {
						if err := bs.send(b.Context()); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			waitStored(b, hubs[0].Store(), en, senders)
			token, err := hubs[0].AdminToken()
			if err != nil {
				b.Fatal(err)
			}
			from := clusterBase / 1e6
			url := fmt.Sprintf("%s/api/v1/query?series=bench/s0/t0&from=%d&to=%d&points=300", hubs[0].URL(), from, from+3600_000)
			query := func() int {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				var out struct {
					Buckets []json.RawMessage `json:"buckets"`
				}
				if resp.StatusCode != http.StatusOK {
					body, _ := io.ReadAll(resp.Body)
					b.Fatalf("query: %s: %s", resp.Status, body)
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
					b.Fatal(err)
				}
				return len(out.Buckets)
			}
			if got := query(); got < 200 {
				b.Fatalf("the chart has %d buckets, want 240 (an hour of 15 s)", got)
			}
			ctx, stop := context.WithCancel(b.Context())
			var sent atomic.Int64
			if ingest {
				for _, bs := range senders {
					wg.Go(func() {
						for ctx.Err() == nil {
							if err := bs.send(ctx); err != nil {
								if ctx.Err() == nil {
									b.Error(err)
								}
								return
							}
							sent.Add(benchRecords * benchPerRecord)
						}
					})
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				t0 := time.Now()
				query()
				lat = append(lat, time.Since(t0))
			}
			took := time.Since(start)
			b.StopTimer()
			stop()
			wg.Wait()
			slices.Sort(lat)
			q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.95), "p95-ms")
			b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
			if ingest {
				b.ReportMetric(float64(sent.Load())/took.Seconds(), "accepted-points/s")
			}
		})
	}
}
