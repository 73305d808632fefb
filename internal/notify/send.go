package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	gomail "github.com/wneessen/go-mail"
)

// Headers of a webhook request. The signature is
// "sha256=" + hex(HMAC-SHA256(key, timestamp + "." + body)), the key being
// the channel's secret; docs/notifications.md shows how to check it.
const (
	HeaderSignature = "X-Molen-Signature"
	HeaderTimestamp = "X-Molen-Timestamp"
	HeaderDelivery  = "X-Molen-Delivery"
)

// Sign is the signature of a webhook body sent at ts (unix seconds).
func Sign(key string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook request's signature header and timestamp
// header against its body, refusing one older (or newer) than maxAge.
func Verify(key, signature, timestamp string, body []byte, now time.Time, maxAge time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("notify: no or a bad " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxAge || d < -maxAge {
		return errors.New("notify: the timestamp is too far from now (a replay?)")
	}
	if !hmac.Equal([]byte(Sign(key, ts, body)), []byte(signature)) {
		return errors.New("notify: the signature does not match")
	}
	return nil
}

// ackToken is the signed part of d's acknowledgement link.
func (s *Service) ackToken(id string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("ack|" + id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ackURL is d's acknowledgement link, "" for a message that has none.
func (s *Service) ackURL(d Delivery) string {
	if d.Message.Trigger != TriggerAlarm && d.Message.Trigger != "escalation" {
		return ""
	}
	return s.cfg.PublicURL() + "/notify/ack?token=" + s.ackToken(d.ID)
}

// payload is the generic JSON of a message.
type payload struct {
	ID      string            `json:"id"`
	Org     string            `json:"org"`
	Trigger string            `json:"trigger"`
	Rule    string            `json:"rule,omitempty"`
	Level   int               `json:"level"`
	Asset   string            `json:"asset,omitempty"`
	Kind    string            `json:"kind,omitempty"`
	Start   time.Time         `json:"start"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Title   string            `json:"title"`
	Text    string            `json:"text"`
	AckURL  string            `json:"ack_url,omitempty"`
	Lang    string            `json:"lang,omitempty"`
}

func (s *Service) payload(d Delivery) payload {
	m := d.Message
	return payload{ID: d.ID, Org: d.Org, Trigger: m.Trigger, Rule: m.Rule, Level: d.Level, Asset: m.Asset, Kind: m.Kind, Start: m.Start,
		Attrs: m.Attrs, Title: m.Title, Text: m.Text, AckURL: s.ackURL(d), Lang: m.Lang}
}

// body renders d in a webhook format.
func (s *Service) body(format string, d Delivery) []byte {
	p := s.payload(d)
	var v any = p
	switch format {
	case FormatTeams: // an Adaptive Card, as Teams' workflow webhooks take it
		facts := []map[string]string{{"title": tr(p.Lang, "asset"), "value": p.Asset}, {"title": tr(p.Lang, "since"), "value": p.Start.Format(time.RFC3339)}}
		for _, k := range slices.Sorted(maps.Keys(p.Attrs)) {
			facts = append(facts, map[string]string{"title": k, "value": p.Attrs[k]})
		}
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
			"body": []any{
				map[string]any{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": p.Title, "wrap": true},
				map[string]any{"type": "FactSet", "facts": facts},
			},
		}
		if p.AckURL != "" {
			card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": tr(p.Lang, "acknowledge"), "url": p.AckURL}}
		}
		v = map[string]any{"type": "message", "attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}
	case FormatSlack: // Block Kit, as Slack's incoming webhooks take it
		blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + p.Title + "*\n" + p.Text}}}
		if p.AckURL != "" {
			blocks = append(blocks, map[string]any{"type": "actions", "elements": []any{map[string]any{
				"type": "button", "text": map[string]any{"type": "plain_text", "text": tr(p.Lang, "acknowledge")}, "url": p.AckURL}}})
		}
		v = map[string]any{"text": p.Title, "blocks": blocks}
	}
	b, _ := json.Marshal(v)
	return b
}

// text is the plain text of an e-mail.
func (s *Service) text(d Delivery) string {
	var b strings.Builder
	b.WriteString(d.Message.Text)
	if u := s.ackURL(d); u != "" {
		fmt.Fprintf(&b, "\n\n%s: %s\n", tr(d.Message.Lang, "acknowledge"), u)
	}
	if u := s.cfg.PublicURL(); u != "" {
		fmt.Fprintf(&b, "\n%s: %s/#/alarms\n", tr(d.Message.Lang, "alarms"), u)
	}
	b.WriteString("\n-- \nmolen: sent because of a notification rule of your organisation.\n")
	return b.String()
}

// send delivers d to c once.
func (s *Service) send(ctx context.Context, c Channel, d Delivery) error {
	switch c.Kind {
	case KindWebhook:
		return s.sendWebhook(ctx, c, d)
	case KindEmail:
		return s.sendEmail(ctx, c, d)
	case KindMQTT:
		return s.sendMQTT(ctx, c, d)
	}
	return fmt.Errorf("channel kind %q", c.Kind)
}

func (s *Service) sendWebhook(ctx context.Context, c Channel, d Delivery) error {
	body := s.body(c.Format, d)
	req, err := http.NewRequestWithContext(ctx, "POST", c.Target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "molen-notify")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.Secret, ts, body))
	req.Header.Set(HeaderDelivery, d.ID)
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

func (s *Service) sendEmail(ctx context.Context, c Channel, d Delivery) error {
	cfg := s.cfg.SMTP
	if cfg.Addr == "" {
		return errNoSMTP
	}
	host, portS, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", cfg.Addr, err)
	}
	port, _ := strconv.Atoi(portS)
	m := gomail.NewMsg()
	if err := m.From(cfg.From); err != nil {
		return fmt.Errorf("smtp from %q: %w", cfg.From, err)
	}
	var to []string
	for _, a := range strings.Split(c.Target, ",") {
		to = append(to, strings.TrimSpace(a))
	}
	if err := m.To(to...); err != nil {
		return fmt.Errorf("e-mail to: %w", err)
	}
	m.Subject("[molen] " + d.Message.Title)
	m.SetDateWithValue(s.now())
	m.SetMessageIDWithValue(d.ID + "@molen")
	m.SetGenHeader("X-Molen-Delivery", d.ID)
	m.SetBodyString(gomail.TypeTextPlain, s.text(d))
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(AttemptTimeout)}
	switch cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	cl, err := gomail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := cl.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

func (s *Service) sendMQTT(ctx context.Context, c Channel, d Delivery) error {
	body, _ := json.Marshal(s.payload(d))
	target := strings.Replace(c.Target, "mqtt://", "tcp://", 1)
	opts := mqtt.NewClientOptions().AddBroker(target).SetClientID("molen-notify-" + d.ID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(AttemptTimeout).SetWriteTimeout(AttemptTimeout).SetDialer(s.dialer)
	if c.Username != "" {
		opts.SetUsername(c.Username).SetPassword(c.Secret)
	}
	cl := mqtt.NewClient(opts)
	wait := func(t mqtt.Token) error {
		select {
		case <-t.Done():
			return t.Error()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(cl.Connect()); err != nil {
		return fmt.Errorf("mqtt %s: %w", c.Target, err)
	}
	defer cl.Disconnect(100)
	if err := wait(cl.Publish(c.Topic, 1, false, body)); err != nil {
		return fmt.Errorf("mqtt publish %s: %w", c.Topic, err)
	}
	return nil
}
