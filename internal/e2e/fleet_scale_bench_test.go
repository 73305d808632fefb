package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uplink"
)

// The simulated edges of BenchmarkFleetScale run in a child process (this
// test binary, TestSimulatedEdges), so that the benchmark's own process
// measures the hub alone.
const (
	simEdgesHub    = "MOLEN_SIMEDGES_HUB"    // the hub's URL
	simEdgesTokens = "MOLEN_SIMEDGES_TOKENS" // a file of enrollment tokens, one a line
	simEdgesPoll   = "MOLEN_SIMEDGES_POLL"   // each edge's poll interval
)

// BenchmarkFleetScale runs one hub with 1,000 lightweight simulated edges
// that speak the real protocol: each enrolls with its own Ed25519 key and
// its own connection, then every poll interval fetches its manifest
// (signed, If-None-Match) and sends a signed report; a new manifest is
// "installed" at once (no health window). It reports the hub's CPU with
// the fleet at rest, the hub's memory per connected edge, and the time
// from a rollout's start (canary 10 %, then the rest) to all installed.
//
// Besides them, MOLEN_BENCH_REAL_EDGES (default 10) real `molen edge`
// processes (the binary, built first) are attached to the same hub, each
// with its own data directory, long poll and a health window of 5 s; the
// rollout must bring them to "installed" too. Their memory (RSS) and CPU
// at rest are reported.
//
// Run it alone: go test -run '^$' -bench FleetScale -benchtime 1x ./internal/e2e/
func BenchmarkFleetScale(b *testing.B) {
	const edges = 1000
	nReal := 10
	if v := os.Getenv("MOLEN_BENCH_REAL_EDGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.Fatalf("MOLEN_BENCH_REAL_EDGES=%q: want a number of edges", v)
		}
		nReal = n
	}
	var molen string
	if nReal > 0 {
		molen = buildVersions(b, b.TempDir(), "0.0.0-bench")["0.0.0-bench"]
	}
	// The edges' poll interval: 10 s, or MOLEN_BENCH_POLL (e.g. 30s,
	// the edge's default).
	poll := 10 * time.Second
	if v := os.Getenv("MOLEN_BENCH_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("MOLEN_BENCH_POLL=%q: want a duration such as 30s", v)
		}
		poll = d
	}
	for b.Loop() {
		ctx := b.Context()
		none := api.Rate{PerSecond: -1}
		h, err := hub.Start(ctx, hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
			Rates: hub.Rates{Address: none, Org: none, Caller: none, Edge: none}})
		if err != nil {
			b.Fatal(err)
		}
		f := h.Fleet()
		var tokens, realIDs, realTokens []string
		for i := range edges + nReal {
			id, token, err := h.CreateEdge(ctx, fmt.Sprintf("press-%04d", i))
			if err != nil {
				b.Fatal(err)
			}
			if err := f.SetPlace(ctx, hub.DefaultOrg, id, fleet.Place{Site: "hall-1", Labels: map[string]string{"line": "press"}}); err != nil {
				b.Fatal(err)
			}
			if i < edges {
				tokens = append(tokens, token)
			} else {
				realIDs, realTokens = append(realIDs, id), append(realTokens, token)
			}
		}
		if err := f.PutGroup(ctx, hub.DefaultOrg, fleet.Group{Name: "presses", Selector: map[string]string{"line": "press"}}); err != nil {
			b.Fatal(err)
		}
		temps := func(dead string) map[string]json.RawMessage {
			return map[string]json.RawMessage{"temps": json.RawMessage(`{"match": ["acme/+/press/+/temp"], "stages": [{"deadband": {"absolute": ` + dead + `}}]}`)}
		}
		if err := f.PutLayer(ctx, &fleet.Layer{Org: hub.DefaultOrg, Scope: fleet.ScopeGroup, Target: "presses", Pipelines: temps("0.5")}); err != nil {
			b.Fatal(err)
		}
		file := b.TempDir() + "/tokens"
		if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		before := procRSS(b, os.Getpid())

		cctx, stop := context.WithCancel(ctx)
		cmd := exec.CommandContext(cctx, os.Args[0], "-test.run", "^TestSimulatedEdges$")
		cmd.Env = append(os.Environ(), simEdgesHub+"="+h.URL(), simEdgesTokens+"="+file, simEdgesPoll+"="+poll.String())
		cmd.Stderr = os.Stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		go func() {
			for lines.Scan() {
			}
		}()
		var procs []*exec.Cmd
		for _, token := range realTokens {
			e := exec.CommandContext(cctx, molen, "edge", "--data", b.TempDir(), "--hub", h.URL(), "--enroll-token", token,
				"--mqtt-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0", "--manifest-poll", poll.String(),
				"--health-window", "5s", "--log-level", "warn")
			e.Stderr = os.Stderr
			e.Cancel = func() error { return e.Process.Signal(syscall.SIGTERM) }
			e.WaitDelay = 30 * time.Second
			if err := e.Start(); err != nil {
				b.Fatal(err)
			}
			procs = append(procs, e)
		}
		installed := func(want uint64) int {
			inv, err := f.Inventory(ctx, hub.DefaultOrg, fleet.Filter{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, e := range inv {
				if e.Reported != nil && e.Online && e.Reported.Report.Manifest.Version >= want && e.Reported.Report.Manifest.Version > 0 {
					n++
				}
			}
			return n
		}
		waitUntil := func(what string, cond func() bool) time.Duration {
			start := time.Now()
			for !cond() {
				if time.Since(start) > 10*time.Minute {
					b.Fatalf("gave up waiting for %s", what)
				}
				time.Sleep(200 * time.Millisecond)
			}
			return time.Since(start)
		}
		waitUntil("every edge to run the first manifest", func() bool { return installed(1) == edges+nReal })

		// At rest: three poll intervals of 304s and reports.
		runtime.GC()
		cpu0, wall0 := cpuTime(b), time.Now()
		edgeCPU0 := procsCPU(b, procs)
		time.Sleep(3 * poll)
		cpu := cpuTime(b) - cpu0
		rest := time.Since(wall0)
		edgeCPU := procsCPU(b, procs) - edgeCPU0
		runtime.GC()
		after := procRSS(b, os.Getpid())
		var edgeRSS int64
		for _, p := range procs {
			edgeRSS += procRSS(b, p.Process.Pid)
		}

		start := time.Now()
		r, err := f.StartRollout(ctx, hub.DefaultOrg, "usr_bench", fleet.RolloutSpec{Scope: fleet.ScopeGroup, Target: "presses", Pipelines: temps("1"),
			Plan: fleet.Plan{CanaryPercent: 10, Ramp: 9, MaxPerMinute: 100000, StepTimeout: "10m"}})
		if err != nil {
			b.Fatal(err)
		}
		var state string
		waitUntil("the rollout to complete", func() bool {
			got, err := f.Rollout(ctx, hub.DefaultOrg, r.ID)
			if err != nil {
				b.Fatal(err)
			}
			state = got.State
			return got.State != fleet.RolloutRunning
		})
		took := time.Since(start)
		if state != fleet.RolloutCompleted {
			b.Fatalf("rollout %s", state)
		}
		done, err := f.Rollout(ctx, hub.DefaultOrg, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range done.Edges {
			if slices.Contains(realIDs, e.Edge) && e.State != fleet.EdgeInstalled {
				b.Fatalf("real edge %s is %s in the completed rollout (%s)", e.Edge, e.State, e.Detail)
			}
		}
		stop()
		_ = cmd.Wait()
		for _, p := range procs {
			_ = p.Wait()
		}
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(100*cpu.Seconds()/rest.Seconds(), "hub-cpu-%-at-rest")
		b.ReportMetric(float64(after-before)/float64(edges+nReal)/1024, "hub-KiB/edge")
		b.ReportMetric(took.Seconds(), "s-to-all-installed")
		if nReal > 0 {
			b.ReportMetric(float64(edgeRSS)/float64(nReal)/(1<<20), "real-edge-MiB")
			b.ReportMetric(100*edgeCPU.Seconds()/rest.Seconds()/float64(nReal), "real-edge-cpu-%-at-rest")
		}
		b.Logf("%d simulated and %d real edges polling every %v: hub CPU %.1f %% of one core at rest, RSS %d → %d MiB, rollout (steps %v) complete in %v; a real edge at rest: RSS %d MiB, CPU %.2f %%",
			edges, nReal, poll, 100*cpu.Seconds()/rest.Seconds(), before>>20, after>>20, r.Steps, took.Round(time.Second),
			edgeRSS/max(int64(nReal), 1)>>20, 100*edgeCPU.Seconds()/rest.Seconds()/float64(max(nReal, 1)))
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procsCPU is the CPU time (user and system) the processes have used, from
// /proc/<pid>/stat.
func procsCPU(b *testing.B, procs []*exec.Cmd) time.Duration {
	var ticks int64
	for _, p := range procs {
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Process.Pid))
		if err != nil {
			b.Fatal(err)
		}
		// The fields after the command's name (in parentheses, which may
		// hold spaces): utime and stime are the 14th and 15th of the line.
		fs := strings.Fields(string(s[strings.LastIndexByte(string(s), ')')+1:]))
		u, _ := strconv.ParseInt(fs[11], 10, 64)
		st, _ := strconv.ParseInt(fs[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// procRSS is the resident memory of process pid in bytes.
func procRSS(b *testing.B, pid int) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		b.Fatal(err)
	}
	pages, _ := strconv.ParseInt(strings.Fields(string(s))[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestSimulatedEdges is BenchmarkFleetScale's child process: it is skipped
// unless the benchmark started it.
func TestSimulatedEdges(t *testing.T) {
	url := os.Getenv(simEdgesHub)
	if url == "" {
		t.Skip("run by BenchmarkFleetScale")
	}
	b, err := os.ReadFile(os.Getenv(simEdgesTokens))
	if err != nil {
		t.Fatal(err)
	}
	poll, err := time.ParseDuration(os.Getenv(simEdgesPoll))
	if err != nil {
		t.Fatal(err)
	}
	tokens := strings.Split(string(b), "\n")
	ctx := t.Context()
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each edge its own connection, as separate machines have.
			c := &uplink.Client{URL: url, HTTP: &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}}
			_, key, _ := ed25519.GenerateKey(nil)
			en, err := c.EnrollKey(ctx, token, key)
			if err != nil {
				t.Errorf("enroll: %v", err)
				return
			}
			c.Signer = func() *uplink.Signer { return &uplink.Signer{KeyID: en.EdgeID, Key: key} }
			// Spread the edges over the poll interval.
			time.Sleep(time.Duration(i) * poll / time.Duration(len(tokens)))
			tick := time.NewTicker(poll)
			defer tick.Stop()
			var etag string
			var applied uplink.Applied
			for {
				m, tag, err := c.FetchManifest(ctx, etag)
				switch {
				case err == nil && m.Verify() == nil:
					etag = tag
					applied = uplink.Applied{Version: m.Version, Digest: m.Digest, Offered: m.Version}
				case err != nil && !errors.Is(err, uplink.ErrNotModified) && ctx.Err() == nil:
					t.Logf("manifest: %v", err)
				}
				if err := c.SendReport(ctx, uplink.Report{Version: "sim", Manifest: applied, ReportSeconds: poll.Seconds()}); err != nil && ctx.Err() == nil {
					t.Logf("report: %v", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
}
