package faults

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// startReplica starts a hub process as a cluster replica on the
// PostgreSQL schema and the NATS servers. The admin token is the first
// replica's (the one that created the organisation).
func startReplica(t *testing.T, name, dsn, schema string, nats []string) *hub {
	t.Helper()
	h := &hub{dir: t.TempDir(), addr: freePort(t)}
	h.url = "http://" + h.addr
	h.proc = startProc(t, "hub-"+name, molenBin, "hub", "--data", h.dir, "--listen", h.addr, "--log-level", "warn",
		"--store", dsn, "--store-schema", schema, "--cluster", "--replica", name, "--nats", strings.Join(nats, ","),
		"--cluster-ack-wait", "2s")
	waitHTTP(t, h.url+"/healthz")
	if tok, err := os.ReadFile(filepath.Join(h.dir, "admin-token")); err == nil {
		h.admin = strings.TrimSpace(string(tok))
	}
	return h
}

// waitStored waits until the cluster's uplink stream is empty: every
// batch accepted has been stored.
func waitStored(t *testing.T, nats []string) {
	t.Helper()
	conn, js, err := cluster.Connect(t.Context(), nats, "check", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := js.Stream(t.Context(), ingest.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the uplink stream stored and empty", func() bool {
		info, err := stream.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	})
}

