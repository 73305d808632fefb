//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/notify/sink"
)

// DemoCompressor is the simulated compressor, whose alarms the demo's
// notification rules announce.
const DemoCompressor = "demo-factory/hall-a/line-1/compressor"

// demoSink names the demo's channels: they go to receivers inside the
// demo's own process, as the demo has no mail server and no Teams.
const demoSink = " (demo sink)"

// demoNotify are the demo's stand-ins for a mail server and a Teams
// channel: an SMTP server and a webhook receiver in the demo's process
// (package sink), which keep what the hub sends them.
type demoNotify struct {
	Mail *sink.SMTP
	Hook *sink.Webhook
	srv  *http.Server
	url  string
}

func startDemoNotify() (*demoNotify, error) {
	m, err := sink.StartSMTP("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo mail sink: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("demo webhook sink: %w", err)
	}
	n := &demoNotify{Mail: m, Hook: sink.NewWebhook(""), url: "http://" + ln.Addr().String() + "/teams"}
	n.srv = &http.Server{Handler: n.Hook, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
	return n, nil
}

// smtp is the hub's mail server config for the sink.
func (n *demoNotify) smtp() notify.SMTP {
	return notify.SMTP{Addr: n.Mail.Addr(), From: "molen-demo@demo-factory.test", TLS: "none"}
}

// seed gives the simulated factory its notification rules: the
// compressor's alarms by e-mail and to a Teams channel, a machine down for
// more than 15 minutes by e-mail. The sinks' addresses change with each
// start, so the demo's channels and rules are made anew; what they sent
// stays in the log. A test message to each channel shows them working at
// once.
func (n *demoNotify) seed(ctx context.Context, h *hub.Hub) error {
	s, org := h.Notify(), hub.DefaultOrg
	ent := func(action string) audit.Entry { return audit.Entry{Org: org, Actor: "system", Action: action} }
	rules, err := s.Rules(ctx, org)
	if err != nil {
		return err
	}
	chans, err := s.Channels(ctx, org)
	if err != nil {
		return err
	}
	demo := map[string]bool{}
	for _, c := range chans {
		demo[c.ID] = strings.HasSuffix(c.Name, demoSink)
	}
	for _, r := range rules {
		if demo[r.Channel] {
			if err := s.DeleteRule(ctx, org, r.ID, ent("notify.rule.deleted")); err != nil {
				return err
			}
		}
	}
	for id, isDemo := range demo {
		if isDemo {
			if err := s.DeleteChannel(ctx, org, id, ent("notify.channel.deleted")); err != nil {
				return err
			}
		}
	}
	mail, err := s.CreateChannel(ctx, org, notify.Channel{Name: "Maintenance e-mail" + demoSink, Kind: notify.KindEmail,
		Target: "maintenance@demo-factory.test"}, ent("notify.channel.created"))
	if err != nil {
		return err
	}
	teams, err := s.CreateChannel(ctx, org, notify.Channel{Name: "Maintenance Teams channel" + demoSink, Kind: notify.KindWebhook,
		Target: n.url, Format: notify.FormatTeams}, ent("notify.channel.created"))
	if err != nil {
		return err
	}
	n.Hook.SetKey(teams.Secret)
	for _, r := range []notify.Rule{
		{Name: "Compressor alarms by e-mail", Trigger: notify.TriggerAlarm, Prefix: DemoCompressor, Channel: mail.ID,
			EscalateTo: teams.ID, EscalateMinutes: 30},
		{Name: "Compressor alarms to Teams", Trigger: notify.TriggerAlarm, Prefix: DemoCompressor, Channel: teams.ID},
		{Name: "A machine down for 15 minutes", Trigger: notify.TriggerDown, Prefix: "demo-factory", Minutes: 15, Channel: mail.ID},
		{Name: "An edge offline for 10 minutes", Trigger: notify.TriggerEdgeOffline, Minutes: 10, Channel: teams.ID},
		{Name: "A machine connection down in hall 1", Trigger: notify.TriggerInputDown, Prefix: "hall-1", Minutes: 5, Channel: mail.ID},
	} {
		r.Enabled, r.TZ = true, "Europe/Amsterdam"
		if _, err := s.PutRule(ctx, org, r, ent("notify.rule.created")); err != nil {
			return err
		}
	}
	return errors.Join(s.Test(ctx, org, mail.ID), s.Test(ctx, org, teams.ID))
}

func (n *demoNotify) Close() error {
	if n == nil {
		return nil
	}
	return errors.Join(n.srv.Close(), n.Mail.Close())
}
