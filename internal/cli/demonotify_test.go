//go:build !edgeonly

package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// TestDemoNotifications: the demo's channels work at once (a test message
// to each, in the log as sent), and an alarm of the compressor goes by
// e-mail and as a Teams card to the demo's sinks; a second start on the
// same data makes the demo's channels anew and keeps the log.
func TestDemoNotifications(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 4, Rate: 1}, testGlobals(&out))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	if !strings.Contains(out.String(), "Notifications: the compressor's alarms go by e-mail and to a Teams channel") {
		t.Errorf("the demo does not say where its notifications go:\n%s", out.String())
	}
	// The test messages.
	m := <-d.Notify.Mail.C
	if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil || msg.Header.Get("Subject") != "[molen] Test message from molen" {
		t.Errorf("test e-mail: %v %v", err, m)
	}
	if h := <-d.Notify.Hook.C; !h.Verified || !strings.Contains(string(h.Body), "application/vnd.microsoft.card.adaptive") {
		t.Errorf("test webhook: verified %v: %s", h.Verified, h.Body)
	}

	// An alarm of the compressor, as an edge sends it.
	_, token, err := d.Hub.CreateEdge(t.Context(), "alarm-edge")
	if err != nil {
		t.Fatal(err)
	}
	en, err := (&uplink.Client{URL: d.Hub.URL()}).Enroll(t.Context(), token, "")
	if err != nil {
		t.Fatal(err)
	}
	alarm := uns.Event{Asset: DemoCompressor, Kind: "alarm", Start: time.Now().UnixNano(),
		Attrs: map[string]string{"limit": "pressure_low", "series": DemoCompressor + "/pressure_bar", "value": "7.05", "threshold": "7.2"}}
	b := uplink.Batch{Stream: "events/test", Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodeRecord(nil, nil, []uns.Event{alarm})}}}
	if _, err := (&uplink.Client{URL: d.Hub.URL(), Credential: en.Credential}).Send(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	m = <-d.Notify.Mail.C
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil || msg.Header.Get("Subject") != "[molen] pressure_low on "+DemoCompressor || strings.Join(m.To, ",") != "maintenance@demo-factory.test" {
		t.Errorf("alarm e-mail: %v to %v: %s", err, m.To, m.Data)
	}
	h := <-d.Notify.Hook.C
	var card map[string]any
	if err := json.Unmarshal(h.Body, &card); err != nil || !h.Verified || !strings.Contains(string(h.Body), "pressure_low on "+DemoCompressor) {
		t.Errorf("alarm card: %v verified %v: %s", err, h.Verified, h.Body)
	}
	d.Hub.Notify().Wait()
	ds, err := d.Hub.Notify().Deliveries(t.Context(), hub.DefaultOrg, notify.StateSent, 10)
	if err != nil || len(ds) != 4 {
		t.Errorf("sent: %d %v, want the 2 tests and the alarm's 2", len(ds), err)
	}
	closed = true
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// Again on the same data: new sinks, new channels, the old log.
	d2, err := StartDemo(t.Context(), DemoConfig{DataDir: dir, Listen: "127.0.0.1:0", Seed: 4, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	<-d2.Notify.Mail.C
	<-d2.Notify.Hook.C
	cs, err := d2.Hub.Notify().Channels(t.Context(), hub.DefaultOrg)
	if err != nil || len(cs) != 2 {
		t.Errorf("channels after a restart: %v %v", cs, err)
	}
	all, err := d2.Hub.Notify().Deliveries(t.Context(), hub.DefaultOrg, "", 100)
	if err != nil || len(all) != 6 {
		t.Errorf("deliveries after a restart: %d %v, want 6", len(all), err)
	}
}