// TestFaultsKillReplica runs two hub replicas (processes) on PostgreSQL and
// a three-node NATS cluster (in the test process), and an edge given both
// replicas' addresses, each through a proxy that shows when a batch is on
// its way. It kills the replicas with SIGKILL in turn, preferably with a
// batch in flight, and restarts them: the edge fails over to the other
// replica by itself, batches a dead replica held on the stream go to the
// other after the ack wait, and every acknowledged point is stored
// exactly once.
func TestFaultsKillReplica(t *testing.T) {
	dsn := os.Getenv("MOLEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("MOLEN_TEST_POSTGRES is unset: the hub cluster needs PostgreSQL")
	}
	parallel(t)
	n := cycles(t, 4, 10, 30)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	a := startReplica(t, "a", dsn, schema, nc.URLs)
	b := startReplica(t, "b", dsn, schema, nc.URLs[1:])
	b.admin = a.admin
	replicas := []*hub{a, b}
	proxies := []*proxy{startProxy(t, a.addr), startProxy(t, b.addr)}
	e := startEdge(t, t.TempDir(), proxies[0].url()+","+proxies[1].url(), a.createEdge(t, "kill-replica"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, 20)

	began := time.Now()
	var resumes durations
	var inflight, orphaned int
	for i := range n {
		time.Sleep(time.Duration(400+200*(i%4)) * time.Millisecond)
		k := i % 2
		orphans := proxies[k].orphaned.Load()
		if proxies[k].waitInflight(2 * time.Second) {
			inflight++
		}
		killed := time.Now()
		replicas[k].kill()
		st, _ := e.waitFor(t, time.Minute, "forward after a replica was killed", func(s edgeStatus) bool { return s.contactAfter(killed) })
		resumes = append(resumes, st.Hub.LastContact.Sub(killed))
		orphaned += int(proxies[k].orphaned.Load() - orphans)
		replicas[k].restart(t)
	}
	s.stop(t)
	e.waitDrained(t, 60*time.Second)
	waitStored(t, nc.URLs)
	ta := a.verify(t, s)
	report(t, figure{
		Scenario: "kill -9 hub replica",
		Run: fmt.Sprintf("%d kills of 2 replicas in %s (%d with a batch in flight, %d answers lost), sim %g ticks/s × %d machines",
			n, fmtDur(time.Since(began)), inflight, orphaned, 20.0, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "edge forwarding again after a kill " + resumes.String(),
	})
	checkNoLoss(t, ta, false)
	if inflight == 0 {
		t.Errorf("no kill hit a batch in flight (%d kills)", n)
	}
}

// TestFaultsKillNATSNode runs three hub replicas (processes), each with an
// embedded NATS node of the cluster's three (the deployment of
// docs/cluster.md), and an edge given the three addresses through proxies.
// It kills the replicas with SIGKILL in turn — a hub replica and a NATS
// node at once, preferably with a batch in flight — and restarts them
// (the node rejoins and catches up on the stream): every acknowledged
// point is stored exactly once.
func TestFaultsKillNATSNode(t *testing.T) {
	dsn := os.Getenv("MOLEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("MOLEN_TEST_POSTGRES is unset: the hub cluster needs PostgreSQL")
	}
	parallel(t)
	n := cycles(t, 3, 9, 30)
	schema := metatest.Schema(t, dsn)
	replicas, clients := startNATSReplicas(t, dsn, schema, 3, nil)
	var urls []string
	proxies := make([]*proxy, len(replicas))
	for i, h := range replicas {
		proxies[i] = startProxy(t, h.addr)
		urls = append(urls, proxies[i].url())
	}
	e := startEdge(t, t.TempDir(), strings.Join(urls, ","), replicas[0].createEdge(t, "kill-nats"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, 20)

	began := time.Now()
	var resumes durations
	var inflight int
	for i := range n {
		time.Sleep(time.Duration(400+200*(i%4)) * time.Millisecond)
		k := i % len(replicas)
		if proxies[k].waitInflight(2 * time.Second) {
			inflight++
		}
		killed := time.Now()
		replicas[k].kill()
		st, _ := e.waitFor(t, time.Minute, "forward after a replica and its NATS node were killed", func(s edgeStatus) bool { return s.contactAfter(killed) })
		resumes = append(resumes, st.Hub.LastContact.Sub(killed))
		replicas[k].restart(t)
	}
	s.stop(t)
	e.waitDrained(t, 60*time.Second)
	waitStored(t, []string{"nats://" + clients[0], "nats://" + clients[1], "nats://" + clients[2]})
	ta := replicas[0].verify(t, s)
	report(t, figure{
		Scenario: "kill -9 hub replica with its NATS node",
		Run: fmt.Sprintf("%d kills of 3 replicas, each one node of the R3 stream, in %s (%d with a batch in flight), sim %g ticks/s × %d machines",
			n, fmtDur(time.Since(began)), inflight, 20.0, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "edge forwarding again after a kill " + resumes.String(),
	})
	checkNoLoss(t, ta, false)
	if inflight == 0 {
		t.Errorf("no kill hit a batch in flight (%d kills)", n)
	}
}

// startNATSReplicas starts size hub replicas (processes) on the PostgreSQL
// schema, each running one node of a NATS cluster of size nodes (the
// deployment of docs/cluster.md), with extra flags for each by its name
// (nil: none), and returns them once every one answers, each knowing the
// admin token, with their NATS nodes' client addresses.
func startNATSReplicas(t *testing.T, dsn, schema string, size int, extra func(name string) []string) (replicas []*hub, clients []string) {
	t.Helper()
	clients, routes := make([]string, size), make([]string, size)
	for i := range size {
		clients[i], routes[i] = freePort(t), freePort(t)
	}
	replicas = make([]*hub, size)
	for i := range size {
		name := fmt.Sprintf("r%d", i+1)
		var others []string
		for j := range size {
			if j != i {
				others = append(others, routes[j])
			}
		}
		h := &hub{dir: t.TempDir(), addr: freePort(t)}
		h.url = "http://" + h.addr
		args := []string{molenBin, "hub", "--data", h.dir, "--listen", h.addr, "--log-level", "warn",
			"--store", dsn, "--store-schema", schema, "--cluster", "--replica", name, "--cluster-ack-wait", "2s",
			"--nats-listen", clients[i], "--nats-cluster-listen", routes[i], "--nats-routes", strings.Join(others, ",")}
		if extra != nil {
			args = append(args, extra(name)...)
		}
		h.proc = startProc(t, "hub-"+name, args...)
		replicas[i] = h
	}
	// Each waits for a JetStream quorum: all start before any answers,
	// once the NATS cluster elected its leaders.
	var admin string
	for _, h := range replicas {
		waitUntil(t, 2*time.Minute, h.url+" up", h.healthy)
		if tok, err := os.ReadFile(filepath.Join(h.dir, "admin-token")); err == nil {
			admin = strings.TrimSpace(string(tok))
		}
	}
	for _, h := range replicas {
		h.admin = admin
	}
	return replicas, clients
}
