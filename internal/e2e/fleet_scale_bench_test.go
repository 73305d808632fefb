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
// Run it alone: go test -run '^$' -bench FleetScale -benchtime 1x ./internal/e2e/
func BenchmarkFleetScale(b *testing.B) {
	const edges = 1000
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
		var tokens []string
		for i := range edges {
			id, token, err := h.CreateEdge(ctx, fmt.Sprintf("press-%04d", i))
			if err != nil {
				b.Fatal(err)
			}
			if err := f.SetPlace(ctx, hub.DefaultOrg, id, fleet.Place{Site: "hall-1", Labels: map[string]string{"line": "press"}}); err != nil {
				b.Fatal(err)
			}
			tokens = append(tokens, token)
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
		before := rss(b)

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
		waitUntil("every edge to run the first manifest", func() bool { return installed(1) == edges })

		// At rest: three poll intervals of 304s and reports.
		runtime.GC()
		cpu0, wall0 := cpuTime(b), time.Now()
		time.Sleep(3 * poll)
		cpu := cpuTime(b) - cpu0
		rest := time.Since(wall0)
		runtime.GC()
		after := rss(b)

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
		stop()
		_ = cmd.Wait()
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(100*cpu.Seconds()/rest.Seconds(), "hub-cpu-%-at-rest")
		b.ReportMetric(float64(after-before)/edges/1024, "hub-KiB/edge")
		b.ReportMetric(took.Seconds(), "s-to-all-installed")
		b.Logf("%d edges polling every %v: hub CPU %.1f %% of one core at rest, RSS %d → %d MiB, rollout (steps %v) complete in %v",
			edges, poll, 100*cpu.Seconds()/rest.Seconds(), before>>20, after>>20, r.Steps, took.Round(time.Second))
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

// rss is this process's resident memory in bytes.
func rss(b *testing.B) int64 {
	s, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm: ", err)
	}
	fs := strings.Fields(string(s))
	pages, _ := strconv.ParseInt(fs[1], 10, 64)
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
