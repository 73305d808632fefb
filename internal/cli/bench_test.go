//go:build !edgeonly

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/bench"
)

// TestMain lets the test binary stand in for molen: molen bench starts hub
// and edge as child processes of a molen binary, and here that binary is
// this one (with MOLEN_CLI_TEST_MAIN set).
func TestMain(m *testing.M) {
	if os.Getenv("MOLEN_CLI_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Each browser test of this package starts a demo and a browser: on a
	// busy 2-core machine they take longer together than go test's default
	// limit of 10 minutes for a package, after which the go command kills
	// the binary whatever it sets itself; README's test command gives
	// -timeout 25m.
	os.Exit(m.Run())
}

// TestBenchSmoke runs molen bench on the tiny scenario, against a hub and
// an edge it starts, and checks that the report is complete and adds up:
// every message published was received and acknowledged, every point
// accepted was forwarded and stored, nothing was dropped. No figure is
// judged: rates and latencies depend on the machine.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and an edge")
	}
	r := runBench(t)
	c := r.Counts
	if c.Published == 0 || c.PublishedPoints != 2*c.Published {
		t.Errorf("published %d messages with %d points: want some, 2 points each", c.Published, c.PublishedPoints)
	}
	for _, n := range []struct {
		name      string
		got, want int64
	}{
		{"acknowledged", c.Acked, c.Published},
		{"received", c.Received, c.Published},
		{"accepted points", c.Accepted, c.PublishedPoints},
		{"forwarded points", c.Forwarded, c.Accepted},
		{"stored points", c.Stored, c.Accepted},
		{"rejected", c.Rejected, 0},
		{"refused", c.Refused, 0},
		{"dropped", c.Dropped, 0},
		{"lost", c.Lost, 0},
	} {
		if n.got != n.want {
			t.Errorf("%s: got %d, want %d", n.name, n.got, n.want)
		}
	}
	if len(r.Stages) != 5 {
		t.Errorf("stages %+v: want 5", r.Stages)
	}
	for _, s := range r.Stages {
		if s.Points <= 0 {
			t.Errorf("stage %q: %v points/s, want a rate", s.Name, s.Points)
		}
	}
	for _, p := range r.Processes {
		if p.CPU <= 0 && p.Name != "load generator" || p.PeakRSS <= 0 {
			t.Errorf("process %+v: want its CPU and peak RSS", p)
		}
	}
	if r.Latency.N == 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("device → queryable latency %+v: want samples, p50 ≤ p99 ≤ max", r.Latency)
	}
	if r.Ack.N == 0 {
		t.Errorf("PUBACK latency %+v: want samples (QoS 1)", r.Ack)
	}
	if r.Disk.Edge <= 0 && r.Disk.Hub <= 0 {
		t.Errorf("disk %+v: want bytes per point", r.Disk)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hub storage", "device → queryable", "peak RSS", "lost 0 points"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestBenchBroker runs molen bench on the tiny scenario through the local
// Mosquitto (MOLEN_TEST_MQTT): the devices publish there and the edge reads
// it with an mqtt input (JSON, QoS 1 and QoS 0) or a sparkplug input
// (Sparkplug B). Every point published arrives at the hub, nothing is lost
// or dropped; no figure is judged.
func TestBenchBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and an edge")
	}
	broker := os.Getenv("MOLEN_TEST_MQTT")
	if broker == "" {
		t.Skip("MOLEN_TEST_MQTT (host:port of an MQTT broker) is not set")
	}
	for _, c := range []struct{ payload, qos string }{{"json", "1"}, {"json", "0"}, {"sparkplug", "1"}} {
		t.Run(c.payload+"-qos"+c.qos, func(t *testing.T) {
			r := runBench(t, "--broker", broker, "--payload", c.payload, "--qos", c.qos)
			c := r.Counts
			if c.Published == 0 || c.Received != c.Published {
				t.Errorf("published %d messages, the input received %d: want all", c.Published, c.Received)
			}
			for _, n := range []struct {
				name      string
				got, want int64
			}{
				{"accepted points", c.Accepted, c.PublishedPoints},
				{"stored points", c.Stored, c.PublishedPoints},
				{"rejected", c.Rejected, 0},
				{"dropped by the input", c.InputDropped, 0},
				{"lost", c.Lost, 0},
			} {
				if n.got != n.want {
					t.Errorf("%s: got %d, want %d", n.name, n.got, n.want)
				}
			}
			if r.Latency.N == 0 {
				t.Errorf("device → queryable latency %+v: want samples", r.Latency)
			}
		})
	}
}

// TestBenchServices runs molen bench on the tiny scenario with three
// first-party services installed on the edge (built from services/ of this
// checkout): each took every point the devices published (the machines'
// state and counters are what they read) and passed its inputs on, and
// every point reached the hub once. No figure is judged.
func TestBenchServices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and an edge, builds three WebAssembly modules")
	}
	t.Chdir(filepath.Join("..", "..")) // the checkout, with services/
	// Hub and edge are a molen built without the race detector: with it,
	// wazero compiles the three modules for many minutes on a busy machine.
	bin := filepath.Join(t.TempDir(), "molen")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/molen").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/molen: %v\n%s", err, out)
	}
	r := runBench(t, "--services", "spc,oee,energy", "--molen", bin)
	c := r.Counts
	if c.PublishedPoints == 0 || c.Stored != c.PublishedPoints || c.Lost != 0 {
		t.Errorf("published %d points, stored %d, lost %d: want all stored once", c.PublishedPoints, c.Stored, c.Lost)
	}
	got := map[string]bench.ServiceCount{}
	for _, s := range r.Services {
		got[s.Name] = s
	}
	for _, name := range []string{"spc", "oee", "energy"} {
		s, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not in the report %+v", name, r.Services)
		case s.In != uint64(c.PublishedPoints):
			t.Errorf("%s: %d points in, want every point published (%d)", name, s.In, c.PublishedPoints)
		case s.Out+s.PassedOn < s.In || s.Calls == 0:
			// A call may fail on a busy machine (its time limit): its
			// points pass on unchanged.
			t.Errorf("%s: %+v: want calls and its inputs passed on", name, s)
		}
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"services spc, oee, energy", "oee (molen-oee)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// runBench runs molen bench on the tiny scenario with args, this test
// binary standing in for molen, and returns its --json result.
func runBench(t *testing.T, args ...string) bench.Result {
	t.Helper()
	t.Setenv("MOLEN_CLI_TEST_MAIN", "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args = append([]string{"bench", "--scenario", "tiny", "--json", "--molen", exe, "--data", t.TempDir(), "--log-level", "warn"}, args...)
	if code := Main(args, &out, &errOut); code != 0 {
		t.Fatalf("molen %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	var r bench.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	return r
}
