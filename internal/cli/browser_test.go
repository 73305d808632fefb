//go:build !edgeonly

package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
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
	missing(t, "no Chromium found: install chromium (apt-get install chromium) or set MOLEN_CHROMIUM to run the browser test")
	return ""
}

// missing skips the test for want of a tool, or fails it when
// MOLEN_REQUIRE_BROWSER is set.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MOLEN_REQUIRE_BROWSER") != "" {
		t.Fatal(why + " (MOLEN_REQUIRE_BROWSER is set)")
	}
	t.Skip(why)
}

// browserScript returns node and the path of the browser test script,
// whose libraries (playwright-core, axe-core) `npm ci` in web/ installs.
func browserScript(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "no node found: install nodejs to run the browser test")
	}
	web, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		missing(t, "web/node_modules has no playwright-core: run `npm ci` in web/ to run the browser test")
	}
	return node, filepath.Join(web, "test", "browser.mjs")
}

// demoPassword reads a demo person's password from the demo's people file.
func demoPassword(t *testing.T, dataDir, email string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dataDir, "hub", DemoPeopleFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 2 && fields[0] == email {
			return fields[len(fields)-1]
		}
	}
	t.Fatalf("%s is not in the demo's people file", email)
	return ""
}

// stopOnce publishes, to the demo edge's MQTT listener, the states of a
// test machine that stopped for 20 seconds two minutes ago, so the
// browser has a downtime to give a reason.
func stopOnce(t *testing.T, d *Demo, asset string) {
	t.Helper()
	t0 := time.Now().Add(-2 * time.Minute).UnixMilli()
	var payloads []string
	for i, state := range []string{"running", "down", "running"} {
		payloads = append(payloads, fmt.Sprintf(`{"value": %q, "ts": %d}`, state, t0+int64(i)*20000))
	}
	publishAll(t, d, asset+"/state", payloads)
}

// publishAll publishes payloads in order to topic on the demo edge's MQTT
// listener, each acknowledged (QoS 1).
func publishAll(t *testing.T, d *Demo, topic string, payloads []string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + d.Edge.MQTTAddr()).SetClientID("browser-test"))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(250)
	for _, p := range payloads {
		if tok := c.Publish(topic, 1, false, p); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
}

// vibrationSpike publishes a steady vibration of a test machine and then
// a spike, which the demo pipeline's anomaly operator raises as an
// anomaly: an alarm for the browser to acknowledge.
func vibrationSpike(t *testing.T, d *Demo, asset string) {
	t.Helper()
	t0 := time.Now().Add(-3 * time.Minute).UnixMilli()
	var payloads []string
	for i := range 90 {
		v := 2.0 + float64(i%3)*0.01
		if i >= 80 {
			v = 40
		}
		payloads = append(payloads, fmt.Sprintf(`{"value": %g, "ts": %d}`, v, t0+int64(i)*1000))
	}
	publishAll(t, d, asset+"/vibration_mm_s", payloads)
}

// hubGet answers the demo hub's JSON at path, as its admin token.
func hubGet(t *testing.T, d *Demo, path string, out any) int {
	t.Helper()
	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", d.Hub.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// served reports whether the demo's hub has a route for path.
func served(d *Demo, path string) bool {
	for _, r := range d.Hub.Routes() {
		if r.Path == path {
			return true
		}
	}
	return false
}

// TestDemoInABrowser runs web/test/browser.mjs in a real headless
// Chromium against the demo: sign in, switch organisation, navigate to a
// machine, zoom its chart to a day and back, see a value change live,
// export CSV, give a downtime a reason and see the Pareto change, switch
// to Dutch, dark theme and a phone's screen, with axe-core finding no
// serious or critical violation on any main view. Screenshots go to
// $MOLEN_SCREENSHOTS (else a temporary folder).
func TestDemoInABrowser(t *testing.T) {
	browser := chromium(t)
	node, script := browserScript(t)
	dataDir := t.TempDir()
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 3, Rate: 5}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	machines := d.Machines()
	waitFor(t, "every machine's data at the hub", func() bool { return latestCount(t, d) >= 10*len(machines) })
	const stopped = "demo-factory/hall-a/line-1/test-cell"
	stopOnce(t, d, stopped)
	waitFor(t, "the test machine's downtime at the hub", func() bool {
		var ev struct{ Events []json.RawMessage }
		hubGet(t, d, "/api/v1/events?kind=downtime&asset="+stopped+"&from=-10m", &ev)
		return len(ev.Events) > 0
	})

	token, err := d.Hub.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	vibrationSpike(t, d, stopped)
	waitFor(t, "the test machine's anomaly at the hub", func() bool {
		var ev struct{ Events []json.RawMessage }
		hubGet(t, d, "/api/v1/events?kind=anomaly&asset="+stopped+"&from=-10m", &ev)
		return len(ev.Events) > 0
	})

	env := []string{"MOLEN_MACHINE=" + machines[0], "MOLEN_TOKEN=" + token}
	if served(d, "/api/v1/series/rename") {
		env = append(env, "MOLEN_SERIES_ADMIN=1")
	}
	out := runBrowserScript(t, node, script, d, dataDir, browser, env...)
	// Where the hub has downtime reasons, giving one is part of the test;
	// where it streams live data, the page must follow the stream.
	if served(d, "/api/v1/reasons") && strings.Contains(out, "SKIP downtime reason") {
		t.Error("the hub has downtime reasons but the browser test skipped giving one")
	}
	if served(d, "/api/v1/live") && !strings.Contains(out, "live status: live\n") {
		t.Error("the hub streams live data but the page does not follow the stream")
	}
}
