package hub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/notify/sink"
	"github.com/molen-io/molen/internal/uns"
)

// TestNotifications: an alarm that an edge sends reaches an e-mail box
// and a Teams webhook through the hub's rules, with nobody signed in; the
// link in the message acknowledges the alarm (once, audited); the
// deliveries show in the log and in /metrics; another organisation sees
// none of it.
func TestNotifications(t *testing.T) {
	mails, err := sink.StartSMTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mails.Close()
	hooks := sink.NewWebhook("")
	receiver := httptest.NewServer(hooks)
	defer receiver.Close()
	h := startAPIHubWith(t, hub.Config{SMTP: notify.SMTP{Addr: mails.Addr(), From: "molen@hub.test", TLS: "none"}, NotifyPrivateTargets: true})

	code, email := h.do("POST", "/api/v1/notify/channels", h.admin, `{"name":"Shift leads","kind":"email","target":"lead@factory.test"}`)
	if code != 201 || email["secret"] != "" {
		t.Fatalf("email channel: %d %v", code, email)
	}
	code, teams := h.do("POST", "/api/v1/notify/channels", h.admin, `{"name":"Maintenance (Teams)","kind":"webhook","target":"`+receiver.URL+`/teams","format":"teams"}`)
	key, _ := teams["secret"].(string)
	if code != 201 || !strings.HasPrefix(key, "mlw_") {
		t.Fatalf("teams channel: %d %v", code, teams)
	}
	hooks.SetKey(key)
	// Shown once: the list masks it.
	_, list := h.do("GET", "/api/v1/notify/channels", h.admin, "")
	if b, _ := json.Marshal(list); strings.Contains(string(b), key) || !strings.Contains(string(b), `"secret":"set"`) {
		t.Errorf("channel list shows the secret: %s", b)
	}
	if code, _ := h.do("GET", "/api/v1/notify/channels", h.viewer, ""); code != 403 {
		t.Errorf("a viewer lists channels: %d", code)
	}
	// An engineer sees the channels to choose from, not the webhook's path.
	_, list = h.do("GET", "/api/v1/notify/channels", token(t, h, api.RoleEngineer), "")
	if b, _ := json.Marshal(list); strings.Contains(string(b), "/teams") || !strings.Contains(string(b), "Maintenance (Teams)") {
		t.Errorf("an engineer's channel list: %s", b)
	}
	for _, ch := range []map[string]any{email, teams} {
		body := `{"name":"Compressor to ` + ch["name"].(string) + `","trigger":"alarm","prefix":"demo-factory/hall-a","channel":"` + ch["id"].(string) + `"}`
		if code, out := h.do("POST", "/api/v1/notify/rules", h.admin, body); code != 201 {
			t.Fatalf("rule: %d %v", code, out)
		}
	}
	if code, out := h.do("POST", "/api/v1/notify/rules", h.adminB, `{"name":"x","trigger":"alarm","channel":"`+email["id"].(string)+`"}`); code != 400 {
		t.Errorf("b's rule on the default organisation's channel: %d %v", code, out)
	}

	raised := time.Now()
	alarm := uns.Event{Asset: "demo-factory/hall-a/line-1/compressor", Kind: "alarm", Start: raised.UnixNano(),
		Attrs: map[string]string{"alarm": "pressure_bar high", "value": "9.4"}}
	sendEvents(t, h, "events/alarms", 1, alarm)

	m := <-mails.C
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Subject"); got != "[molen] pressure_bar high on demo-factory/hall-a/line-1/compressor" {
		t.Errorf("subject %q", got)
	}
	hk := <-hooks.C
	if !hk.Verified || hk.Path != "/teams" {
		t.Errorf("webhook verified=%v path=%s", hk.Verified, hk.Path)
	}
	var card struct {
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Actions []struct{ URL string }
			}
		}
	}
	if err := json.Unmarshal(hk.Body, &card); err != nil || len(card.Attachments) != 1 || len(card.Attachments[0].Content.Actions) != 1 {
		t.Fatalf("teams card: %v %s", err, hk.Body)
	}
	ack := card.Attachments[0].Content.Actions[0].URL
	if !strings.HasPrefix(ack, h.URL()+"/notify/ack?token=") {
		t.Fatalf("ack link %q", ack)
	}
	token, _ := url.Parse(ack)

	// Both attempts began before their messages arrived; once they are
	// recorded, the log shows both deliveries sent; another organisation's log is empty.
	h.Notify().Wait()
	_, out := h.do("GET", "/api/v1/notify/deliveries?state=sent", h.viewer, "")
	if ds := out["deliveries"].([]any); len(ds) != 2 {
		t.Errorf("deliveries: %v", ds)
	}
	if _, out := h.do("GET", "/api/v1/notify/deliveries", h.adminB, ""); len(out["deliveries"].([]any)) != 0 {
		t.Errorf("b's deliveries: %v", out)
	}

	// Opening the link acknowledges nothing; a changed token is refused;
	// the form's POST acknowledges, once.
	page := func(method, tok string) (int, string) {
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = http.Get(h.URL() + "/notify/ack?token=" + url.QueryEscape(tok))
		} else {
			req, _ := http.NewRequest("POST", h.URL()+"/notify/ack", strings.NewReader(url.Values{"token": {tok}, "name": {"Piet"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", h.URL())
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err = http.DefaultClient.Do(req)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := token.Query().Get("token")
	if code, b := page("GET", tok); code != 200 || !strings.Contains(b, "pressure_bar high") || !strings.Contains(b, `name="token"`) {
		t.Errorf("ack page: %d %s", code, b)
	}
	if code, _ := page("POST", tok[:len(tok)-2]+"xx"); code != 404 {
		t.Errorf("a changed token: %d, want 404", code)
	}
	if code, b := page("POST", tok); code != 200 || !strings.Contains(b, "Acknowledged.") {
		t.Errorf("ack: %d %s", code, b)
	}
	if code, b := page("POST", tok); code != 200 || !strings.Contains(b, "acknowledged already") {
		t.Errorf("second ack: %d %s", code, b)
	}
	_, out = h.do("GET", "/api/v1/alarms?from=0", h.viewer, "")
	as := out["alarms"].([]any)
	if len(as) != 1 || as[0].(map[string]any)["acked"] != true || !strings.HasPrefix(as[0].(map[string]any)["acked_by"].(string), "link:ndl_") {
		t.Errorf("alarm after the link: %v", as)
	}
	if got := auditActions(t, h, "alarm.acked"); len(got) != 1 {
		t.Errorf("audit: %v", got)
	}
	if got := auditActions(t, h, "notify."); len(got) != 4 {
		t.Errorf("audit of channels and rules: %v, want 4", got)
	}

	// The sender counts an attempt after the receiver has the message:
	// the counts may follow the messages by a moment.
	wants := []string{`molen_notify_attempts_total{kind="email",outcome="sent"} 1`, `molen_notify_attempts_total{kind="webhook",outcome="sent"} 1`,
		`molen_notify_queued_total{trigger="alarm"} 2`, "molen_notify_latency_seconds_count 2"}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(h.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var missing []string
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %s", strings.Join(missing, ", "))
		}
		time.Sleep(20 * time.Millisecond) // polling for the condition
	}
}

// TestAckPageDutch: the page of a Dutch message's link is Dutch, from
// the first view to the acknowledgement and the note in the alarm's
// history; a link that is not valid answers in the browser's language.
func TestAckPageDutch(t *testing.T) {
	mails, err := sink.StartSMTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mails.Close()
	h := startAPIHubWith(t, hub.Config{SMTP: notify.SMTP{Addr: mails.Addr(), From: "molen@hub.test", TLS: "none"}})
	if code, out := h.do("PUT", "/api/v1/notify/settings", h.admin, `{"locale":"nl-NL"}`); code != 200 || out["effective"] != "nl" {
		t.Fatalf("settings: %d %v", code, out)
	}
	code, email := h.do("POST", "/api/v1/notify/channels", h.admin, `{"name":"Ploegleiders","kind":"email","target":"lead@factory.test"}`)
	if code != 201 {
		t.Fatalf("channel: %d %v", code, email)
	}
	if code, out := h.do("POST", "/api/v1/notify/rules", h.admin, `{"name":"Compressor","trigger":"alarm","prefix":"demo-factory","channel":"`+email["id"].(string)+`"}`); code != 201 {
		t.Fatalf("rule: %d %v", code, out)
	}
	asset := "demo-factory/hall-a/line-1/compressor"
	sendEvents(t, h, "events/alarms", 1, uns.Event{Asset: asset, Kind: "alarm", Start: time.Now().UnixNano(),
		Attrs: map[string]string{"alarm": "pressure_bar high"}})
	m := <-mails.C
	_, text, err := m.Read()
	if err != nil {
		t.Fatal(err)
	}
	_, link, ok := strings.Cut(text, "Bevestigen: ")
	if !ok {
		t.Fatalf("no Dutch link in the e-mail:\n%s", text)
	}
	link, _, _ = strings.Cut(link, "\n")
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")

	page := func(method, tok, acceptLang string) (int, string) {
		req, _ := http.NewRequest("GET", h.URL()+"/notify/ack?token="+url.QueryEscape(tok), nil)
		if method == "POST" {
			req, _ = http.NewRequest("POST", h.URL()+"/notify/ack", strings.NewReader(url.Values{"token": {tok}, "name": {"Piet"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", h.URL())
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		req.Header.Set("Accept-Language", acceptLang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, tok, acceptLang string
		code                    int
		want                    []string
	}{
		// The message's language wins over the browser's.
		{"GET", tok, "en-GB,en", 200, []string{`<html lang="nl">`, "Een alarm bevestigen", "Sinds 20", "Je naam (voor de geschiedenis van het alarm)", ">Bevestigen</button>", "molen openen"}},
		{"GET", tok[:len(tok)-2] + "xx", "nl-NL,nl;q=0.9,en;q=0.8", 404, []string{`<html lang="nl">`, "Deze link is niet geldig."}},
		{"GET", tok[:len(tok)-2] + "xx", "en-US,nl;q=0.5", 404, []string{`<html lang="en">`, "This link is not valid."}},
		{"POST", tok, "", 200, []string{`<html lang="nl">`, "Bevestigd. Dank je"}},
		{"POST", tok, "", 200, []string{"Dit alarm is al bevestigd."}},
	} {
		code, b := page(c.method, c.tok, c.acceptLang)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.acceptLang, code, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(b, w) {
				t.Errorf("%s %s: no %q in\n%s", c.method, c.acceptLang, w, b)
			}
		}
	}
	_, out := h.do("GET", "/api/v1/alarms?from=0", h.viewer, "")
	if b, _ := json.Marshal(out); !strings.Contains(string(b), "Bevestigd door Piet via een melding.") {
		t.Errorf("the alarm's note is not Dutch: %s", b)
	}
}
