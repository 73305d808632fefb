package notify_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/notify/sink"
	"github.com/molen-io/molen/internal/reports"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// env is a notify service on real storage, with its own clock.
type env struct {
	*notify.Service
	db    *meta.DB
	st    store.Store
	fac   *factory.Service
	fleet *fleet.Service
	audit *audit.Log
	clock *clocktest.Clock
	smtp  notify.SMTP
	// attempted gets the delivery ID of each attempt once its outcome is
	// recorded.
	attempted chan string
}

const org = "acme"

// start is the time of the tests' clock: 23:30 UTC on 2026-03-02.
var start = time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC)

func newEnv(t *testing.T, db *meta.DB, smtpCfg notify.SMTP) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "molen.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := clocktest.New(start)
	e := &env{db: db, st: st, clock: c, smtp: smtpCfg, attempted: make(chan string, 100)}
	if e.audit, err = audit.New(ctx, db, c.Now, nil); err != nil {
		t.Fatal(err)
	}
	if e.fac, err = factory.New(ctx, factory.Config{DB: db, Store: st, Audit: e.audit, Now: c.Now}); err != nil {
		t.Fatal(err)
	}
	if e.fleet, err = fleet.New(ctx, db, slog.New(slog.DiscardHandler), c.Now, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	e.Service = e.restart(t)
	return e
}

