//go:build !edgeonly

package cli

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// TestAckPageInABrowser runs web/test/ack.mjs in a real headless Chromium
// against the link of a Dutch alarm message of the demo: the page in
// Dutch, acknowledged by keyboard, axe-core finding no serious or critical
// violation. Screenshots go to $MOLEN_SCREENSHOTS.
func TestAckPageInABrowser(t *testing.T) {
	browser := chromium(t)
	node, script := browserScript(t)
	script = filepath.Join(filepath.Dir(script), "ack.mjs")
	dataDir := t.TempDir()
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: dataDir, Listen: "127.0.0.1:0", Seed: 3, Rate: 1}, testGlobals(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Hub.Notify().PutSettings(t.Context(), hub.DefaultOrg, notify.Settings{Language: notify.Dutch}, audit.Entry{Actor: "test", Action: "notify.settings.changed"}); err != nil {
		t.Fatal(err)
	}
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
	// The demo's English test messages come first; the alarm's e-mail
	// carries the Dutch link.
	var link string
	for link == "" {
		_, text, err := (<-d.Notify.Mail.C).Read()
		if err != nil {
			t.Fatal(err)
		}
		if _, after, ok := strings.Cut(text, "Bevestigen: "); ok {
			link, _, _ = strings.Cut(after, "\n")
		}
	}
	runBrowserScript(t, node, script, d, dataDir, browser, "MOLEN_ACK_URL="+strings.TrimSpace(link))
}
