package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// release is a binary and its signed envelope.
type release struct {
	bin []byte
	env sign.Envelope
}

func signRelease(t *testing.T, key ed25519.PrivateKey, bin []byte, version string) release {
	t.Helper()
	sum := sha256.Sum256(bin)
	env, err := sign.SignStatement(key, "molen", hex.EncodeToString(sum[:]), uplink.ReleasePredicate,
		uplink.Release{Version: version, OS: "linux", Arch: runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	return release{bin: bin, env: env}
}

// upload posts a release with token and returns the status and body.
func upload(t *testing.T, base, token string, r release) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ej, _ := json.Marshal(r.env)
	w, _ := mw.CreateFormFile("envelope", "molen.dsse.json")
	w.Write(ej)
	w, _ = mw.CreateFormFile("binary", "molen")
	w.Write(r.bin)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/fleet/releases", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSoftwareUpdate updates a real edge process, run by its launcher
// (molen edge --supervise), between two real builds of molen that differ
// in version: the hub takes only releases signed by a key it trusts, the
// edge verifies the signature itself and refuses one its own keys do not
// verify; a new version that crashes at start goes back to the old one;
// and a launcher killed (kill -9) in the middle of an update comes back
// on the old or the new version, consistently.
func TestSoftwareUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds molen twice")
	}
	ctx := t.Context()
	dir := t.TempDir()
	const vA, vB = "1.0.0-a", "1.1.0-b"
	built := time.Now()
	bins := buildVersions(t, dir, vA, vB)
	t.Logf("two builds of molen: %s", time.Since(built).Round(time.Second))
	binA, _ := os.ReadFile(bins[vA])
	binB, _ := os.ReadFile(bins[vB])

	goodPub, good, _ := sign.GenerateKey()
	roguePub, rogue, _ := sign.GenerateKey()
	_, stranger, _ := sign.GenerateKey()
	pb, _ := sign.EncodePublicKey(goodPub)
	goodFile := filepath.Join(dir, "release.pub")
	if err := os.WriteFile(goodFile, pb, 0o644); err != nil {
		t.Fatal(err)
	}

	// The hub trusts the good key and a rogue one (a compromised or
	// misconfigured hub); the edge trusts only the good key.
	h, err := hub.Start(ctx, hub.Config{DataDir: filepath.Join(dir, "hub"), Listen: "127.0.0.1:0", Out: io.Discard,
		ReleaseKeys: []ed25519.PublicKey{goodPub, roguePub}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { h.Close() }()
	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	ops, err := h.Auth().NewToken(ctx, auth.PlatformOrg, api.RolePlatformAdmin, "release manager")
	if err != nil {
		t.Fatal(err)
	}
	c := client{t: t, base: h.URL(), token: admin}

	// Uploads: only the platform admin, only a binary its envelope
	// names, only a key the hub trusts.
	crash := []byte("#!/bin/sh\necho 'crashing at start' >&2\nexit 3\n")
	for _, tt := range []struct {
		name  string
		token string
		rel   release
		want  int
		text  string
	}{
		{"an organisation's admin", admin, signRelease(t, good, binB, vB), 403, ""},
		{"a key the hub does not trust", ops, signRelease(t, stranger, binB, vB), 400, "signature does not verify"},
		{"another binary than the envelope names", ops, release{bin: binA, env: signRelease(t, good, binB, vB).env}, 400, "not about this file"},
		{"good", ops, signRelease(t, good, binB, vB), 201, ""},
		{"the same again", ops, signRelease(t, good, binB, vB), 409, ""},
		{"rogue", ops, signRelease(t, rogue, append(bytes.Clone(binB), 0), "1.2.0-rogue"), 201, ""},
		{"crashing", ops, signRelease(t, good, crash, "1.3.0-crash"), 201, ""},
		{"the old version", ops, signRelease(t, good, binA, vA), 201, ""},
	} {
		code, body := upload(t, h.URL(), tt.token, tt.rel)
		if code != tt.want || !strings.Contains(body, tt.text) {
			t.Fatalf("upload %s: %d %s, want %d with %q", tt.name, code, body, tt.want, tt.text)
		}
	}
	if n := c.metric("molen_hub_releases_refused_total"); n != 2 {
		t.Errorf("releases refused = %v, want 2", n)
	}
	var rels struct {
		Releases []struct {
			Version, OS, Arch, Signer string
		} `json:"releases"`
	}
	c.get("/api/v1/fleet/releases", &rels)
	if len(rels.Releases) != 4 {
		t.Fatalf("releases listed: %+v, want 4", rels.Releases)
	}

	// The edge, started by its launcher (binary A, installed).
	edgeID, token, err := h.CreateEdge(ctx, "press-hall")
	if err != nil {
		t.Fatal(err)
	}
	edgeDir := filepath.Join(dir, "edge")
	// The launcher's and the edges' logs, shown when the test fails.
	logs, err := os.Create(filepath.Join(dir, "edge.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	launch := func() *exec.Cmd {
		cmd := exec.Command(bins[vA], "edge", "--supervise", "--update-trial", "2m", "--data", edgeDir, "--hub", h.URL(),
			"--enroll-token", token, "--mqtt-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0",
			"--manifest-poll", "100ms", "--health-window", "200ms", "--release-key", goodFile)
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	mark0 := time.Now()
	launcher := launch()
	defer func() {
		launcher.Process.Signal(syscall.SIGTERM)
		launcher.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("edge and launcher logs:\n%s", b)
		}
	}()
	report := func() *uplink.Report {
		var out struct {
			Edge struct {
				Reported *struct {
					Report uplink.Report `json:"report"`
				} `json:"reported"`
			} `json:"edge"`
		}
		c.get("/api/v1/fleet/edges/"+edgeID, &out)
		if out.Edge.Reported == nil {
			return nil
		}
		return &out.Edge.Reported.Report
	}
	waitFor(t, "the edge's first report", func() bool {
		r := report()
		return r != nil && r.Version == vA && r.Software != nil && r.Software.Managed
	})

	mark := mark0
	took := func(what string) {
		t.Logf("%s: %s", what, time.Since(mark).Round(10*time.Millisecond))
		mark = time.Now()
	}
	took("the edge's first report")
	want := func(version string) {
		c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"software": {"molen": "`+version+`"}}`, 200, nil)
	}
	// A version never released is refused by the hub.
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"software": {"molen": "9.9.9"}}`, 400, nil)

	// Update to B: the edge runs B, reports it, and keeps it.
	want(vB)
	waitFor(t, "the edge on "+vB, func() bool {
		r := report()
		return r.Version == vB && r.Software.State == uplink.StateInstalled && !r.Software.Trial
	})
	took("update to " + vB)
	st, err := edge.LoadSoftwareState(filepath.Join(edgeDir, edge.SoftwareDir))
	if err != nil || st.Current == nil || st.Current.Version != vB || st.Trial != nil {
		t.Fatalf("software state after the update: %+v, %v", st, err)
	}
	out, err := exec.Command(filepath.Join(edgeDir, edge.SoftwareDir, st.Current.File), "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "molen "+vB {
		t.Fatalf("the current binary's --version: %q, %v", out, err)
	}

	// A release the hub took but the edge's keys do not verify: refused,
	// counted, reported; B keeps running.
	want("1.2.0-rogue")
	waitFor(t, "the rogue release refused", func() bool {
		r := report()
		return r.Software.Wanted == "1.2.0-rogue" && r.Software.State == uplink.StateFailed
	})
	took("rogue release refused")
	if r := report(); r.Version != vB || !strings.Contains(r.Software.Error, "signature does not verify") || r.Software.Refused < 1 {
		t.Fatalf("after the rogue release: version %s, software %+v", r.Version, r.Software)
	}

	// A version that crashes at start: the launcher goes back to B,
	// which reports why.
	want("1.3.0-crash")
	waitFor(t, "the crashing version gone back", func() bool {
		r := report()
		return r.Software.Wanted == "1.3.0-crash" && r.Software.State == uplink.StateFailed
	})
	took("crashing version gone back")
	if r := report(); r.Version != vB || !strings.Contains(r.Software.Error, "exited") || r.Software.RolledBack < 1 {
		t.Fatalf("after the crashing version: version %s, software %+v", r.Version, r.Software)
	}

	// kill -9 of the launcher (and with it the edge) in the middle of an
	// update to A: started again, it runs the old version or the new
	// one, and its state says which.
	softDir := filepath.Join(edgeDir, edge.SoftwareDir)
	want(vA)
	waitFor(t, "the update under way", func() bool {
		entries, _ := os.ReadDir(softDir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "download-") || strings.HasPrefix(e.Name(), "molen-"+vA) {
				return true
			}
		}
		return false
	})
	launcher.Process.Kill()
	launcher.Wait()
	launcher = launch()
	waitFor(t, "the edge back after kill -9", func() bool {
		r := report()
		return r.Software.Wanted == vA && (r.Software.State == uplink.StateInstalled && !r.Software.Trial || r.Software.State == uplink.StateFailed)
	})
	took("back after kill -9")
	r := report()
	st, err = edge.LoadSoftwareState(softDir)
	if err != nil {
		t.Fatal(err)
	}
	current := vA // the installed binary
	if st.Current != nil {
		current = st.Current.Version
		b, err := os.ReadFile(filepath.Join(softDir, st.Current.File))
		if sum := sha256.Sum256(b); err != nil || hex.EncodeToString(sum[:]) != st.Current.SHA256 {
			t.Errorf("the current binary is not whole: %v", err)
		}
	}
	if r.Version != current || st.Trial != nil || (r.Version != vA && r.Version != vB) {
		t.Fatalf("after kill -9: running %s, state current %s, trial %+v; want the old or the new version, consistently", r.Version, current, st.Trial)
	}
	entries, _ := os.ReadDir(softDir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("a cut download left behind: %s", e.Name())
		}
	}
	t.Logf("after kill -9 in the middle of the update: running %s (%s)", r.Version, r.Software.State)
}
