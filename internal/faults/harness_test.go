package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/sim"
)

// molenBin is the binary under test: built once by TestMain, or taken from
// MOLEN_FAULTS_BIN.
var molenBin string

// long is MOLEN_FAULTS_LONG: longer runs for the figures in
// docs/reliability.md, scenarios one after the other.
var long = os.Getenv("MOLEN_FAULTS_LONG") != ""

// full is MOLEN_FAULTS_FULL (or MOLEN_FAULTS_LONG): every scenario and
// variant. Without it go test runs a representative short set.
var full = long || os.Getenv("MOLEN_FAULTS_FULL") != ""

// fullOnly skips the test unless the full suite runs.
func fullOnly(t *testing.T) {
	t.Helper()
	if !full {
		t.Skip("in the full suite only (MOLEN_FAULTS_FULL=1)")
	}
}

func TestMain(m *testing.M) {
	code := run(m)
	os.Exit(code)
}

func run(m *testing.M) int {
	if p := os.Getenv("MOLEN_FAULTS_BIN"); p != "" {
		molenBin = p
	} else {
		dir, err := os.MkdirTemp("", "molen-faults-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		molenBin = filepath.Join(dir, "molen")
		root, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOMOD:", err)
			return 1
		}
		build := exec.Command("go", "build", "-tags", "faultpoints", "-o", molenBin, "./cmd/molen")
		build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build molen: %v\n%s", err, out)
			return 1
		}
	}
	code := m.Run()
	writeFigures()
	return code
}

// pick returns the short (CI) or the long value of a setting.
func pick[T any](short, long_ T) T {
	if long {
		return long_
	}
	return short
}

// cycles is how many faults a scenario injects: short by default, more in
// the full suite, long with MOLEN_FAULTS_LONG; MOLEN_FAULTS_CYCLES
// overrides them.
func cycles(t *testing.T, short, full_, long_ int) int {
	t.Helper()
	if s := os.Getenv("MOLEN_FAULTS_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MOLEN_FAULTS_CYCLES=%q: want a positive integer", s)
		}
		return n
	}
	switch {
	case long:
		return long_
	case full:
		return full_
	}
	return short
}

// parallel runs the test in parallel with the other scenarios in the short
// variant; the long variant runs them one after the other, so that the
// times it measures are not shared with other scenarios.
func parallel(t *testing.T) {
	if !long {
		t.Parallel()
	}
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a molen process that the test starts, kills and restarts; its
// output goes to one log file across restarts, shown when the test fails.
type proc struct {
	t       *testing.T
	name    string
	args    []string // the command line, program first
	logPath string
	starts  int

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
	err  error         // its exit status, once done is closed
}

// startProc starts the command line args (program first) as name.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("last lines of the %s log:\n%s", name, tail(p.logPath, 40))
		}
	})
	p.start()
	return p
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "---- start %d of %s at %s\n", p.starts+1, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// stop sends SIGTERM and waits until the process has shut down: a hub
// answers the requests it has begun before it exits.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("%s did not shut down within a minute of SIGTERM", p.name)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// exited reports whether the current process ended without being killed
// by the test, and how.
func (p *proc) exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// waitUntil polls cond every 10 ms until it holds, and fails the test if it
// does not within limit, saying what it waited for.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fetchJSON(url, token string, out any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

