package faults

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// TestRollingRestart upgrades a hub cluster as docs/cluster.md says, one
// replica at a time: three hub processes, each running one node of the
// NATS cluster with TLS on its routes and for its clients (certificates of
// one CA), an edge given the three addresses under the simulator's load.
// Each replica in turn is stopped with SIGTERM (it stops taking uplink,
// finishes the batches it holds, hands its NATS leaderships on) and started
// again (with the same binary: what the procedure does with a new one),
// the next only once it answers. Every acknowledged point is stored exactly
// once, and the edge never gets an answer refusing a batch: only the
// stopped replica's closed connection, after which it fails over.
func TestRollingRestart(t *testing.T) {
	dsn := os.Getenv("MOLEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("MOLEN_TEST_POSTGRES is unset: the hub cluster needs PostgreSQL")
	}
	parallel(t)
	rounds := cycles(t, 1, 2, 5)
	schema := metatest.Schema(t, dsn)
	pki := clustertest.NewPKI(t)
	replicas, clients := startNATSReplicas(t, dsn, schema, 3, func(name string) []string {
		tls := pki.Issue(t, name)
		return []string{"--nats-tls-cert", tls.Cert, "--nats-tls-key", tls.Key, "--nats-tls-ca", tls.CA}
	})
	var urls []string
	for _, h := range replicas {
		urls = append(urls, h.url)
	}
	e := startEdge(t, t.TempDir(), strings.Join(urls, ","), replicas[0].createEdge(t, "rolling"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, 20)

	// refusals collects the edge's errors that are a hub's answer, not a
	// connection lost to a stopping replica.
	var refusals []string
	watch := func(st edgeStatus) {
		if err := st.Hub.LastError; strings.HasPrefix(err, "hub answered") && !slices.Contains(refusals, err) {
			refusals = append(refusals, err)
		}
	}
	began := time.Now()
	var stops, resumes durations
	for range rounds {
		for _, h := range replicas {
			// Load on the cluster: the edge forwards more before each stop.
			before := e.status(t).Forward.Records
			e.waitFor(t, time.Minute, "forward under load", func(st edgeStatus) bool {
				watch(st)
				return st.Forward.Records > before+20
			})
			stopped := time.Now()
			exited := terminate(t, h.proc)
			st, _ := e.waitFor(t, time.Minute, "forward while a replica stops", func(st edgeStatus) bool {
				watch(st)
				return st.contactAfter(stopped)
			})
			resumes = append(resumes, st.Hub.LastContact.Sub(stopped))
			exited()
			stops = append(stops, time.Since(stopped))
			h.restart(t)
		}
	}
	s.stop(t)
	e.waitDrained(t, 60*time.Second)
	watch(e.status(t))

	conn, js, err := cluster.Client{URLs: []string{"tls://" + clients[0], "tls://" + clients[1], "tls://" + clients[2]},
		Name: "check", TLS: pki.Issue(t, "check")}.Connect(t.Context(), slog.New(slog.DiscardHandler))
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
	ta := replicas[0].verify(t, s)
	report(t, figure{
		Scenario: "rolling restart of a hub cluster (SIGTERM, one replica at a time)",
		Run: fmt.Sprintf("%d restarts of 3 replicas, each one node of the R3 stream, TLS on NATS routes and clients, in %s; each stop took %s; sim %g ticks/s × %d machines",
			len(stops), fmtDur(time.Since(began)), stops.String(), 20.0, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "edge forwarding again after a stop " + resumes.String(),
	})
	checkNoLoss(t, ta, false)
	if len(refusals) > 0 {
		t.Errorf("the edge was refused during the upgrade, beyond failing over: %q", refusals)
	}
}

// terminate sends p SIGTERM once (a second would not let it finish) and
// returns a function that waits, at most a minute, until it has exited.
func terminate(t *testing.T, p *proc) (wait func()) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to %s: %v", p.name, err)
	}
	return func() {
		t.Helper()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			t.Fatalf("%s did not shut down within a minute of SIGTERM", p.name)
		}
	}
}
