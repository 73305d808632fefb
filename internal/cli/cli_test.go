//go:build !edgeonly

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHelpForEveryCommand(t *testing.T) {
	for _, cmd := range []string{"", "demo", "hub", "edge", "sim", "version"} {
		var out, errOut bytes.Buffer
		args := []string{"--help"}
		if cmd != "" {
			args = []string{cmd, "--help"}
		}
		if code := Main(args, &out, &errOut); code != 0 {
			t.Errorf("molen %s --help: exit %d, stderr %s", cmd, code, errOut.String())
		}
		if !strings.Contains(out.String(), "Usage:") {
			t.Errorf("molen %s --help printed no usage:\n%s", cmd, out.String())
		}
	}
}

func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v1.2.3-test"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out bytes.Buffer
		if code := Main(args, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "molen v1.2.3-test") {
			t.Errorf("molen %v: exit %d, output %q, want the stamped version", args, code, out.String())
		}
	}
}

func TestBadFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"edge", "--buffer-full", "sometimes"}, "--buffer-full"},
		{[]string{"sim", "--rate", "-1"}, "rate"},
		{[]string{"hub", "--log-level", "loud"}, "--log-level"},
		{[]string{"hub", "--retention-raw", "a while"}, "--retention-raw"},
		{[]string{"hub", "--retention-raw", "-3d"}, "negative"},
		{[]string{"hub", "--retention-minute", "1d"}, "minute: 1d is shorter than raw (90d)"},
		{[]string{"demo", "--nonsense"}, "unknown flag"},
		{[]string{"demo", "--history", "31"}, "--history 31: want 0 to 30 days"},
		{[]string{"demo", "--history", "-1"}, "--history -1"},
	}
	for _, tt := range tests {
		var errOut bytes.Buffer
		if code := Main(tt.args, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("molen %v: exit %d, stderr %q, want an error mentioning %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

func testGlobals(out io.Writer) *globals {
	return &globals{logLevel: "warn", logFormat: "text", stdout: out, stderr: io.Discard}
}

func TestDemoPortTakenSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartDemo(t.Context(), DemoConfig{DataDir: t.TempDir(), Listen: ln.Addr().String(), Seed: 1, Rate: 1}, testGlobals(io.Discard))
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("StartDemo on a taken port: %v, want a message about the port and --listen", err)
	}
}

// latestCount returns how many series the demo's hub has latest values for.
func latestCount(t *testing.T, d *Demo) int {
	return len(latest(t, d))
}

// latest returns the demo hub's latest value of every series.
func latest(t *testing.T, d *Demo) map[string]json.RawMessage {
	t.Helper()
	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", d.Hub.URL()+"/api/v1/latest", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Points []struct {
			Series string          `json:"series"`
			Value  json.RawMessage `json:"value"`
		} `json:"points"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]json.RawMessage, len(out.Points))
	for _, p := range out.Points {
		m[p.Series] = p.Value
	}
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 20*time.Second, what, cond)
}

// waitWithin polls cond until it holds; limit is for a hung part, not a
// performance requirement.
func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDemoRunsAgainOnTheSameData(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 1, Rate: 5}
	d, err := StartDemo(t.Context(), cfg, testGlobals(&out))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), d.Hub.URL()+"/#token=mlt_") {
		t.Errorf("demo output lacks the UI URL with token:\n%s", out.String())
	}
	waitFor(t, "data from the first run", func() bool { return latestCount(t, d) > 20 })
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(d.Hub.URL() + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, err, resp)
		} else {
			resp.Body.Close()
		}
	}
	token1, _ := d.Hub.AdminToken()
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	out.Reset()
	d, err = StartDemo(context.Background(), cfg, testGlobals(&out))
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer d.Close()
	if strings.Contains(out.String(), "created admin token") {
		t.Error("second run created a new admin token")
	}
	token2, _ := d.Hub.AdminToken()
	if token1 != token2 {
		t.Error("admin token changed between runs")
	}
	if n := latestCount(t, d); n <= 20 {
		t.Errorf("second run sees %d series, want the first run's data", n)
	}
	// The edge reuses its credential (no new enrollment) and data flows.
	if _, err := os.Stat(filepath.Join(dir, "edge", "credential.json")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edge forwarding in the second run", func() bool { return d.Edge.Status().Forward.Points > 0 })
	// The demo's edge once, the two edges of other halls it registers (not
	// installed) once, and its Margo device once.
	edges, err := d.Hub.Fleet().Edges(t.Context(), "default")
	var names []string
	for _, e := range edges {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	if err != nil || strings.Join(names, ",") != "demo-edge,paint-shop,vision-station,warehouse" {
		t.Errorf("hub has edges %v (%v), want the demo's edge from the first run, the two not installed and the Margo device", names, err)
	}
	// The Margo device onboarded and reported over Margo's API.
	for _, e := range edges {
		if e.Name != "vision-station" {
			continue
		}
		mr, err := d.Hub.Fleet().Margo(t.Context(), "default", e.ID)
		if err != nil || mr.Capabilities == nil || len(mr.Deployments) != 1 || mr.Deployments[0].Status.State != "installed" || e.PublicKey == "" {
			t.Errorf("the demo's Margo device: %+v %v", mr, err)
		}
	}
}

func TestEdgeCheck(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(pipe, []byte("pipelines:\n  - name: alarms\n    match: \"f/#\"\n    output: drop\n    stages:\n      - alarm: {limits: [{high: 10}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "edge")
	var out, errOut bytes.Buffer
	code := Main([]string{"edge", "--check", "--data", data, "--hub", "http://hub.example:8080", "--enroll-token", "mle_x", "--pipeline", pipe}, &out, &errOut)
	want := "hub: http://hub.example:8080 (not enrolled yet)\npipelines from " + pipe + ": 1\n  alarms: 1 stage → drop\nok\n"
	if code != 0 || out.String() != want || !strings.HasPrefix(errOut.String(), "warning: pipelines[0] (alarms): output drop") {
		t.Errorf("molen edge --check: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out.String(), want, errOut.String())
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("--check created the data directory (%v)", err)
	}

	out.Reset()
	errOut.Reset()
	code = Main([]string{"edge", "--check", "--data", data, "--hub", "hub.example:8080"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), `molen: --hub "hub.example:8080": want an http:// or https:// URL`) {
		t.Errorf("molen edge --check with a bad hub URL: exit %d, stderr %q", code, errOut.String())
	}
}
