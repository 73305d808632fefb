package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/sim"
)

// molenBin is the binary under test, built once by TestMain.
var molenBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "molen-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	molenBin = filepath.Join(dir, "molen")
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go env GOMOD:", err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", molenBin, "./cmd/molen")
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build molen: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a running molen process.
type proc struct {
	t    *testing.T
	name string
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args}
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(filepath.Join(p.t.TempDir(), p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	p.log = f
	p.cmd = exec.Command(molenBin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
}

// kill sends SIGKILL and reaps the process.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.log.Close()
	p.cmd = nil
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// cycles is how many faults a test injects: a few in CI, more for figures.
func cycles(t *testing.T, short int) int {
	if s := os.Getenv("MOLEN_FAULTS_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MOLEN_FAULTS_CYCLES=%q: want a positive integer", s)
		}
		return n
	}
	return short
}

// TestFaultsKillEdge kills the edge process with SIGKILL again and again
// while the simulator publishes, restarts it on the same data directory and
// ports, and checks every sequence number the simulator had acknowledged:
// none may be lost. Duplicates come from devices resending a message whose
// PUBACK the killed edge never sent although it had stored it (MQTT QoS 1
// is at least once); they are counted and reported.
func TestFaultsKillEdge(t *testing.T) {
	n := cycles(t, 3)
	hubDir, edgeDir := t.TempDir(), t.TempDir()
	hubAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "hub", "hub", "--data", hubDir, "--listen", hubAddr, "--log-level", "warn")
	hubURL := "http://" + hubAddr
	waitHTTP(t, hubURL+"/healthz")
	tok, err := os.ReadFile(filepath.Join(hubDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(tok))
	req, _ := http.NewRequest("POST", hubURL+"/api/v1/edges", strings.NewReader(`{"name":"faults"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Token string `json:"enroll_token"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	mqttAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	edge := start(t, "edge", "edge", "--data", edgeDir, "--hub", hubURL, "--enroll-token", created.Token,
		"--mqtt-listen", mqttAddr, "--status-listen", statusAddr, "--log-level", "warn")
	waitHTTP(t, "http://"+statusAddr+"/healthz")

	s, err := sim.New(sim.Config{Broker: mqttAddr, Seed: 11, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	began := time.Now()
	for i := range n {
		time.Sleep(time.Duration(700+300*(i%3)) * time.Millisecond)
		edge.kill()
		time.Sleep(200 * time.Millisecond)
		edge.start()
		waitHTTP(t, "http://"+statusAddr+"/healthz")
	}
	time.Sleep(time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("simulator: %v", err)
	}
	acked := s.Acked()

	// Wait for the edge to forward what it holds.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Outbox struct {
				PendingRecords int64 `json:"pending_records"`
			} `json:"outbox"`
		}
		getJSON(t, "http://"+statusAddr+"/api/v1/status", "", &st)
		if st.Outbox.PendingRecords == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge still holds %d records", st.Outbox.PendingRecords)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var lost, dup, total int
	for _, m := range s.Machines() {
		var res struct {
			Points []struct {
				Value int64 `json:"value"`
			} `json:"points"`
		}
		getJSON(t, hubURL+"/api/v1/query?agg=raw&from=0&to=now&limit=100000&series="+url.QueryEscape(m+"/seq"), admin, &res)
		seen := map[int64]int{}
		for _, p := range res.Points {
			seen[p.Value]++
		}
		for seq := int64(1); seq <= int64(acked[m]); seq++ {
			switch c := seen[seq]; {
			case c == 0:
				lost++
			case c > 1:
				dup += c - 1
			}
		}
		total += int(acked[m])
	}
	t.Logf("kill -9 of the edge: %d cycles in %s, %d acknowledged ticks of %d machines: %d lost, %d duplicated (device resends)",
		n, time.Since(began).Round(time.Second), total, len(s.Machines()), lost, dup)
	if lost != 0 {
		t.Errorf("%d acknowledged ticks lost", lost)
	}
	if total < 100*len(s.Machines())/10 {
		t.Errorf("only %d ticks acknowledged: the run did not get going", total)
	}
}
