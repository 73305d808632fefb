package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// replica is an ingest.Service of a hub replica on the NATS cluster at
// urls, storing into st.
func replica(t *testing.T, st store.Store, urls []string, name string) *ingest.Service {
	t.Helper()
	svc, err := ingest.New(st, 0, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	nc, js, err := cluster.Connect(t.Context(), urls, name, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// A long AckWait: no batch is delivered twice in this test, so its
	// order is the consumers' alone.
	if err := svc.UseCluster(t.Context(), ingest.ClusterConfig{JS: js, Replicas: 1, Partitions: 2, AckWait: time.Minute}, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	return svc
}

// clusterStore starts a NATS node and opens an embedded store for the
// replicas of a test.
func clusterStore(t *testing.T) (*clustertest.Cluster, store.Store) {
	t.Helper()
	nc := clustertest.Start(t, 1, false)
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/molen.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return nc, st
}

// waitWatermark waits until the watermark of e1's stream points/x is
// want.
func waitWatermark(t *testing.T, st store.Store, want uint64) {
	t.Helper()
	for {
		wm, err := st.Watermark(t.Context(), store.Source{Edge: "e1", Stream: "points/x"})
		if err != nil {
			t.Fatal(err)
		}
		if wm == want {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling for the condition
	}
}

// TestClusterOrder queues batches of one stream on the uplink stream
// first, then has two replicas store them at once: each batch is stored
// once, none skipped, because a partition's batches are handed out one at
// a time in order.
func TestClusterOrder(t *testing.T) {
	nc, st := clusterStore(t)
	a, b := replica(t, st, nc.URLs, "a"), replica(t, st, nc.URLs, "b")
	srv := apitest.Serve(t, nil, apitest.Secrets{"cred-a": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}, a.Routes())
	c := &uplink.Client{URL: srv.URL, Credential: "cred-a"}

	const n = 200
	for seq := uint64(1); seq <= n; seq++ {
		ack, err := c.Send(t.Context(), batch(seq))
		if want := (uplink.Ack{Stored: 1, Watermark: seq, Previous: seq - 1}); err != nil || ack != want {
			t.Fatalf("send %d: %+v, %v; want %+v", seq, ack, err, want)
		}
	}
	// A resend of what the stream holds is answered as stored, not queued.
	if ack, err := c.Send(t.Context(), batch(n)); err != nil || ack != (uplink.Ack{Watermark: n, Previous: n}) {
		t.Errorf("resend of %d: %+v, %v", n, ack, err)
	}
	if pts, _ := st.Raw(t.Context(), "a", "x/y", 0, n+1, 0); len(pts) != 0 {
		t.Fatalf("stored before any replica consumed: %d points", len(pts))
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, svc := range []*ingest.Service{a, b} {
		wg.Go(func() { svc.Consume(ctx) })
	}
	waitWatermark(t, st, n)
	cancel()
	wg.Wait()
	pts, err := st.Raw(t.Context(), "a", "x/y", 0, n+1, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, p := range pts {
		seen[p.Value.Int()]++
	}
	for seq := int64(1); seq <= n; seq++ {
		if seen[seq] != 1 {
			t.Errorf("point %d stored %d times, want once", seq, seen[seq])
		}
	}
}

// TestClusterRefuses: a batch the store would refuse is refused before
// it is queued, and an empty batch (the edge's probe) answers what the
// hub has.
func TestClusterRefuses(t *testing.T) {
	nc, st := clusterStore(t)
	a := replica(t, st, nc.URLs, "a")
	srv := apitest.Serve(t, nil, apitest.Secrets{"cred-a": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}, a.Routes())
	c := &uplink.Client{URL: srv.URL, Credential: "cred-a"}
	bad := uplink.Batch{Stream: "points/x", Records: []uplink.RawRecord{
		{Seq: 1, Data: uplink.EncodePoints(nil, []uns.Point{{Series: "x/y", TS: -1, Value: uns.Int(1)}})}}}
	if _, err := c.Send(t.Context(), bad); !errors.Is(err, uplink.ErrInvalidRecord) {
		t.Errorf("send of an invalid record: %v, want ErrInvalidRecord", err)
	}
	if _, err := c.Send(t.Context(), batch(7)); err != nil {
		t.Fatal(err)
	}
	if ack, err := c.Send(t.Context(), uplink.Batch{Stream: "points/x"}); err != nil || ack.Previous != 7 {
		t.Errorf("probe: %+v, %v; want previous 7 (the batch on the stream)", ack, err)
	}
}

// TestClusterDeadLetters: a batch on the stream that cannot be stored
// (one a replica of another version accepted) moves to the dead letters,
// where an operator finds it, and the partition goes on.
func TestClusterDeadLetters(t *testing.T) {
	nc, st := clusterStore(t)
	a := replica(t, st, nc.URLs, "a")
	conn, js, err := cluster.Connect(t.Context(), nc.URLs, "operator", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for p := range 2 { // one in each partition
		msg := &nats.Msg{Subject: fmt.Sprintf("molen.uplink.%d.bad%d", p, p), Data: []byte("not a batch"), Header: nats.Header{}}
		msg.Header.Set("Molen-Org", "a")
		msg.Header.Set("Molen-Edge", "e1")
		if _, err := js.PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	srv := apitest.Serve(t, nil, apitest.Secrets{"cred-a": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}, a.Routes())
	c := &uplink.Client{URL: srv.URL, Credential: "cred-a"}
	if _, err := c.Send(t.Context(), batch(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { a.Consume(ctx); close(done) }()
	waitWatermark(t, st, 1)
	cancel()
	<-done
	stream, err := js.Stream(t.Context(), ingest.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		m, err := stream.GetLastMsgForSubject(t.Context(), fmt.Sprintf("molen.uplink.dead.bad%d", p))
		if err != nil || string(m.Data) != "not a batch" || m.Header.Get("Molen-Error") == "" {
			t.Errorf("dead letter of partition %d: %v, %v", p, m, err)
		}
	}
}