func getJSON(t *testing.T, url, token string, out any) {
	t.Helper()
	if err := fetchJSON(url, token, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// hub is a molen hub process on a fixed data directory and address, so it
// can be killed and restarted in place.
type hub struct {
	*proc
	dir, addr, url string
	admin          string // admin API token
}

func startHub(t *testing.T) *hub {
	t.Helper()
	h := &hub{dir: t.TempDir(), addr: freePort(t)}
	h.url = "http://" + h.addr
	h.proc = startProc(t, "hub", molenBin, "hub", "--data", h.dir, "--listen", h.addr, "--log-level", "warn")
	waitHTTP(t, h.url+"/healthz")
	tok, err := os.ReadFile(filepath.Join(h.dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	h.admin = strings.TrimSpace(string(tok))
	return h
}

// restart starts the hub again on the same directory and address and
// returns once it answers.
func (h *hub) restart(t *testing.T) {
	t.Helper()
	h.start()
	waitHTTP(t, h.url+"/healthz")
}

// healthy reports whether h's /healthz answers 200 (its metadata database
// answers).
func (h *hub) healthy() bool {
	resp, err := httpClient.Get(h.url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// createEdge registers an edge and returns its enrollment token.
func (h *hub) createEdge(t *testing.T, name string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/api/v1/edges", strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		Token string `json:"enroll_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || created.Token == "" {
		t.Fatalf("create edge: %d %v", resp.StatusCode, err)
	}
	return created.Token
}

// metric returns the sum of the samples of a metric (all label sets whose
// text contains match) on a Prometheus /metrics page.
func metric(url, name, match string) (float64, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %v", url, line, err)
		}
		sum += f
	}
	return sum, sc.Err()
}

// hubDuplicates is how many uplink records this hub process skipped as
// already stored (molen_hub_uplink_records_total{outcome="duplicate"}): the
// edge resent them after losing an answer.
func (h *hub) duplicates() float64 {
	n, _ := metric(h.url+"/metrics", "molen_hub_uplink_records_total", `outcome="duplicate"`)
	return n
}

// edge is a molen edge process on a fixed data directory and ports.
type edge struct {
	*proc
	dir, mqtt, statusAddr string
}

// startEdge starts an edge forwarding to hubURL, enrolling with token.
// extra are more flags (buffer bounds).
func startEdge(t *testing.T, dir, hubURL, token string, extra ...string) *edge {
	t.Helper()
	return startEdgeVia(t, nil, dir, hubURL, token, extra...)
}

// startEdgeVia is startEdge with the command line prefixed by wrap (for
// example prlimit and its options).
func startEdgeVia(t *testing.T, wrap []string, dir, hubURL, token string, extra ...string) *edge {
	t.Helper()
	e := &edge{dir: dir, mqtt: freePort(t), statusAddr: freePort(t)}
	args := append(append(slices.Clone(wrap), molenBin, "edge", "--data", dir, "--hub", hubURL, "--enroll-token", token,
		"--mqtt-listen", e.mqtt, "--status-listen", e.statusAddr, "--log-level", "warn"), extra...)
	e.proc = startProc(t, "edge", args...)
	waitHTTP(t, "http://"+e.statusAddr+"/healthz")
	return e
}

func (e *edge) restart(t *testing.T) {
	t.Helper()
	e.start()
	waitHTTP(t, "http://"+e.statusAddr+"/healthz")
}

// edgeStatus is the part of the edge's status API the suite reads.
type edgeStatus struct {
	Edge struct {
		ID       string `json:"id"`
		Enrolled bool   `json:"enrolled"`
	} `json:"edge"`
	// Desired is the hub's desired state on the edge (docs/fleet.md).
	Desired struct {
		Version    uint64 `json:"version"`
		Offered    uint64 `json:"offered"`
		Error      string `json:"error"`
		RolledBack bool   `json:"rolled_back"`
		Parts      []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"parts"`
	} `json:"desired"`
	Hub struct {
		LastContact *time.Time `json:"last_contact"`
		LastError   string     `json:"last_error"`
		LastErrorAt *time.Time `json:"last_error_at"`
	} `json:"hub"`
	Ingest struct {
		Messages       int64            `json:"messages"`
		Points         int64            `json:"points"`
		Refused        map[string]int64 `json:"refused"`
		ResendsSkipped int64            `json:"resends_skipped"` // device resends recognised and not stored again
	} `json:"ingest"`
	Outbox struct {
		PendingRecords int64            `json:"pending_records"`
		PendingPoints  int64            `json:"pending_points"`
		PendingBytes   int64            `json:"pending_bytes"`
		DiskBytes      int64            `json:"disk_bytes"`
		DroppedPoints  map[string]int64 `json:"dropped_points"`
		DroppedRecords map[string]int64 `json:"dropped_records"`
		Rejected       int64            `json:"rejected_appends"`
	} `json:"outbox"`
	Forward struct {
		Records int64 `json:"records"`
		Points  int64 `json:"points"`
	} `json:"forward"`
}

// contactAfter reports whether the hub acknowledged a batch after t.
func (s edgeStatus) contactAfter(t time.Time) bool {
	return s.Hub.LastContact != nil && s.Hub.LastContact.After(t)
}

func (e *edge) fetchStatus() (edgeStatus, error) {
	var st edgeStatus
	err := fetchJSON("http://"+e.statusAddr+"/api/v1/status", "", &st)
	return st, err
}

func (e *edge) status(t *testing.T) edgeStatus {
	t.Helper()
	st, err := e.fetchStatus()
	if err != nil {
		t.Fatalf("edge status: %v", err)
	}
	return st
}

// waitFor polls the edge's status every 20 ms until ok holds, for at most
// limit; it returns the status that satisfied ok and when it was seen.
func (e *edge) waitFor(t *testing.T, limit time.Duration, what string, ok func(edgeStatus) bool) (edgeStatus, time.Time) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last edgeStatus
	var lastErr error
	for {
		st, err := e.fetchStatus()
		now := time.Now()
		if err == nil && ok(st) {
			return st, now
		}
		if err == nil {
			last = st
		}
		lastErr = err
		if now.After(deadline) {
			t.Fatalf("edge: %s: not within %s (last status: pending %d records, last error %q; %v)",
				what, limit, last.Outbox.PendingRecords, last.Hub.LastError, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEnrolled waits until the edge holds its credential.
func (e *edge) waitEnrolled(t *testing.T) {
	t.Helper()
	e.waitFor(t, 20*time.Second, "enroll", func(s edgeStatus) bool { return s.Edge.Enrolled })
}

// waitDrained waits until the edge's outbox holds nothing unsent.
func (e *edge) waitDrained(t *testing.T, limit time.Duration) {
	t.Helper()
	e.waitFor(t, limit, "forward everything", func(s edgeStatus) bool { return s.Outbox.PendingRecords == 0 })
}

// simRun is the simulator publishing to an edge.
type simRun struct {
	s       *sim.Sim
	rate    float64
	cancel  context.CancelFunc
	done    chan error
	began   time.Time
	acked   map[string]uint64    // set by stop
	ackedAt map[string]time.Time // set by stop: the time of each machine's last acknowledged tick
	took    time.Duration        // from start to stop
	stopped bool                 // stop was called (owned by the test goroutine)
}

const simSeed = 11

// simInflight bounds the messages each simulated machine has unacknowledged
// (sim.Config.MaxInflight). With an fsync before every acknowledgement the
// edge ingests the simulator's four connections not much faster than 50
// ticks/s, and on a busy machine slower: then the devices hold this many
// messages until the simulator stops, and the stop must see them
// acknowledged within sim.DrainTimeout.
const simInflight = 200

func startSim(t *testing.T, broker string, rate float64) *simRun {
	t.Helper()
	s, err := sim.New(sim.Config{Broker: broker, Seed: simSeed, Rate: rate, MaxInflight: simInflight})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &simRun{s: s, rate: rate, cancel: cancel, done: make(chan error, 1), began: time.Now()}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		if !r.stopped {
			cancel()
			<-r.done
		}
	})
	return r
}

// stop stops publishing, waits for the outstanding acknowledgements and
// returns the seq up to which every tick of each machine was acknowledged.
func (r *simRun) stop(t *testing.T) map[string]uint64 {
	t.Helper()
	r.took = time.Since(r.began)
	r.stopped = true
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("simulator: %v", err)
	}
	r.acked, r.ackedAt = r.s.Acked(), r.s.AckedTime()
	pub := r.s.Published()
	for m, a := range r.acked {
		if pub[m] != a {
			t.Fatalf("simulator: %s: published %d ticks, %d acknowledged after a clean stop", m, pub[m], a)
		}
	}
	return r.acked
}

// ackedTicks is the number of ticks of all machines acknowledged so far.
func (r *simRun) ackedTicks() int64 {
	var n int64
	for _, a := range r.s.Acked() {
		n += int64(a)
	}
	return n
}

// ackedPoints is the number of points of the ticks acknowledged so far.
func (r *simRun) ackedPoints() int64 {
	var n int64
	for m, a := range r.s.Acked() {
		n += int64(a) * int64(len(machineTopics()[m]))
	}
	return n
}

// publishedTicks is the number of ticks of all machines handed to MQTT.
func (r *simRun) publishedTicks() int64 {
	var n int64
	for _, a := range r.s.Published() {
		n += int64(a)
	}
	return n
}

// machineTopics maps each simulated machine to the series one tick
// publishes (one point each); the last is <machine>/seq.
var machineTopics = sync.OnceValue(func() map[string][]string {
	out := map[string][]string{}
	for _, m := range sim.NewFactory(simSeed).Tick(time.Now()) {
		out[m.Machine] = append(out[m.Machine], m.Topic)
	}
	return out
})

// pointsPerTick is the number of points (MQTT messages) one tick of all
// machines publishes.
func pointsPerTick() int {
	n := 0
	for _, ts := range machineTopics() {
		n += len(ts)
	}
	return n
}

// tally is what the hub holds of what the simulator had acknowledged.
// Points are identified by series and tick: every point of a tick carries
// the tick's timestamp, and the machine's seq point tells which tick (and
// whether the simulator had it acknowledged) that timestamp belongs to.
type tally struct {
	ticks        int64 // acknowledged ticks, all machines
	points       int64 // acknowledged points: ticks × series of the machine
	stored       int64 // points at the hub, all series
	lost         int64 // acknowledged points missing at the hub
	dup          int64 // points stored more than once
	lostTicks    int64 // acknowledged ticks whose seq point is missing
	dupTicks     int64 // seq points stored more than once
	unacked      int64 // points of ticks the simulator never saw acknowledged
	orphans      int64 // points of ticks whose seq point is missing (so their tick is unknown)
	missingTicks map[string][]uint64
}

// rawPoint is a point as the hub's raw query returns it.
type rawPoint struct {
	TS    int64           `json:"ts"` // unix ms
	Value json.RawMessage `json:"value"`
}

// rawPoints returns every point of series at the hub in [from, to) (unix
// ms), duplicates included, in as many queries as the API's limit needs.
func (h *hub) rawPoints(t *testing.T, series string, from, to int64) []rawPoint {
	t.Helper()
	var res struct {
		Points    []rawPoint `json:"points"`
		Truncated bool       `json:"truncated"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/query?agg=raw&from=%d&to=%d&limit=100000&series=%s", h.url, from, to, url.QueryEscape(series)), h.admin, &res)
	if res.Truncated {
		if to-from < 2 {
			t.Fatalf("%s: more than 100000 points in one millisecond", series)
		}
		mid := from + (to-from)/2
		return append(h.rawPoints(t, series, from, mid), h.rawPoints(t, series, mid, to)...)
	}
	return res.Points
}

// verify compares what the hub holds with what the simulator had
// acknowledged, point by point.
func (h *hub) verify(t *testing.T, run *simRun) tally {
	acked := run.acked
	t.Helper()
	ta := tally{missingTicks: map[string][]uint64{}}
	to := time.Now().Add(time.Hour).UnixMilli()
	for m, a := range acked {
		topics := machineTopics()[m]
		if len(topics) == 0 {
			t.Fatalf("unknown machine %s", m)
		}
		ta.ticks += int64(a)
		ta.points += int64(a) * int64(len(topics))
		var stored, dup, unacked, orphans int64

		// The seq series: which ticks are there, and their timestamps.
		tickAt := map[int64]int{}     // ts → acknowledged ticks present with it
		unackedAt := map[int64]bool{} // ts of ticks never acknowledged
		count := map[int64]int{}
		for _, p := range h.rawPoints(t, m+"/seq", 0, to) {
			seq, err := strconv.ParseInt(string(p.Value), 10, 64)
			if err != nil {
				t.Fatalf("%s/seq: value %s: %v", m, p.Value, err)
			}
			stored++
			if count[seq]++; count[seq] > 1 {
				dup++
				ta.dupTicks++
				continue
			}
			if seq < 1 || seq > int64(a) {
				unacked++
				unackedAt[p.TS] = true
				continue
			}
			tickAt[p.TS]++
		}
		for seq := int64(1); seq <= int64(a); seq++ {
			if count[seq] == 0 {
				ta.lostTicks++
				ta.missingTicks[m] = append(ta.missingTicks[m], uint64(seq))
			}
		}

		// The other series, by timestamp.
		for _, s := range topics {
			if s == m+"/seq" {
				continue
			}
			perTS := map[int64]int{}
			for _, p := range h.rawPoints(t, s, 0, to) {
				perTS[p.TS]++
				stored++
			}
			for ts, c := range perTS {
				switch k := tickAt[ts]; {
				case k > 0:
					dup += int64(max(c-k, 0))
				case unackedAt[ts]:
					unacked += int64(c)
				case ts > run.ackedAt[m].UnixMilli():
					// Points of a tick after the last acknowledged one: a
					// tick the simulator was still publishing when it
					// stopped, never acknowledged whole.
					orphans += int64(c)
				default:
					// Points of an acknowledged tick whose seq point was
					// dropped (a bound split the tick): stored, and
					// acknowledged.
				}
			}
		}
		lost := int64(a)*int64(len(topics)) - (stored - dup - unacked - orphans)
		if lost < 0 {
			t.Errorf("%s: the hub holds %d more points than were acknowledged, beyond the %d duplicates it could identify", m, -lost, dup)
		}
		ta.stored += stored
		ta.dup += dup
		ta.unacked += unacked
		ta.orphans += orphans
		ta.lost += lost
	}
	return ta
}

// ranges formats sorted seqs as compact ranges: "3-7, 12".
func ranges(seqs []uint64) string {
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if b.Len() > 300 {
			b.WriteString("…")
			break
		}
		if i == j {
			fmt.Fprintf(&b, "%d", seqs[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", seqs[i], seqs[j])
		}
		i = j + 1
	}
	return b.String()
}

// durations are measured times; String gives their median and maximum.
type durations []time.Duration

func (d durations) String() string {
	if len(d) == 0 {
		return "–"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s) == 1 {
		return fmtDur(med)
	}
	return fmt.Sprintf("median %s, max %s", fmtDur(med), fmtDur(s[len(s)-1]))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// figure is one row of the suite's table of results.
type figure struct {
	Scenario string
	Run      string // cycles or duration, rates and bounds
	Acked    int64  // points the simulator had acknowledged
	Lost     int64  // acknowledged points missing at the hub (beyond policy drops)
	Dup      int64  // points stored more than once
	Drops    string // policy drops: missing points vs the edge's counter
	Resume   string // resume or catch-up time
	Rate     string // throughput figures
}

var (
	figuresMu sync.Mutex
	figures   []figure
)

// report adds a row to the table and logs it.
func report(t *testing.T, f figure) {
	t.Helper()
	t.Logf("%s: %s; %d points acknowledged; %d lost, %d duplicated; drops %s; resume %s; %s",
		f.Scenario, f.Run, f.Acked, f.Lost, f.Dup, orDash(f.Drops), orDash(f.Resume), orDash(f.Rate))
	figuresMu.Lock()
	figures = append(figures, f)
	figuresMu.Unlock()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// writeFigures prints the table of results (shown by go test -v) and, with
// MOLEN_FAULTS_REPORT=file, writes it to file as well.
func writeFigures() {
	figuresMu.Lock()
	defer figuresMu.Unlock()
	if len(figures) == 0 {
		return
	}
	sort.SliceStable(figures, func(i, j int) bool { return figures[i].Scenario < figures[j].Scenario })
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | run | points acked | lost | duplicated | dropped: missing at hub vs edge counter | resume / catch-up | other figures |\n")
	fmt.Fprintf(&b, "| --- | --- | ---: | ---: | ---: | --- | --- | --- |\n")
	for _, f := range figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s | %s | %s |\n",
			f.Scenario, f.Run, thousands(f.Acked), f.Lost, f.Dup, orDash(f.Drops), orDash(f.Resume), orDash(f.Rate))
	}
	fmt.Printf("\nfault-injection figures (%s variant):\n\n%s\n", pick("short", "long"), b.String())
	if p := os.Getenv("MOLEN_FAULTS_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "MOLEN_FAULTS_REPORT:", err)
		}
	}
}

// dropsText compares the points missing at the hub with the edge's drop
// counter.
func dropsText(missing, counter int64) string {
	switch {
	case missing == counter:
		return fmt.Sprintf("%s = %s ✓", thousands(missing), thousands(counter))
	case missing > counter:
		return fmt.Sprintf("%s ≠ %s: %s not counted", thousands(missing), thousands(counter), thousands(missing-counter))
	}
	return fmt.Sprintf("%s ≠ %s: %s counted but delivered", thousands(missing), thousands(counter), thousands(counter-missing))
}

// thousands formats n with thin separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// perSecond formats n per d.
func perSecond(n float64, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	v := n / d.Seconds()
	switch {
	case v >= 100:
		return thousands(int64(math.Round(v)))
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// checkNoLoss fails the test for acknowledged points the hub lacks, for
// points it holds more than once (unless dupOK), and for points it holds
// that nobody acknowledged.
func checkNoLoss(t *testing.T, ta tally, dupOK bool) {
	t.Helper()
	if ta.lost != 0 {
		for m, seqs := range ta.missingTicks {
			t.Errorf("%s: acknowledged ticks whose seq point is missing at the hub: %s", m, ranges(seqs))
		}
		t.Errorf("%d acknowledged points lost (%d whole seq points)", ta.lost, ta.lostTicks)
	}
	if ta.dup != 0 && !dupOK {
		t.Errorf("%d points stored more than once (%d of them seq points)", ta.dup, ta.dupTicks)
	}
	if ta.unacked != 0 {
		t.Errorf("%d points at the hub of ticks the simulator never had acknowledged", ta.unacked)
	}
}
