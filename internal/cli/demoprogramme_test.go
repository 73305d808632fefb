//go:build !edgeonly

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/programme/dma"
)

// demoSession is a signed-in demo person.
type demoSession struct{ cookie, csrf string }

func demoDo(t *testing.T, base string, s demoSession, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if s.cookie != "" {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: s.cookie})
		req.Header.Set(api.CSRFHeader, s.csrf)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func demoLogin(t *testing.T, base, email, password string) (demoSession, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/v1/auth/login", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	var s demoSession
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			s.cookie = c.Value
		}
	}
	s.csrf = out.CSRF
	return s, resp.StatusCode
}

// TestDemoProgramme: the demo makes a programme of organisations and
// people; its admin signs in once by the printed link; each company sees
// its own data; the hub sees the factory's KPIs by its grant, and its
// advisor the factory's data by its consent. And no secret — password,
// token, link, session — reaches the logs of the whole run, failed
// sign-ins included.
func TestDemoProgramme(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	logs := &logtest.Buffer{}
	g := &globals{logLevel: "debug", logFormat: "json", stdout: &out, stderr: logs}
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 2, Rate: 2}, g)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	base := d.Hub.URL()
	printed := out.String()
	link := regexp.MustCompile(`http://\S+/auth/login\?token=(mll_\S+)`).FindStringSubmatch(printed)
	if link == nil || !strings.Contains(printed, "Ruben Smit") || !strings.Contains(printed, "Digital maturity") || !strings.Contains(printed, base+"/#token=mlt_") {
		t.Fatalf("demo output lacks the sign-in link, the people or the token URL:\n%s", printed)
	}
	// The link, once.
	form := url.Values{"token": {link[1]}}.Encode()
	post := func() *http.Response {
		req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post()
	var admin demoSession
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			admin.cookie = c.Value
		}
	}
	if resp.StatusCode != 303 || admin.cookie == "" {
		t.Fatalf("the sign-in link: %d, cookie %q", resp.StatusCode, admin.cookie)
	}
	if again := post(); again.StatusCode == 303 {
		t.Error("the sign-in link worked twice")
	}
	code, me := demoDo(t, base, admin, "GET", "/api/v1/me", "")
	if code != 200 || !strings.Contains(me, `"org":"platform"`) || !strings.Contains(me, "Molenaar Precisie") {
		t.Errorf("the demo admin: %d %s", code, me)
	}

	// The people's passwords, in a file only the owner reads.
	pf := filepath.Join(dir, "hub", DemoPeopleFile)
	if fi, err := os.Stat(pf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("people file: %v %v", fi, err)
	}
	passwords := map[string]string{}
	f, _ := os.Open(pf)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 4 && strings.Contains(fields[0], "@") {
			passwords[fields[0]] = fields[len(fields)-1]
		}
	}
	f.Close()
	if len(passwords) != len(demoPeople) {
		t.Fatalf("people file has %d people, want %d", len(passwords), len(demoPeople))
	}
	sessions := map[string]demoSession{}
	for _, email := range []string{"bram@vandijk.demo", "lotte.meijer@molenaar.demo", "ruben.smit@edih-noord.demo"} {
		s, code := demoLogin(t, base, email, passwords[email])
		if code != 200 {
			t.Fatalf("sign-in of %s: %d", email, code)
		}
		sessions[email] = s
	}
	// Failed sign-ins, for the log scan.
	for _, email := range []string{"bram@vandijk.demo", "nobody@molen.demo"} {
		if _, code := demoLogin(t, base, email, "wrong password attempt 12345"); code != 401 {
			t.Errorf("a wrong password: %d", code)
		}
	}
	// Each company its own data.
	waitFor(t, "the factory's data", func() bool { return latestCount(t, d) > 10 })
	_, bram := demoDo(t, base, sessions["bram@vandijk.demo"], "GET", "/api/v1/latest", "")
	_, lotte := demoDo(t, base, sessions["lotte.meijer@molenaar.demo"], "GET", "/api/v1/latest", "")
	if !strings.Contains(bram, "vandijk-emmen") || strings.Contains(bram, "demo-factory") {
		t.Errorf("Van Dijk sees: %.300s", bram)
	}
	if !strings.Contains(lotte, "demo-factory") || strings.Contains(lotte, "vandijk") || strings.Contains(lotte, "bakker-eindhoven") {
		t.Errorf("the factory's viewer sees: %.300s", lotte)
	}
	// Each company its assessments: a T0, and the factory a T1 by its
	// hub's advisor.
	if code, b := demoDo(t, base, sessions["bram@vandijk.demo"], "GET", "/api/v1/assessments", ""); code != 200 || strings.Count(b, `"id":"dma_`) != 1 || !strings.Contains(b, "moderately-advanced") {
		t.Errorf("Van Dijk's assessments: %d %.300s", code, b)
	}
	if code, b := demoDo(t, base, sessions["lotte.meijer@molenaar.demo"], "GET", "/api/v1/assessments/comparison", ""); code != 200 || !strings.Contains(b, `"stage":"T1"`) {
		t.Errorf("the factory's comparison: %d %.300s", code, b)
	}
	// The hub: the factory's KPIs by its grant, not its raw data; its
	// data by the consent the advisor acts under.
	ruben := sessions["ruben.smit@edih-noord.demo"]
	if code, b := demoDo(t, base, ruben, "GET", "/api/v1/oee?org=default", ""); code != 200 {
		t.Errorf("the advisor reading the factory's OEE: %d %s", code, b)
	}
	if code, _ := demoDo(t, base, ruben, "GET", "/api/v1/latest?org=default", ""); code != 404 {
		t.Errorf("the advisor reading the factory's raw data without acting for it: %d", code)
	}
	code, sw := demoDo(t, base, ruben, "POST", "/api/v1/auth/switch", `{"org":"default"}`)
	if code != 200 {
		t.Fatalf("the advisor acting for the factory: %d %s", code, sw)
	}

	// Nothing secret in the logs.
	secrets := []string{link[1], admin.cookie, "wrong password attempt 12345"}
	for _, s := range sessions {
		secrets = append(secrets, s.cookie, s.csrf)
	}
	for _, p := range passwords {
		secrets = append(secrets, p)
	}
	tok, _ := d.Hub.AdminToken()
	secrets = append(secrets, tok)
	text := logs.String()
	if !strings.Contains(text, `"level"`) {
		t.Fatalf("no logs captured: %q", text)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret (%.6s…) is in the logs", s)
		}
	}
	if m := regexp.MustCompile(`ml[a-z]_[A-Za-z0-9_-]{43}`).FindString(text); m != "" {
		t.Errorf("a secret of molen's form is in the logs: %.8s…", m)
	}
}

// TestDemoAssessments: the demo's assessments are whole questionnaires
// whose scores are fixed, spread over three bands, and the factory's T1
// is better than its T0.
func TestDemoAssessments(t *testing.T) {
	q := dma.MustLoad(dma.Latest)
	want := []struct {
		overall string
		band    dma.Band
	}{{"27.99", dma.BandAverage}, {"61.24", dma.BandModeratelyAdvanced}, {"10.00", dma.BandBasic}, {"49.47", dma.BandAverage}}
	for i, d := range demoAssessments {
		r, err := q.Score(d.answers)
		if err != nil {
			t.Fatalf("%s %s: %v", d.org, d.stage, err)
		}
		if got := fmt.Sprintf("%.2f", r.Overall); got != want[i].overall || r.Band != want[i].band {
			t.Errorf("%s %s: %s %s, want %s %s", d.org, d.stage, got, r.Band, want[i].overall, want[i].band)
		}
	}
}
