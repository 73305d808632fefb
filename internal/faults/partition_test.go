package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// partitionedNATS is a three-node NATS cluster in the test process whose
// third node reaches the other two, and they it, only through proxies:
// cutting those proxies cuts it off (a partition), bringing them up
// heals it.
type partitionedNATS struct {
	nodes [3]*server.Server
	cut   []*proxy // the links of node 3 to nodes 1 and 2, both ways
	// client3 is a proxy to node 3's clients' port.
	client3 *proxy
}

func startPartitionedNATS(t *testing.T) *partitionedNATS {
	t.Helper()
	var routes [3]string
	for i := range routes {
		routes[i] = freePort(t)
	}
	pn := &partitionedNATS{}
	p13, p23 := startTCPProxy(t, routes[2]), startTCPProxy(t, routes[2])
	p31, p32 := startTCPProxy(t, routes[0]), startTCPProxy(t, routes[1])
	pn.cut = []*proxy{p13, p23, p31, p32}
	peers := [3][]string{{routes[1], p13.addr}, {routes[0], p23.addr}, {p31.addr, p32.addr}}
	dir := t.TempDir()
	for i := range 3 {
		// The nodes advertise no usable route address: they never learn a
		// way to each other other than the routes given (through the
		// proxies), nor their clients other servers than those given.
		n := cluster.Node{Name: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", ClusterListen: routes[i], Routes: peers[i],
			Advertise: "127.0.0.1:1", NoAdvertise: true, Dir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), SyncAlways: true}
		s, err := cluster.StartNode(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		pn.nodes[i] = s
	}
	pn.client3 = startTCPProxy(t, pn.nodes[2].Addr().String())
	waitUntil(t, time.Minute, "the NATS nodes routed to each other", func() bool {
		return pn.nodes[0].NumRoutes() > 0 && pn.nodes[1].NumRoutes() > 0 && pn.nodes[2].NumRoutes() > 0
	})
	return pn
}

// partition cuts node 3 off from nodes 1 and 2 (and, with clients, from
// the clients that reach it through client3) and returns once it has no
// route left.
func (pn *partitionedNATS) partition(t *testing.T, clients bool) {
	t.Helper()
	for _, p := range pn.cut {
		p.down()
	}
	if clients {
		pn.client3.down()
	}
	waitUntil(t, time.Minute, "node 3 cut off", func() bool { return pn.nodes[2].NumRoutes() == 0 })
}

// heal brings the links up again and returns once node 3 has its routes
// back.
func (pn *partitionedNATS) heal(t *testing.T) {
	t.Helper()
	for _, p := range pn.cut {
		p.up()
	}
	if !pn.client3.isUp() {
		pn.client3.up()
	}
	waitUntil(t, 2*time.Minute, "node 3 routed again", func() bool { return pn.nodes[2].NumRoutes() > 0 })
}

// TestFaultsNATSPartition runs two hub replicas (processes) on PostgreSQL
// and a three-node NATS cluster (in the test process): replica a talks to
// node 1, replica b only to node 3, which the test cuts off from the other
// two nodes through proxies on the routes — in turn alone (b stays
// connected to a node without a quorum) and with its clients (b loses
// NATS) — and heals again, with the simulator publishing through an edge
// given both replicas. Every acknowledged point is stored exactly once.
func TestFaultsNATSPartition(t *testing.T) {
	dsn := metatest.DSN(t)
	parallel(t)
	n := cycles(t, 2, 4, 20)
	schema := metatest.Schema(t, dsn)
	pn := startPartitionedNATS(t)
	a := startReplica(t, "a", dsn, schema, []string{pn.nodes[0].ClientURL()})
	b := startReplica(t, "b", dsn, schema, []string{"nats://" + pn.client3.addr})
	b.admin = a.admin
	e := startEdge(t, t.TempDir(), b.url+","+a.url, a.createEdge(t, "nats-partition"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, 20)

	began := time.Now()
	var resumes, heals durations
	for i := range n {
		time.Sleep(time.Duration(400+200*(i%4)) * time.Millisecond)
		cut := time.Now()
		pn.partition(t, i%2 == 1)
		st, _ := e.waitFor(t, 2*time.Minute, "forward with NATS node 3 cut off", func(s edgeStatus) bool { return s.contactAfter(cut) })
		resumes = append(resumes, st.Hub.LastContact.Sub(cut))
		healed := time.Now()
		pn.heal(t)
		heals = append(heals, time.Since(healed))
	}
	s.stop(t)
	e.waitDrained(t, 2*time.Minute)
	waitStored(t, []string{pn.nodes[0].ClientURL()})
	ta := a.verify(t, s)
	report(t, figure{
		Scenario: "NATS node partitioned off",
		Run: fmt.Sprintf("%d partitions of node 3 (routes; routes and clients in turn), healed after each, in %s; node 3 routed again %s; sim %g ticks/s × %d machines",
			n, fmtDur(time.Since(began)), heals.String(), 20.0, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "edge acknowledged again after the cut " + resumes.String(),
	})
	checkNoLoss(t, ta, false)
}
