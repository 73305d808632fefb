package faults

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/cluster/clustertest"
)

// postgresServer is a private PostgreSQL server of one test: its own data
// directory and port, never the machine's server, so that the test may
// stop it. Root runs it as the postgres user (PostgreSQL refuses root).
type postgresServer struct {
	t         *testing.T
	bin, dir  string
	port      int
	cred      *syscall.Credential // nil: the test's own user
	mu        sync.Mutex          // guards cmd and done
	cmd       *exec.Cmd
	done      chan struct{}
	startedAt time.Time
}

// postgresBin is the directory of the installed PostgreSQL server
// binaries (Debian's /usr/lib/postgresql/<version>/bin), or "".
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// startPostgres initialises and starts a private PostgreSQL server; it
// skips the test when the server binaries are missing, unless
// MOLEN_REQUIRE_POSTGRES_SERVER is set (CI).
func startPostgres(t *testing.T) *postgresServer {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		if os.Getenv("MOLEN_REQUIRE_POSTGRES_SERVER") != "" {
			t.Fatal("MOLEN_REQUIRE_POSTGRES_SERVER is set and the PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)")
		}
		t.Skip("the PostgreSQL server binaries (initdb, pg_ctl; apt-get install postgresql) are not installed: this test runs its own server")
	}
	// Not t.TempDir: its parents are private to the test's user.
	dir, err := os.MkdirTemp("", "molen-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &postgresServer{t: t, bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	port, _ := strconv.Atoi(freePort(t)[len("127.0.0.1:"):])
	p.port = port
	if out, err := p.command("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() { p.stop(t, "immediate") })
	p.start(t)
	return p
}

func (p *postgresServer) data() string { return filepath.Join(p.dir, "data") }

func (p *postgresServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	cmd.Dir = p.dir
	return cmd
}

// dsn is the server's URL, database postgres.
func (p *postgresServer) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start starts the server (the postmaster runs as the test's child, so it
// dies with the test) and returns once it accepts connections.
func (p *postgresServer) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	cmd := p.command("postgres", "-D", p.data(), "-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done, p.startedAt = cmd, done, time.Now()
	p.mu.Unlock()
	waitUntil(t, time.Minute, "private PostgreSQL accepting connections", func() bool {
		return p.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port)).Run() == nil
	})
}

// stop stops the server with pg_ctl in mode: fast (connections ended,
// a checkpoint) or immediate (no checkpoint: recovery from the WAL at the
// next start, as after a crash); it returns once the server is gone.
func (p *postgresServer) stop(t *testing.T, mode string) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if out, err := p.command("pg_ctl", "stop", "-D", p.data(), "-m", mode, "-w", "-t", "60").CombinedOutput(); err != nil {
		_ = cmd.Process.Kill()
		t.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	<-done
}

// TestFaultsPostgresRestart runs two hub replicas (processes) on a private
// PostgreSQL server and a three-node NATS cluster (in the test process),
// and an edge given both replicas' addresses, with the simulator
// publishing. It stops PostgreSQL in turn fast and immediately (a crash:
// recovery from the WAL), waits until both replicas see it gone, and
// starts it again: the edge keeps what it cannot forward meanwhile,
// batches the replicas held on the stream are stored once PostgreSQL is
// back, and every acknowledged point is stored exactly once.
func TestFaultsPostgresRestart(t *testing.T) {
	parallel(t)
	pg := startPostgres(t)
	n := cycles(t, 2, 4, 20)
	nc := clustertest.Start(t, 3, true)
	a := startReplica(t, "a", pg.dsn(), "molen", nc.URLs)
	b := startReplica(t, "b", pg.dsn(), "molen", nc.URLs[1:])
	b.admin = a.admin
	e := startEdge(t, t.TempDir(), a.url+","+b.url, a.createEdge(t, "pg-restart"))
	e.waitEnrolled(t)
	s := startSim(t, e.mqtt, 20)

	began := time.Now()
	var downs, stored durations
	retries := func() float64 {
		var sum float64
		for _, h := range []*hub{a, b} {
			v, _ := metric(h.url+"/metrics", "molen_hub_uplink_consumed_total", `result="retry"`)
			sum += v
		}
		return sum
	}
	// A restart hits a batch being stored by chance: after the n planned
	// ones, up to eight more until one has (the check at the end).
	restarts := 0
	for i := 0; i < n || (retries() == 0 && i < n+8); i++ {
		restarts++
		time.Sleep(time.Duration(400+200*(i%4)) * time.Millisecond)
		mode := []string{"fast", "immediate"}[i%2]
		stopped := time.Now()
		pg.stop(t, mode)
		waitUntil(t, time.Minute, "both replicas seeing PostgreSQL gone", func() bool { return !a.healthy() && !b.healthy() })
		downs = append(downs, time.Since(stopped))
		pg.start(t)
		restarted := time.Now()
		st, _ := e.waitFor(t, 2*time.Minute, "forward after PostgreSQL restarted", func(s edgeStatus) bool { return s.contactAfter(restarted) })
		stored = append(stored, st.Hub.LastContact.Sub(restarted))
	}
	s.stop(t)
	e.waitDrained(t, 2*time.Minute)
	waitStored(t, nc.URLs)
	ta := a.verify(t, s)
	report(t, figure{
		Scenario: "PostgreSQL restart under 2 hub replicas",
		Run: fmt.Sprintf("%d restarts (fast and immediate in turn, down %s) in %s, %g batch stores retried, sim %g ticks/s × %d machines",
			restarts, downs.String(), fmtDur(time.Since(began)), retries(), 20.0, len(s.acked)),
		Acked:  ta.points,
		Lost:   ta.lost,
		Dup:    ta.dup,
		Resume: "edge acknowledged again after PostgreSQL started " + stored.String(),
	})
	checkNoLoss(t, ta, false)
	if retries() == 0 {
		t.Errorf("no restart hit a batch being stored (%d restarts)", restarts)
	}
}
