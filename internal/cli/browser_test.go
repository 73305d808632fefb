//go:build !edgeonly

package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a headless-capable Chromium, or skips the
// test (fails it when MOLEN_REQUIRE_BROWSER is set, as in CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("MOLEN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MOLEN_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium found (set MOLEN_CHROMIUM or install chromium); MOLEN_REQUIRE_BROWSER is set")
	}
	t.Skip("no Chromium found: install chromium (apt-get install chromium) or set MOLEN_CHROMIUM to run the browser test")
	return ""
}

// renderDOM loads url in headless Chromium, lets the page's scripts run for
// a few seconds and returns the resulting DOM.
func renderDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1000",
		"--virtual-time-budget=5000", "--dump-dom", url)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errOut.String())
	}
	return out.String()
}

var (
	cardRe  = regexp.MustCompile(`data-machine="([^"]+)"`)
	stateRe = regexp.MustCompile(`data-state="([^"]*)"`)
	chartRe = regexp.MustCompile(`data-points="(\d+)"`)
	seqRe   = regexp.MustCompile(`<[^>]*data-tag="seq"[^>]*>`)
	valRe   = regexp.MustCompile(`data-value="(\d+)"`)
)

// seqs returns, in card order, the seq value each machine card shows.
func seqs(t *testing.T, dom string) []int {
	t.Helper()
	var out []int
	for _, tag := range seqRe.FindAllString(dom, -1) {
		m := valRe.FindStringSubmatch(tag)
		if m == nil {
			t.Fatalf("seq element without a value: %s", tag)
		}
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

// TestDemoInABrowser opens the demo's page in a real headless Chromium and
// checks that every simulated machine is shown with a state, values and a
// chart, and that the values move.
func TestDemoInABrowser(t *testing.T) {
	browser := chromium(t)
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Seed: 3, Rate: 5}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	machines := d.Machines()
	if len(machines) != 5 {
		t.Fatalf("demo has machines %v, want five (two over MQTT, three over other protocols)", machines)
	}
	waitFor(t, "every machine's data at the hub", func() bool { return latestCount(t, d) >= 10*len(machines) })
	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	url := d.Hub.URL() + "/#token=" + token

	dom := renderDOM(t, browser, url)
	var cards []string
	for _, m := range cardRe.FindAllStringSubmatch(dom, -1) {
		cards = append(cards, m[1])
	}
	for _, m := range machines {
		if !strings.Contains(strings.Join(cards, " "), m) {
			t.Errorf("page shows no card for %s (cards: %v)", m, cards)
		}
	}
	states := stateRe.FindAllStringSubmatch(dom, -1)
	if len(states) != len(machines) {
		t.Errorf("page shows %d states, want %d", len(states), len(machines))
	}
	for _, s := range states {
		switch s[1] {
		case "running", "idle", "setup", "down":
		default:
			t.Errorf("state badge %q, want running, idle, setup or down", s[1])
		}
	}
	charts := chartRe.FindAllStringSubmatch(dom, -1)
	if len(charts) != len(machines) {
		t.Errorf("page shows %d charts, want %d", len(charts), len(machines))
	}
	for i, c := range charts {
		if n, _ := strconv.Atoi(c[1]); n < 1 {
			t.Errorf("chart %d plots %d points, want at least 1", i, n)
		}
	}
	first := seqs(t, dom)
	if len(first) != len(machines) {
		t.Fatalf("page shows %d seq values, want %d", len(first), len(machines))
	}

	// Live: once the hub has newer values of every machine, a second load
	// shows them.
	waitFor(t, "newer seq values of every machine at the hub", func() bool {
		l := latest(t, d)
		for i, m := range cards {
			if n, _ := strconv.Atoi(string(l[m+"/seq"])); n <= first[i] {
				return false
			}
		}
		return true
	})
	second := seqs(t, renderDOM(t, browser, url))
	if len(second) != len(first) {
		t.Fatalf("second load shows %d seq values, first %d", len(second), len(first))
	}
	for i := range first {
		if second[i] <= first[i] {
			t.Errorf("card %d (%s): seq %d then %d; the page does not show live data", i, cards[i], first[i], second[i])
		}
	}

	// Without a token the page asks for one instead of showing data.
	noToken := renderDOM(t, browser, d.Hub.URL()+"/")
	if cardRe.MatchString(noToken) || !strings.Contains(noToken, "admin-token") {
		t.Error("page without a token shows data or does not say where the token is")
	}
}