// restart makes a new service on the same storage, as a hub that
// restarted would.
func (e *env) restart(t *testing.T) *notify.Service {
	t.Helper()
	s, err := notify.New(t.Context(), notify.Config{DB: e.db, Store: e.st, Factory: e.fac, Fleet: e.fleet.Conditions,
		OEE: reports.New(e.st, e.clock.Now).MachinesOEE, Audit: e.audit, Now: e.clock.Now,
		PublicURL: func() string { return "https://hub.example.test" }, SMTP: e.smtp, PrivateTargets: true,
		Attempted: func(id string, _ error) {
			select {
			case e.attempted <- id:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) channel(t *testing.T, c notify.Channel) notify.Channel {
	t.Helper()
	c, err := e.CreateChannel(t.Context(), org, c, audit.Entry{Org: org, Actor: "tester", Action: "notify.channel.created"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) rule(t *testing.T, r notify.Rule) notify.Rule {
	t.Helper()
	r.Enabled = true
	r, err := e.PutRule(t.Context(), org, r, audit.Entry{Org: org, Actor: "tester", Action: "notify.rule.created"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// alarm is an alarm of asset that started a minute before the clock.
func (e *env) alarm(asset string) uns.Event {
	return uns.Event{Asset: asset, Kind: "alarm", Start: e.clock.Now().Add(-time.Minute).UnixNano(), Attrs: map[string]string{"alarm": "pressure high", "value": "9.1"}}
}

// store stores evs as the hub's ingest would.
func (e *env) store(t *testing.T, seq uint64, evs ...uns.Event) {
	t.Helper()
	if _, err := e.st.Ingest(t.Context(), org, store.Source{Edge: "edge-1", Stream: "events"}, []store.Record{{Seq: seq, Events: evs}}); err != nil {
		t.Fatal(err)
	}
}

// round runs one round of the loop and waits for its attempts.
func (e *env) round(t *testing.T, s *notify.Service) {
	t.Helper()
	if err := s.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Wait()
}

func (e *env) deliveries(t *testing.T) map[string]notify.Delivery {
	t.Helper()
	ds, err := e.Deliveries(t.Context(), org, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]notify.Delivery{}
	for _, d := range ds {
		out[d.Channel+"/"+d.Message.Asset] = d
	}
	return out
}

// hook is a webhook receiver whose answers the test decides.
type hook struct {
	*httptest.Server
	got    chan *http.Request
	bodies chan []byte
	answer func() int
}

func newHook(t *testing.T, answer func() int) *hook {
	h := &hook{got: make(chan *http.Request, 10), bodies: make(chan []byte, 10), answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		code := 204
		if h.answer != nil {
			code = h.answer()
		}
		if code/100 == 2 {
			h.got <- r
			h.bodies <- b
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func TestWebhookFormatsAreSigned(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	hooks := map[string]*hook{}
	keys := map[string]string{}
	for _, f := range []string{notify.FormatJSON, notify.FormatTeams, notify.FormatSlack} {
		hooks[f] = newHook(t, nil)
		c := e.channel(t, notify.Channel{Name: f, Kind: notify.KindWebhook, Target: hooks[f].URL + "/in", Format: f})
		if !strings.HasPrefix(c.Secret, "mlw_") {
			t.Fatalf("webhook secret %q", c.Secret)
		}
		keys[f] = c.Secret
		e.rule(t, notify.Rule{Name: "to " + f, Trigger: notify.TriggerAlarm, Prefix: "site/hall", Channel: c.ID})
	}
	ev := e.alarm("site/hall/compressor")
	other := e.alarm("elsewhere/pump") // under no rule's prefix
	if err := e.Raise(t.Context(), org, []uns.Event{ev, other}); err != nil {
		t.Fatal(err)
	}
	// The same alarm again (its end arriving, say) is no second message.
	if err := e.Raise(t.Context(), org, []uns.Event{ev}); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	for f, h := range hooks {
		r, body := <-h.got, <-h.bodies
		if err := notify.Verify(keys[f], r.Header.Get(notify.HeaderSignature), r.Header.Get(notify.HeaderTimestamp), body, e.clock.Now(), time.Minute); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if err := notify.Verify(keys[notify.FormatJSON+"x"], r.Header.Get(notify.HeaderSignature), r.Header.Get(notify.HeaderTimestamp), body, e.clock.Now(), time.Minute); err == nil {
			t.Errorf("%s: verified with the wrong key", f)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v: %s", f, err, body)
		}
		s := string(body)
		switch f {
		case notify.FormatJSON:
			if v["asset"] != "site/hall/compressor" || v["kind"] != "alarm" || !strings.HasPrefix(v["ack_url"].(string), "https://hub.example.test/notify/ack?token=") {
				t.Errorf("json: %s", s)
			}
		case notify.FormatTeams:
			att := v["attachments"].([]any)[0].(map[string]any)
			if v["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(s, `"Action.OpenUrl"`) || !strings.Contains(s, "pressure high") {
				t.Errorf("teams: %s", s)
			}
		case notify.FormatSlack:
			if !strings.Contains(v["text"].(string), "pressure high on site/hall/compressor") || !strings.Contains(s, `"button"`) {
				t.Errorf("slack: %s", s)
			}
		}
		select {
		case <-h.got:
			t.Errorf("%s: a second message", f)
		default:
		}
	}
	ds := e.deliveries(t)
	if len(ds) != 3 {
		t.Errorf("deliveries: %v, want 3", ds)
	}
	for _, d := range ds {
		if d.State != notify.StateSent || d.Attempts != 1 || !d.SentAt.Equal(e.clock.Now()) {
			t.Errorf("delivery %+v", d)
		}
	}
}

// readMail parses a mail the sink received: its header and its text.
func readMail(t *testing.T, m sink.Mail) (*mail.Message, string) {
	t.Helper()
	msg, text, err := m.Read()
	if err != nil {
		t.Fatal(err)
	}
	return msg, text
}

func TestEmailThroughSMTP(t *testing.T) {
	srv, err := sink.StartSMTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{Addr: srv.Addr(), From: "molen@factory.test", TLS: "none"})
	c := e.channel(t, notify.Channel{Name: "shift leads", Kind: notify.KindEmail, Target: "lead@factory.test, Second Lead <second@factory.test>"})
	e.rule(t, notify.Rule{Name: "all alarms", Trigger: notify.TriggerAlarm, Channel: c.ID})
	if err := e.Raise(t.Context(), org, []uns.Event{e.alarm("site/hall/compressor")}); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	m := <-srv.C
	msg, text := readMail(t, m)
	data := fmt.Sprint(msg.Header) + text
	if m.From != "molen@factory.test" || strings.Join(m.To, ",") != "lead@factory.test,second@factory.test" ||
		msg.Header.Get("Subject") != "[molen] pressure high on site/hall/compressor" ||
		!strings.Contains(data, "https://hub.example.test/notify/ack?token=") {
		t.Errorf("mail from %s to %v:\n%s", m.From, m.To, data)
	}
	// A hub without a mail server says so in the delivery's error.
	e2 := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	c2 := e2.channel(t, notify.Channel{Name: "x", Kind: notify.KindEmail, Target: "a@b.test"})
	if err := e2.Test(t.Context(), org, c2.ID); err != nil {
		t.Fatal(err)
	}
	e2.round(t, e2.Service)
	for _, d := range e2.deliveries(t) {
		if d.State != notify.StatePending || !strings.Contains(d.LastError, "no mail server") {
			t.Errorf("without SMTP: %+v", d)
		}
	}
}

// TestMessageLanguage: an organisation's messages are in its language,
// subject and body, in e-mail and webhooks: English by default, Dutch
// from a Dutch locale, and the language set over the locale's.
func TestMessageLanguage(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		srv, err := sink.StartSMTP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		e := newEnv(t, db, notify.SMTP{Addr: srv.Addr(), From: "molen@factory.test", TLS: "none"})
		h := newHook(t, nil)
		mailC := e.channel(t, notify.Channel{Name: "leads", Kind: notify.KindEmail, Target: "lead@factory.test"})
		hookC := e.channel(t, notify.Channel{Name: "slack", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatSlack})
		e.rule(t, notify.Rule{Name: "alarms by mail", Trigger: notify.TriggerAlarm, Channel: mailC.ID})
		e.rule(t, notify.Rule{Name: "alarms to slack", Trigger: notify.TriggerAlarm, Channel: hookC.ID})
		ctx := t.Context()
		if st, err := e.Settings(ctx, org); err != nil || st.Effective != notify.English || st.Locale != "" {
			t.Fatalf("default settings %+v, %v; want English", st, err)
		}
		// raise sends an alarm of asset and returns the e-mail's subject
		// and text and the Slack message.
		raise := func(asset string) (subject, text, slack string) {
			t.Helper()
			if err := e.Raise(ctx, org, []uns.Event{e.alarm(asset)}); err != nil {
				t.Fatal(err)
			}
			e.round(t, e.Service)
			msg, body := readMail(t, <-srv.C)
			subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			return subject, body, string(<-h.bodies)
		}
		subject, text, slack := raise("site/hall/press")
		if subject != "[molen] pressure high on site/hall/press" || !strings.Contains(text, "Alarm since ") || !strings.Contains(text, "\nAcknowledge: https://") ||
			!strings.Contains(slack, `"text":"Acknowledge"`) {
			t.Errorf("English: %q\n%s\n%s", subject, text, slack)
		}

		put := func(st notify.Settings) notify.Settings {
			t.Helper()
			st, err := e.PutSettings(ctx, org, st, audit.Entry{Org: org, Actor: "tester", Action: "notify.settings.changed"})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		if st := put(notify.Settings{Locale: "nl-NL"}); st.Effective != notify.Dutch {
			t.Errorf("settings with locale nl-NL: %+v, want Dutch", st)
		}
		subject, text, slack = raise("site/hall/lathe")
		if subject != "[molen] pressure high op site/hall/lathe" || !strings.Contains(text, "Alarm sinds ") || !strings.Contains(text, "(regel \"alarms by mail\")") ||
			!strings.Contains(text, "\nBevestigen: https://") || !strings.Contains(text, "\nAlarmen: https://") || !strings.Contains(slack, `"text":"Bevestigen"`) {
			t.Errorf("Dutch: %q\n%s\n%s", subject, text, slack)
		}
		if err := e.Test(ctx, org, hookC.ID); err != nil {
			t.Fatal(err)
		}
		e.round(t, e.Service)
		if b := string(<-h.bodies); !strings.Contains(b, "Testbericht van molen") {
			t.Errorf("Dutch test message: %s", b)
		}

		// The language set wins over the locale's.
		if st := put(notify.Settings{Locale: "nl-BE", Language: notify.English}); st.Effective != notify.English {
			t.Errorf("settings nl-BE, en: %+v, want English", st)
		}
		if subject, _, _ = raise("site/hall/saw"); subject != "[molen] pressure high on site/hall/saw" {
			t.Errorf("English over a Dutch locale: %q", subject)
		}
		for _, bad := range []notify.Settings{{Language: "de"}, {Locale: "nl_NL"}, {Locale: "<script>"}} {
			if _, err := e.PutSettings(ctx, org, bad, audit.Entry{Org: org, Actor: "tester", Action: "notify.settings.changed"}); !errors.Is(err, meta.ErrInvalid) {
				t.Errorf("settings %+v: %v, want invalid", bad, err)
			}
		}
	})
}

func TestMQTT(t *testing.T) {
	broker := os.Getenv("MOLEN_TEST_MQTT")
	if broker == "" {
		t.Skip("MOLEN_TEST_MQTT is unset (host:port of an MQTT broker, e.g. Mosquitto)")
	}
	topic := "molen-test/notify/" + strings.ReplaceAll(t.Name(), "/", "_") + time.Now().Format("150405.000000")
	got := make(chan []byte, 1)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("sub-" + topic[len(topic)-12:]))
	if tok := sub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	c := e.channel(t, notify.Channel{Name: "scada", Kind: notify.KindMQTT, Target: "tcp://" + broker, Topic: topic})
	e.rule(t, notify.Rule{Name: "alarms", Trigger: notify.TriggerAlarm, Channel: c.ID})
	if err := e.Raise(t.Context(), org, []uns.Event{e.alarm("site/hall/compressor")}); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	var v map[string]any
	if err := json.Unmarshal(<-got, &v); err != nil || v["asset"] != "site/hall/compressor" || v["trigger"] != "alarm" {
		t.Errorf("mqtt message: %v %v", v, err)
	}
}

// TestReceiversDoNotBlockEachOther: a receiver that hangs, one that
// answers 500 and one that is down do not keep the others from their
// messages; failures are retried with back-off and given up after
// MaxAttempts, and a retry asked for sends again.
func TestReceiversDoNotBlockEachOther(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	var mu sync.Mutex
	fails := 1
	erring := newHook(t, func() int {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return 500
		}
		return 200
	})
	ok := newHook(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/down"
	ln.Close() // nothing listens there now
	ids := map[string]string{}
	for name, url := range map[string]string{"hanging": hanging.URL, "erring": erring.URL, "ok": ok.URL, "down": down} {
		c := e.channel(t, notify.Channel{Name: name, Kind: notify.KindWebhook, Target: url, Format: notify.FormatJSON})
		ids[name] = c.ID
		e.rule(t, notify.Rule{Name: name, Trigger: notify.TriggerAlarm, Channel: c.ID})
	}
	if err := e.Raise(t.Context(), org, []uns.Event{e.alarm("site/hall/press")}); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-ok.got // while the hanging receiver holds its delivery
	// Of the three attempts besides the hanging one, the erring one's.
	for range 3 {
		<-e.attempted
	}
	ds := e.deliveries(t)
	if d := ds[ids["erring"]+"/site/hall/press"]; d.State != notify.StatePending || !strings.Contains(d.LastError, "500") || !d.NextAt.After(e.clock.Now()) {
		t.Errorf("erring after one attempt: %+v", d)
	}
	if d := ds[ids["hanging"]+"/site/hall/press"]; d.Attempts != 0 {
		t.Errorf("hanging: %+v", d)
	}
	release <- struct{}{} // the hanging one answers now
	e.Wait()
	// Due again after the back-off: the erring receiver takes it now.
	e.clock.Add(notify.RetryMin * 2)
	e.round(t, e.Service)
	<-erring.got
	ds = e.deliveries(t)
	if d := ds[ids["erring"]+"/site/hall/press"]; d.State != notify.StateSent || d.Attempts != 2 {
		t.Errorf("erring after the retry: %+v", d)
	}
	// The one that is down is given up after MaxAttempts.
	for range notify.MaxAttempts {
		e.clock.Add(notify.RetryMax * 2)
		e.round(t, e.Service)
	}
	d := e.deliveries(t)[ids["down"]+"/"+"site/hall/press"]
	if d.State != notify.StateFailed || d.Attempts != notify.MaxAttempts || d.LastError == "" {
		t.Errorf("down: %+v", d)
	}
	// An operator asks for one more try: pending again, counted afresh.
	r, err := e.Retry(t.Context(), org, d.ID)
	if err != nil || r.State != notify.StatePending || r.Attempts != 0 {
		t.Errorf("retry: %+v %v", r, err)
	}
	if _, err := e.Retry(t.Context(), "other-org", d.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("another organisation retries: %v", err)
	}
}

// TestQueueSurvivesRestart: a delivery queued by one service is sent by the
// next one on the same database.
func TestQueueSurvivesRestart(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		e := newEnv(t, db, notify.SMTP{})
		h := newHook(t, nil)
		c := e.channel(t, notify.Channel{Name: "h", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
		e.rule(t, notify.Rule{Name: "r", Trigger: notify.TriggerAlarm, Channel: c.ID})
		if err := e.Raise(t.Context(), org, []uns.Event{e.alarm("site/a")}); err != nil {
			t.Fatal(err)
		}
		// The first service stops before its loop ran.
		next := e.restart(t)
		e.round(t, next)
		<-h.got
		if d := e.deliveries(t)[c.ID+"/site/a"]; d.State != notify.StateSent {
			t.Errorf("after restart: %+v", d)
		}
	})
}

// TestScanFindsDownMachinesAndMissedAlarms: the scan announces machines
// down longer than a down rule's minutes, and alarms stored but never
// observed (a dropped batch, a restart).
func TestScanFindsDownMachinesAndMissedAlarms(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	h := newHook(t, nil)
	c := e.channel(t, notify.Channel{Name: "h", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
	e.rule(t, notify.Rule{Name: "down 10", Trigger: notify.TriggerDown, Minutes: 10, Channel: c.ID})
	e.rule(t, notify.Rule{Name: "alarms", Trigger: notify.TriggerAlarm, Channel: c.ID})
	now := e.clock.Now()
	e.store(t, 1,
		uns.Event{Asset: "site/mill", Kind: "downtime", Start: now.Add(-11 * time.Minute).UnixNano()},                                              // down 11 min
		uns.Event{Asset: "site/lathe", Kind: "downtime", Start: now.Add(-5 * time.Minute).UnixNano()},                                              // only 5
		uns.Event{Asset: "site/drill", Kind: "downtime", Start: now.Add(-30 * time.Minute).UnixNano(), End: now.Add(-15 * time.Minute).UnixNano()}, // over
		uns.Event{Asset: "site/press", Kind: "alarm", Start: now.Add(-2 * time.Minute).UnixNano()},
		uns.Event{Asset: "site/old", Kind: "alarm", Start: now.Add(-3 * time.Hour).UnixNano()}, // history
	)
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	var titles []string
	for range 2 {
		var v map[string]any
		_ = json.Unmarshal(<-h.bodies, &v)
		titles = append(titles, v["title"].(string))
	}
	got := strings.Join(titles, "; ")
	if !strings.Contains(got, "site/mill down for more than 10 min") || !strings.Contains(got, "alarm on site/press") {
		t.Errorf("messages: %s", got)
	}
	if ds := e.deliveries(t); len(ds) != 2 {
		t.Errorf("deliveries: %v", ds)
	}
}

// TestEdgeConditions: an edge silent, an edge holding data and an input
// down are told once each when they have lasted their rule's minutes, not
// before; a condition that clears and comes back is told again; a rule of
// another site stays quiet.
func TestEdgeConditions(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		e := newEnv(t, db, notify.SMTP{})
		h := newHook(t, nil)
		c := e.channel(t, notify.Channel{Name: "h", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
		e.rule(t, notify.Rule{Name: "offline", Trigger: notify.TriggerEdgeOffline, Minutes: 10, Channel: c.ID})
		e.rule(t, notify.Rule{Name: "buffer", Trigger: notify.TriggerEdgeBuffer, Minutes: 15, Channel: c.ID})
		e.rule(t, notify.Rule{Name: "inputs", Trigger: notify.TriggerInputDown, Minutes: 5, Channel: c.ID, Prefix: "hall-1"})
		e.rule(t, notify.Rule{Name: "elsewhere", Trigger: notify.TriggerInputDown, Minutes: 5, Channel: c.ID, Prefix: "hall-2"})
		ctx := t.Context()
		edge, _, err := e.fleet.CreateEdge(ctx, org, "press-line")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.fleet.SetPlace(ctx, org, edge.ID, fleet.Place{Site: "hall-1"}); err != nil {
			t.Fatal(err)
		}
		report := func(input string, pendingSeconds float64) {
			t.Helper()
			r := uplink.Report{Version: "test", ReportSeconds: 30, Inputs: []uplink.InputHealth{{Name: "press", Kind: "modbus", State: input, Error: "connection refused"}}}
			if pendingSeconds > 0 {
				r.BufferPoints, r.OldestPendingSeconds = 1200, pendingSeconds
			}
			if err := e.fleet.StoreReport(ctx, org, edge.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		var titles []string
		scan := func(want int) {
			t.Helper()
			if err := e.Scan(ctx); err != nil {
				t.Fatal(err)
			}
			e.round(t, e.Service)
			for range want {
				var v map[string]any
				_ = json.Unmarshal(<-h.bodies, &v)
				titles = append(titles, v["title"].(string))
			}
			if ds, err := e.Deliveries(ctx, org, "", 100); err != nil || len(ds) != len(titles) {
				t.Fatalf("%d deliveries after %q", len(ds), titles)
			}
		}
		report("disconnected", 60) // data a minute old
		scan(0)
		e.clock.Add(4 * time.Minute)
		report("disconnected", 5*60)
		scan(0) // the input down for 4 min, data 5 min old
		e.clock.Add(time.Minute)
		report("disconnected", 6*60)
		scan(1)
		scan(0) // told once
		e.clock.Add(10 * time.Minute)
		report("disconnected", 16*60)
		scan(1) // data 16 min old
		e.clock.Add(2 * time.Minute)
		report("connected", 0) // back, data forwarded
		scan(0)
		e.clock.Add(time.Minute)
		report("disconnected", 0)
		scan(0)
		e.clock.Add(5 * time.Minute)
		report("disconnected", 0)
		scan(1) // down again for 5 min
		e.clock.Add(10 * time.Minute)
		scan(1) // silent for 10 min: offline only (what it last reported is stale)
		scan(0)
		want := []string{
			"Input press of edge press-line down for more than 5 min",
			"Edge press-line has held data for more than 15 min",
			"Input press of edge press-line down for more than 5 min",
			"Edge press-line offline for more than 10 min",
		}
		if !slices.Equal(titles, want) {
			t.Errorf("messages:\n%s\nwant\n%s", strings.Join(titles, "\n"), strings.Join(want, "\n"))
		}
	})
}

// oeeWindows stores hourly OEE windows of asset (as the oee operator with
// details: true emits them, stamped with the window's end) ending at each
// of ends: running seconds of the 3600 planned, performance perf, good of
// 100 parts made.
func (e *env) oeeWindows(t *testing.T, seq uint64, asset string, running, perf, good float64, ends ...time.Time) {
	t.Helper()
	var pts []uns.Point
	for _, end := range ends {
		ts := end.UnixNano()
		for tag, v := range map[string]float64{"running_s": running, "planned_s": 3600, "performance": perf, "good": good, "total": 100} {
			pts = append(pts, uns.Point{Series: asset + "/oee/" + tag, TS: ts, Value: uns.Float(v)})
		}
	}
	if _, err := e.st.Ingest(t.Context(), org, store.Source{Edge: "edge-1", Stream: "points"}, []store.Record{{Seq: seq, Points: pts}}); err != nil {
		t.Fatal(err)
	}
}

// TestOEEBelowTarget: a machine whose OEE over the last shift (in the
// rule's zone and calendar) is below the target is announced once; a
// machine above it, one outside the prefix and a shift without data are
// not.
func TestOEEBelowTarget(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		e := newEnv(t, db, notify.SMTP{})
		h := newHook(t, nil)
		c := e.channel(t, notify.Channel{Name: "h", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
		// The clock is 23:30 UTC, 00:30 in Amsterdam (UTC+1 in March): the
		// last shift, 16:00–00:00 local, is 15:00–23:00 UTC.
		r := e.rule(t, notify.Rule{Name: "low OEE", Trigger: notify.TriggerOEE, Prefix: "plant", Target: 60, Shifts: "00:00,08:00,16:00",
			TZ: "Europe/Amsterdam", Channel: c.ID})
		if r.Target != 60 || r.Shifts != "00:00,08:00,16:00" || r.Minutes != 0 {
			t.Errorf("rule as stored: %+v", r)
		}
		var ends []time.Time
		for h := 16; h <= 23; h++ {
			ends = append(ends, time.Date(2026, 3, 2, h, 0, 0, 0, time.UTC))
		}
		e.oeeWindows(t, 1, "plant/line-1/press", 1800, 1, 100, ends...)   // 50 %
		e.oeeWindows(t, 2, "plant/line-1/lathe", 3600, 0.9, 100, ends...) // 90 %
		e.oeeWindows(t, 3, "yard/saw", 600, 1, 100, ends...)              // low, not under the prefix
		// A window of the shift before, with a low OEE: another shift.
		e.oeeWindows(t, 4, "plant/line-1/lathe", 0, 1, 0, time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
		var msgs []map[string]any
		scan := func(want int) {
			t.Helper()
			if err := e.Scan(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.round(t, e.Service)
			for range want {
				var v map[string]any
				_ = json.Unmarshal(<-h.bodies, &v)
				msgs = append(msgs, v)
			}
			if ds, err := e.Deliveries(t.Context(), org, "", 100); err != nil || len(ds) != len(msgs) {
				t.Fatalf("%d deliveries (%v), want %d", len(ds), err, len(msgs))
			}
		}
		scan(1)
		scan(0) // once
		e.clock.Add(40 * time.Minute)
		scan(0) // the same shift, still the last
		m := msgs[0]
		attrs, _ := m["attrs"].(map[string]any)
		if m["trigger"] != "oee_below" || m["asset"] != "plant/line-1/press" || m["kind"] != "oee" || m["start"] != "2026-03-02T15:00:00Z" ||
			attrs["oee"] != "50.0" || attrs["target"] != "60" || attrs["shift"] != "16:00" || attrs["availability"] != "50.0" {
			t.Errorf("message %v", m)
		}
		if want := "OEE of plant/line-1/press 50.0 % in the 16:00 shift (target 60 %)"; m["title"] != want {
			t.Errorf("title %q, want %q", m["title"], want)
		}
		// The night shift, 00:00–08:00 local (23:00–07:00 UTC): no data,
		// no message; then the press's windows come in low.
		e.clock.Add(7 * time.Hour) // 07:10 UTC
		scan(0)
		e.oeeWindows(t, 5, "plant/line-1/press", 3600, 0.5, 100, time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC))
		scan(1)
		if got := msgs[1]["attrs"].(map[string]any)["shift"]; got != "00:00" || msgs[1]["start"] != "2026-03-02T23:00:00Z" {
			t.Errorf("night shift message %v", msgs[1])
		}
		// More than an hour after the shift's end it is no longer judged.
		e.clock.Add(80 * time.Minute) // 08:30 UTC
		e.oeeWindows(t, 6, "plant/line-1/lathe", 0, 1, 0, time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC))
		scan(0)
	})
}

func TestQuietHours(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	h := newHook(t, nil)
	c := e.channel(t, notify.Channel{Name: "h", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
	// 23:30 UTC is 00:30 in Amsterdam: within 22:00–06:30 there.
	e.rule(t, notify.Rule{Name: "night", Trigger: notify.TriggerAlarm, Channel: c.ID, QuietFrom: "22:00", QuietTo: "06:30", TZ: "Europe/Amsterdam"})
	if err := e.Raise(t.Context(), org, []uns.Event{e.alarm("site/a")}); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	d := e.deliveries(t)[c.ID+"/site/a"]
	if want := time.Date(2026, 3, 3, 5, 30, 0, 0, time.UTC); d.State != notify.StatePending || !d.NextAt.Equal(want) || d.Attempts != 0 {
		t.Fatalf("held: %+v, want due at %s", d, want)
	}
	e.clock.Add(6 * time.Hour) // 05:30 UTC, 06:30 in Amsterdam
	e.round(t, e.Service)
	<-h.got
}

// TestEscalation: an alarm nobody acknowledges goes to the second channel
// after the rule's minutes; one acknowledged meanwhile does not.
func TestEscalation(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	first, second := newHook(t, nil), newHook(t, nil)
	c1 := e.channel(t, notify.Channel{Name: "shift", Kind: notify.KindWebhook, Target: first.URL, Format: notify.FormatJSON})
	c2 := e.channel(t, notify.Channel{Name: "manager", Kind: notify.KindWebhook, Target: second.URL, Format: notify.FormatTeams})
	e.rule(t, notify.Rule{Name: "esc", Trigger: notify.TriggerAlarm, Channel: c1.ID, EscalateTo: c2.ID, EscalateMinutes: 15})
	a, b := e.alarm("site/a"), e.alarm("site/b")
	e.store(t, 1, a, b)
	if err := e.Raise(t.Context(), org, []uns.Event{a, b}); err != nil {
		t.Fatal(err)
	}
	e.round(t, e.Service)
	<-first.got
	<-first.got
	// b is acknowledged in time.
	if err := e.fac.AddNote(t.Context(), org, b.Asset, b.Kind, b.Start, factory.Note{At: e.clock.Now(), Actor: "usr_x", Ack: true},
		audit.Entry{Org: org, Actor: "usr_x", Action: "alarm.acked"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(14 * time.Minute)
	e.round(t, e.Service)
	e.clock.Add(time.Minute)
	e.round(t, e.Service) // queues the escalation
	e.round(t, e.Service) // sends it
	body := string(<-second.bodies)
	if !strings.Contains(body, "Not acknowledged: pressure high on site/a") {
		t.Errorf("escalation: %s", body)
	}
	e.clock.Add(time.Hour)
	e.round(t, e.Service)
	e.round(t, e.Service)
	select {
	case b := <-second.bodies:
		t.Errorf("a second escalation: %s", b)
	default:
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	for _, c := range []notify.Channel{
		{Name: "", Kind: notify.KindEmail, Target: "a@b.test"},
		{Name: "x", Kind: "pager", Target: "a@b.test"},
		{Name: "x", Kind: notify.KindEmail, Target: "not an address"},
		{Name: "x", Kind: notify.KindWebhook, Target: "ftp://x/y", Format: "json"},
		{Name: "x", Kind: notify.KindWebhook, Target: "https://x/y", Format: "xml"},
		{Name: "x", Kind: notify.KindMQTT, Target: "tcp://broker:1883", Topic: "a/#"},
		{Name: "x", Kind: notify.KindMQTT, Target: "http://broker", Topic: "a"},
	} {
		if _, err := e.CreateChannel(t.Context(), org, c, audit.Entry{Org: org, Action: "x"}); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", c, err)
		}
	}
	c := e.channel(t, notify.Channel{Name: "ok", Kind: notify.KindEmail, Target: "a@b.test"})
	for _, r := range []notify.Rule{
		{Name: "x", Trigger: "sometimes", Channel: c.ID},
		{Name: "x", Trigger: notify.TriggerDown, Channel: c.ID},
		{Name: "x", Trigger: notify.TriggerOEE, Channel: c.ID},                                    // no target
		{Name: "x", Trigger: notify.TriggerOEE, Channel: c.ID, Target: 101},                       // above 100 %
		{Name: "x", Trigger: notify.TriggerOEE, Channel: c.ID, Target: 60, Shifts: "14:00,06:00"}, // not increasing
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: "nch_other"},
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID, EscalateTo: c.ID, EscalateMinutes: 5},
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID, QuietFrom: "22:00"},
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID, QuietFrom: "25:00", QuietTo: "06:00"},
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID, TZ: "Mars/Olympus"},
		{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID, Prefix: "a/+/b"},
	} {
		if _, err := e.PutRule(t.Context(), org, r, audit.Entry{Org: org, Action: "x"}); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", r, err)
		}
	}
	// Another organisation cannot use acme's channel.
	if _, err := e.PutRule(t.Context(), "other", notify.Rule{Name: "x", Trigger: notify.TriggerAlarm, Channel: c.ID}, audit.Entry{Org: "other", Action: "x"}); !errors.Is(err, meta.ErrInvalid) {
		t.Errorf("other organisation's rule on acme's channel: %v", err)
	}
	e.rule(t, notify.Rule{Name: "uses it", Trigger: notify.TriggerAlarm, Channel: c.ID})
	if err := e.DeleteChannel(t.Context(), org, c.ID, audit.Entry{Org: org, Action: "x"}); !errors.Is(err, meta.ErrExists) {
		t.Errorf("delete a channel in use: %v", err)
	}
}

// TestPrivateTargetsRefused: without PrivateTargets, a webhook into the
// hub's own network (loopback here) is refused before it connects, and
// the delivery says why.
func TestPrivateTargetsRefused(t *testing.T) {
	e := newEnv(t, metatest.SQLite(t), notify.SMTP{})
	s, err := notify.New(t.Context(), notify.Config{DB: e.db, Store: e.st, Factory: e.fac, Audit: e.audit, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := newHook(t, nil)
	c := e.channel(t, notify.Channel{Name: "inside", Kind: notify.KindWebhook, Target: h.URL, Format: notify.FormatJSON})
	if err := s.Test(t.Context(), org, c.ID); err != nil {
		t.Fatal(err)
	}
	e.round(t, s)
	select {
	case <-h.got:
		t.Error("the hub called an address of its own network")
	default:
	}
	for _, d := range e.deliveries(t) {
		if d.State != notify.StatePending || !strings.Contains(d.LastError, "refused: a private, loopback or link-local address") {
			t.Errorf("delivery: %+v", d)
		}
	}
}
