package faults

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// putOrgLayer writes the organisation's layer of desired state.
func (h *hub) putOrgLayer(t *testing.T, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", h.url+"/api/v1/fleet/layers/org", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("put layer: %d", resp.StatusCode)
	}
}

// TestFaultsKillEdgeWhileApplying kills the edge with SIGKILL while a
// manifest from the hub is on trial (applied, its health window running),
// with the simulator publishing. The restarted edge is in a consistent
// state, the one before (its local configuration), reports the version
// rolled back, does not take that version again (anti-rollback), takes the
// next one (pipelines on another site's series, so that the check below
// counts every point the simulator had acknowledged); and no acknowledged device message is lost or stored twice.
func TestFaultsKillEdgeWhileApplying(t *testing.T) {
	parallel(t)
	h := startHub(t)
	e := startEdge(t, t.TempDir(), h.url, h.createEdge(t, "kill-apply"), "--manifest-poll=200ms", "--health-window=10m")
	s := startSim(t, e.mqtt, 20)
	e.waitEnrolled(t)
	put := func(body string) { h.putOrgLayer(t, body) }
	installing := func(st edgeStatus) bool {
		return len(st.Desired.Parts) == 1 && st.Desired.Parts[0].State == "installing"
	}
	put(`{"pipelines":{"energy":{"match":["another-site/#"],"stages":[{"deadband":{"absolute":0.5}}]}}}`)
	st, _ := e.waitFor(t, time.Minute, "the manifest on trial", installing)
	offered := st.Desired.Offered
	acked := s.ackedTicks()
	waitUntil(t, time.Minute, "ticks acknowledged while the manifest is on trial", func() bool { return s.ackedTicks() > acked })
	e.kill()
	e.restart(t)
	st = e.status(t)
	if st.Desired.Version != 0 || !st.Desired.RolledBack || !strings.Contains(st.Desired.Error, "stopped within its health window") {
		t.Errorf("after a kill on trial: version %d, rolled back %v, error %q; want the local state, rolled back",
			st.Desired.Version, st.Desired.RolledBack, st.Desired.Error)
	}
	// The hub still offers the same version: not tried again; the next is.
	put(`{"pipelines":{"energy":{"match":["another-site/#"],"stages":[{"deadband":{"absolute":1}}]}}}`)
	e.waitFor(t, time.Minute, "the next version on trial", func(st edgeStatus) bool {
		return installing(st) && st.Desired.Offered > offered
	})
	s.stop(t)
	e.waitDrained(t, time.Minute)
	ta := h.verify(t, s)
	checkNoLoss(t, ta, false)
	if ta.dup != 0 {
		t.Errorf("%d ticks stored twice", ta.dup)
	}
}

// TestFaultsKillInsideApply crashes the edge (SIGKILL, from a fault point
// of a binary built with -tags faultpoints) at the moments inside an
// apply: after desired.json is written and the manifest marked on trial
// but before anything is swapped (apply-saved), and after the pipeline is
// replaced and the old inputs stopped but before the new ones start
// (apply-inputs). The edge runs an input of its local inputs file; the
// manifest replaces it. Restarted, the edge runs the state before, whole:
// its local input, not the manifest's; the version is reported rolled
// back and not taken again, the next one is; and no acknowledged device
// message is lost or stored twice.
func TestFaultsKillInsideApply(t *testing.T) {
	for _, point := range []string{"apply-saved", "apply-inputs"} {
		t.Run(point, func(t *testing.T) {
			parallel(t)
			h := startHub(t)
			dir := t.TempDir()
			inputs := filepath.Join(t.TempDir(), "inputs.yaml")
			local := "inputs:\n  - modbus:\n      url: tcp://" + freePort(t) + "\n      registers:\n        - {address: 0, path: x/y/local/count}\n"
			if err := os.WriteFile(inputs, []byte(local), 0o600); err != nil {
				t.Fatal(err)
			}
			e := startEdgeVia(t, []string{"env", "MOLEN_FAULT_KILL=" + point}, dir, h.url, h.createEdge(t, "kill-"+point),
				"--inputs", inputs, "--manifest-poll=200ms", "--health-window=10m")
			s := startSim(t, e.mqtt, 20)
			e.waitEnrolled(t)
			acked := s.ackedTicks()
			waitUntil(t, time.Minute, "ticks acknowledged before the apply", func() bool { return s.ackedTicks() > acked })
			layer := func(dead string) string {
				return `{"pipelines":{"energy":{"match":["another-site/#"],"stages":[{"deadband":{"absolute":` + dead + `}}]}},
					"inputs":{"packer":{"modbus":{"url":"tcp://` + freePort(t) + `","registers":[{"address":0,"path":"x/y/z/count"}]}}}}`
			}
			h.putOrgLayer(t, layer("0.5"))
			waitUntil(t, time.Minute, "the edge to crash at "+point, func() bool { ok, _ := e.exited(); return ok })
			if _, err := e.exited(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("the edge ended with %v, want killed at %s", err, point)
			}
			var disk struct {
				Trial   bool `json:"trial"`
				Current *struct {
					Version uint64 `json:"version"`
				} `json:"current"`
			}
			if b, err := os.ReadFile(filepath.Join(dir, "desired.json")); err != nil || json.Unmarshal(b, &disk) != nil || !disk.Trial || disk.Current == nil {
				t.Fatalf("desired.json at the crash: %s (%v), want the manifest on trial", b, err)
			}
			e.args = e.args[2:] // the same edge without the fault point
			e.restart(t)
			st := e.status(t)
			if st.Desired.Version != 0 || !st.Desired.RolledBack || !strings.Contains(st.Desired.Error, "stopped within its health window") {
				t.Errorf("after a crash at %s: version %d, rolled back %v, error %q; want the local state, rolled back",
					point, st.Desired.Version, st.Desired.RolledBack, st.Desired.Error)
			}
			var running struct {
				Inputs []struct {
					Input string `json:"input"`
				} `json:"inputs"`
			}
			if err := fetchJSON("http://"+e.statusAddr+"/api/v1/status", "", &running); err != nil {
				t.Fatal(err)
			}
			if len(running.Inputs) != 1 || running.Inputs[0].Input != "inputs[0]" {
				t.Errorf("inputs after the restart: %+v, want the local file's inputs[0] alone", running.Inputs)
			}
			h.putOrgLayer(t, layer("1"))
			e.waitFor(t, time.Minute, "the next version on trial", func(st edgeStatus) bool {
				return len(st.Desired.Parts) == 2 && st.Desired.Parts[0].State == "installing" && st.Desired.Offered > disk.Current.Version
			})
			s.stop(t)
			e.waitDrained(t, time.Minute)
			ta := h.verify(t, s)
			checkNoLoss(t, ta, false)
		})
	}
}
