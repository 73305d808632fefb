package e2e

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/live/livetest"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// clusterBase is the time of the cluster tests' points, and their hubs'
// clock.
const clusterBase = int64(1_700_000_000_000_000_000)

// clusterClock is a hub clock that starts at clusterBase and runs: the
// replicas' rate limits, kept in the shared PostgreSQL, refill by it (a
// clock standing still would refuse an edge for ever once both
// replicas together spent its burst).
func clusterClock() func() time.Time {
	start := time.Now()
	return func() time.Time { return time.Unix(0, clusterBase).Add(time.Since(start)) }
}

// startReplica starts a hub replica on the PostgreSQL schema and the NATS
// cluster nodes, stopped when the test ends.
func startReplica(t *testing.T, dsn, schema string, nats []string, name string, now func() time.Time, opts ...func(*hub.Config)) *hub.Hub {
	t.Helper()
	var logs logtest.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of replica %s:\n%s", name, logs.String())
		}
	})
	cfg := hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema, Out: io.Discard,
		Log:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:     now,
		Cluster: &hub.Cluster{NATS: nats, Replica: name, Replicas: 3, Partitions: 4, AckWait: time.Second}}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := hub.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestClusterReplicaStops runs two hub replicas on one PostgreSQL and a
// three-node NATS JetStream cluster. An edge that knows both replicas
// sends three streams; the replica it sends to stops in the middle, with
// batches on their way. The edge goes on with the other replica, and the
// store has every point exactly once.
func TestClusterReplicaStops(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	now := clusterClock()
	a := startReplica(t, dsn, schema, nc.URLs, "a", now)
	b := startReplica(t, dsn, schema, nc.URLs[1:], "b", now)
	ctx := t.Context()
	_, token, err := a.CreateEdge(ctx, "line")
	if err != nil {
		t.Fatal(err)
	}
	en, err := (&uplink.Client{URL: a.URL()}).Enroll(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}

	const streams, batches, records = 3, 40, 10
	var stopped sync.WaitGroup
	var wg sync.WaitGroup
	var failovers [streams]int
	for s := range streams {
		wg.Go(func() {
			c := &uplink.Client{URL: a.URL() + "," + b.URL(), Credential: en.Credential}
			for i := range batches {
				if s == 0 && i == batches/2 {
					stopped.Go(func() { a.Close() }) // while the others send
				}
				var bt uplink.Batch
				bt.Stream = fmt.Sprintf("points/s%d", s)
				for r := range records {
					seq := uint64(i*records + r + 1)
					pts := []uns.Point{{Series: fmt.Sprintf("cluster/s%d/v", s), TS: clusterBase + int64(seq)*1e6, Value: uns.Int(int64(seq))}}
					bt.Records = append(bt.Records, uplink.RawRecord{Seq: seq, Data: uplink.EncodePoints(nil, pts)})
				}
				for {
					if _, err := c.Send(ctx, bt); err == nil {
						break
					}
					failovers[s]++
					if ctx.Err() != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	stopped.Wait()
	if failovers == [streams]int{} {
		t.Errorf("no send failed over: the replica stopped after the edge was done")
	}
	st := b.Store()
	for s := range streams {
		src := store.Source{Edge: en.EdgeID, Stream: fmt.Sprintf("points/s%d", s)}
		waitFor(t, "stream "+src.Stream+" stored", func() bool {
			wm, err := st.Watermark(ctx, src)
			return err == nil && wm == batches*records
		})
		pts, err := st.Raw(ctx, hub.DefaultOrg, fmt.Sprintf("cluster/s%d/v", s), 0, clusterBase+1e12, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]int{}
		for _, p := range pts {
			seen[p.Value.Int()]++
		}
		for seq := int64(1); seq <= batches*records; seq++ {
			if seen[seq] != 1 {
				t.Errorf("stream %d: point %d stored %d times, want once", s, seq, seen[seq])
			}
		}
		if len(pts) != batches*records {
			t.Errorf("stream %d: %d points stored, want %d", s, len(pts), batches*records)
		}
	}
}

// TestClusterEdgeFailsOver runs a real edge, given both replicas' addresses,
// with the simulator's machines; the replica it sends to stops, the edge
// goes on with the other by itself, and every tick the machines had
// acknowledged is stored exactly once.
func TestClusterEdgeFailsOver(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	a := startReplica(t, dsn, schema, nc.URLs, "a", nil)
	b := startReplica(t, dsn, schema, nc.URLs, "b", nil)
	ctx := t.Context()
	_, token, err := a.CreateEdge(ctx, "line")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Start(ctx, edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: a.URL() + "," + b.URL(), EnrollToken: token})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, minAcked, stopSim := runSim(t, e.MQTTAddr())
	waitFor(t, "20 acknowledged ticks of every machine", func() bool { return minAcked() >= 20 })
	if err := a.Close(); err != nil {
		t.Fatalf("stop replica a: %v", err)
	}
	stopped := time.Now()
	waitFor(t, "the edge to forward to replica b", func() bool {
		lc := e.Status().Hub.LastContact
		return lc != nil && lc.After(stopped)
	})
	before := minAcked()
	waitFor(t, "20 more acknowledged ticks of every machine", func() bool { return minAcked() >= before+20 })
	stopSim()
	acked := s.Acked()
	waitFor(t, "the edge to forward every record it holds", func() bool { return e.Status().Outbox.PendingRecords == 0 })
	st := b.Store()
	for _, m := range s.Machines() {
		var pts []uns.Point
		waitFor(t, m+"'s acknowledged ticks stored", func() bool {
			pts, err = st.Raw(ctx, hub.DefaultOrg, m+"/seq", 0, math.MaxInt64, 0)
			return err == nil && len(pts) >= int(acked[m])
		})
		seen := map[int64]int{}
		for _, p := range pts {
			seen[p.Value.Int()]++
		}
		var missing, dup []int64
		for seq := int64(1); seq <= int64(acked[m]); seq++ {
			switch seen[seq] {
			case 0:
				missing = append(missing, seq)
			case 1:
			default:
				dup = append(dup, seq)
			}
		}
		if len(missing) > 0 || len(dup) > 0 || len(pts) != int(acked[m]) {
			t.Errorf("%s: %d acked ticks, %d stored: missing %v, duplicated %v", m, acked[m], len(pts), head(missing), head(dup))
		}
	}
}

// TestClusterLive: what one replica's consumers store reaches the live
// streams of every replica, once.
func TestClusterLive(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	now := clusterClock()
	a := startReplica(t, dsn, schema, nc.URLs, "a", now)
	b := startReplica(t, dsn, schema, nc.URLs, "b", now)
	admin, err := a.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	streams := []*livetest.Stream{livetest.Open(t, a.URL()+"/api/v1/live", admin), livetest.Open(t, b.URL()+"/api/v1/live", admin)}
	_, token, err := a.CreateEdge(t.Context(), "line")
	if err != nil {
		t.Fatal(err)
	}
	c := &uplink.Client{URL: a.URL()}
	en, err := c.Enroll(t.Context(), token, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Credential = en.Credential
	for seq := uint64(1); seq <= 3; seq++ {
		pts := []uns.Point{{Series: "cluster/live/v", TS: clusterBase + int64(seq), Value: uns.Int(int64(seq))}}
		bt := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{{Seq: seq, Data: uplink.EncodePoints(nil, pts)}}}
		for range 2 { // the second time a duplicate: published once
			if _, err := c.Send(t.Context(), bt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, s := range streams {
		for seq := 1; seq <= 3; seq++ {
			if m := s.NextEvent(); m.Event != "points" || !strings.Contains(m.Data, fmt.Sprintf(`"value":%d`, seq)) {
				t.Errorf("replica %d's stream: got %+v, want point %d", i, m, seq)
			}
		}
	}
}
