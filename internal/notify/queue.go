package notify

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/reports"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Message is what a delivery says; it is kept with the delivery, so a
// retry after a restart sends the same.
type Message struct {
	Trigger string            `json:"trigger"` // alarm, down, escalation, test
	Rule    string            `json:"rule"`    // the rule's name
	Asset   string            `json:"asset"`
	Kind    string            `json:"kind"`
	Start   time.Time         `json:"start"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Title   string            `json:"title"`
	Text    string            `json:"text"`
	// Lang is the language Title and Text are in (the organisation's,
	// when the message was made): what the channel adds is in it too.
	Lang string `json:"lang,omitempty"`
}

// Delivery is one message to one channel, queued or done.
type Delivery struct {
	ID        string    `json:"id"`
	Org       string    `json:"-"`
	Rule      string    `json:"rule"`
	Channel   string    `json:"channel"`
	Level     int       `json:"level"` // 0 first, 1 escalation
	Message   Message   `json:"message"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error"`
	Created   time.Time `json:"created"`
	SentAt    time.Time `json:"sent_at"`
	Acked     bool      `json:"acked"`
	Escalated bool      `json:"escalated"`
}

func sortBy[T any](s []T, key func(T) string) {
	slices.SortFunc(s, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

// Observe is told of the events of each stored batch (ingest.OnStored). It
// never blocks: the events wait for the loop in a bounded queue, and when
// that is full they are counted and left to the next scan.
func (s *Service) Observe(org string, recs []store.Record) {
	var evs []uns.Event
	for _, r := range recs {
		for _, e := range r.Events {
			if slices.Contains(factory.AlarmKinds, e.Kind) {
				evs = append(evs, e)
			}
		}
	}
	if len(evs) == 0 {
		return
	}
	select {
	case s.obs <- observed{org, evs}:
	default:
		s.dropped.Inc()
	}
}

// Raise queues the messages that org's enabled alarm rules make of evs
// (alarms and anomalies). An event already announced by a rule is not
// announced again; one older than MaxAge is not announced.
func (s *Service) Raise(ctx context.Context, org string, evs []uns.Event) error {
	rules, err := s.Rules(ctx, org)
	if err != nil {
		return err
	}
	now := s.now()
	lang := s.language(ctx, org)
	var errs []error
	for _, r := range rules {
		if !r.Enabled || r.Trigger != TriggerAlarm {
			continue
		}
		for _, e := range evs {
			if !slices.Contains(factory.AlarmKinds, e.Kind) || !under(e.Asset, r.Prefix) || now.Sub(time.Unix(0, e.Start)) > MaxAge {
				continue
			}
			errs = append(errs, s.enqueue(ctx, org, r, r.Channel, 0, alarmMessage(r, e, TriggerAlarm, lang)))
		}
	}
	return errors.Join(errs...)
}

func under(asset, prefix string) bool {
	return prefix == "" || asset == prefix || strings.HasPrefix(asset, strings.TrimSuffix(prefix, "/")+"/")
}

func alarmMessage(r Rule, e uns.Event, trigger, lang string) Message {
	what := cmp.Or(e.Attrs["alarm"], e.Attrs["limit"], e.Attrs["name"]) // the alarm operator names its limit
	title := tr(lang, "alarm.title", cmp.Or(what, e.Kind), e.Asset)
	if e.Kind == "anomaly" {
		title = tr(lang, "anomaly.title", e.Asset)
	}
	if trigger == TriggerDown {
		title = tr(lang, "down.title", e.Asset, r.Minutes)
	}
	var b strings.Builder
	since := cmp.Or(map[string]string{"alarm": "alarm.since", "anomaly": "anomaly.since"}[e.Kind], "down.since")
	b.WriteString(tr(lang, since, time.Unix(0, e.Start).UTC().Format("2006-01-02 15:04:05 UTC"), r.Name))
	for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
		fmt.Fprintf(&b, "\n%s: %s", k, e.Attrs[k])
	}
	return Message{Trigger: trigger, Rule: r.Name, Asset: e.Asset, Kind: e.Kind, Start: time.Unix(0, e.Start).UTC(), Attrs: e.Attrs,
		Title: title, Text: b.String(), Lang: lang}
}

// enqueue adds a delivery unless one with its identity exists; quiet
// hours of r make it due when they end.
func (s *Service) enqueue(ctx context.Context, org string, r Rule, channel string, level int, m Message) error {
	now := s.now()
	dedup := fmt.Sprintf("%s|%s|%s|%d|%d", r.ID, m.Asset, m.Kind, m.Start.UnixNano(), level)
	if m.Trigger == "test" {
		dedup = newID("test|")
	}
	body, _ := json.Marshal(m)
	res, err := s.db.ExecContext(ctx, `INSERT INTO notify_deliveries (id, org, dedup, rule, channel, level, asset, kind, start_ts, message,
		state, attempts, next_at, last_error, created, sent_at, ack_hash, acked, escalated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, '', $12, 0, '', 0, 0) ON CONFLICT (org, dedup) DO NOTHING`,
		newID("ndl_"), org, dedup, r.ID, channel, level, m.Asset, m.Kind, m.Start.UnixNano(), string(body), meta.Nanos(r.quietUntil(now)), meta.Nanos(now))
	if err := meta.Inserted(res, err); err != nil {
		if errors.Is(err, meta.ErrExists) {
			return nil
		}
		return fmt.Errorf("queue notification: %w", err)
	}
	s.queued.WithLabelValues(m.Trigger).Inc()
	s.Wake()
	return nil
}

// Test queues a test message to org's channel id.
func (s *Service) Test(ctx context.Context, org, id string) error {
	if _, err := s.Channel(ctx, org, id); err != nil {
		return err
	}
	lang := s.language(ctx, org)
	return s.enqueue(ctx, org, Rule{}, id, 0, Message{Trigger: "test", Start: s.now().UTC(), Title: tr(lang, "test.title"),
		Text: tr(lang, "test.text"), Lang: lang})
}

// Wake has the loop look at the queue now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// scan finds what events alone do not announce: machines down longer than
// a down rule's minutes, and alarms whose batch Observe had to drop (or
// that came while the hub stopped between storing and queueing).
func (s *Service) scan(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT org FROM notify_rules WHERE enabled = 1`)
	if err != nil {
		return fmt.Errorf("notify scan: %w", err)
	}
	var orgs []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return err
		}
		orgs = append(orgs, o)
	}
	rows.Close()
	now := s.now()
	var errs []error
	for _, org := range orgs {
		rules, err := s.Rules(ctx, org)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lang := s.language(ctx, org)
		errs = append(errs, s.scanEdges(ctx, org, rules, now, lang))
		for _, r := range rules {
			if !r.Enabled || edgeTriggers[r.Trigger] != "" {
				continue
			}
			if r.Trigger == TriggerOEE {
				errs = append(errs, s.scanOEE(ctx, org, r, now, lang))
				continue
			}
			kinds, from := factory.AlarmKinds, now.Add(-MaxAge)
			if r.Trigger == TriggerDown {
				kinds, from = []string{"downtime"}, now.Add(-7*24*time.Hour)
			}
			for _, kind := range kinds {
				evs, err := s.cfg.Store.Events(ctx, org, store.EventQuery{AssetPrefix: r.Prefix, Kind: kind, From: from.UnixNano(), To: now.UnixNano() + 1})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, e := range evs {
					switch {
					case r.Trigger == TriggerAlarm && e.Start >= from.UnixNano():
						errs = append(errs, s.enqueue(ctx, org, r, r.Channel, 0, alarmMessage(r, e, TriggerAlarm, lang)))
					case r.Trigger == TriggerDown && e.End == 0 && now.Sub(time.Unix(0, e.Start)) >= time.Duration(r.Minutes)*time.Minute:
						errs = append(errs, s.enqueue(ctx, org, r, r.Channel, 0, alarmMessage(r, e, TriggerDown, lang)))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// escalate queues the escalation of every alarm sent at least its rule's
// escalate minutes ago and not acknowledged since.
func (s *Service) escalate(ctx context.Context) error {
	now := s.now()
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE level = 0 AND state = 'sent' AND escalated = 0 AND acked = 0 AND sent_at > $1`, meta.Nanos(now.Add(-48*time.Hour)))
	if err != nil {
		return fmt.Errorf("escalate: %w", err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range ds {
		r, err := s.Rule(ctx, d.Org, d.Rule)
		if err != nil || r.EscalateTo == "" || now.Before(d.SentAt.Add(time.Duration(r.EscalateMinutes)*time.Minute)) {
			continue
		}
		acked, err := s.cfg.Factory.Acked(ctx, d.Org, d.Message.Asset, d.Message.Kind, d.Message.Start.UnixNano())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !acked {
			m := d.Message
			m.Trigger, m.Title = "escalation", tr(m.Lang, "escalation.title", d.Message.Title)
			m.Text += "\n\n" + tr(m.Lang, "escalation.text", r.EscalateMinutes)
			if err := s.enqueue(ctx, d.Org, r, r.EscalateTo, 1, m); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		_, err = s.db.ExecContext(ctx, `UPDATE notify_deliveries SET escalated = 1, acked = $2 WHERE id = $1`, d.ID, b2i(acked))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

const deliveryCols = `id, org, rule, channel, level, message, state, attempts, next_at, last_error, created, sent_at, acked, escalated`

func scanDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		var msg string
		var next, created, sent, acked, esc int64
		if err := rows.Scan(&d.ID, &d.Org, &d.Rule, &d.Channel, &d.Level, &msg, &d.State, &d.Attempts, &next, &d.LastError, &created, &sent, &acked, &esc); err != nil {
			return nil, fmt.Errorf("deliveries: %w", err)
		}
		if err := json.Unmarshal([]byte(msg), &d.Message); err != nil {
			return nil, fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		d.NextAt, d.Created, d.Acked, d.Escalated = meta.Time(next), meta.Time(created), acked != 0, esc != 0
		if sent != 0 {
			d.SentAt = meta.Time(sent)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Deliveries returns org's deliveries, newest first: all, or those in
// state.
func (s *Service) Deliveries(ctx context.Context, org, state string, limit int) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE org = $1 AND ($2 = '' OR state = $2) ORDER BY created DESC, id LIMIT $3`, org, state, limit)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// Delivery returns org's delivery id.
func (s *Service) Delivery(ctx context.Context, org, id string) (Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries WHERE org = $1 AND id = $2`, org, id)
	if err != nil {
		return Delivery{}, fmt.Errorf("delivery: %w", err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return Delivery{}, err
	}
	if len(ds) == 0 {
		return Delivery{}, fmt.Errorf("delivery %s: %w", id, meta.ErrNotFound)
	}
	return ds[0], nil
}

// Retry makes org's failed (or pending) delivery id due now, with its
// attempts counted afresh.
func (s *Service) Retry(ctx context.Context, org, id string) (Delivery, error) {
	d, err := s.Delivery(ctx, org, id)
	if err != nil {
		return Delivery{}, err
	}
	if d.State == StateSent {
		return Delivery{}, fmt.Errorf("%w: delivery %s was sent", meta.ErrExists, id)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE notify_deliveries SET state = 'pending', attempts = 0, next_at = $3 WHERE org = $1 AND id = $2`,
		org, id, meta.Nanos(s.now())); err != nil {
		return Delivery{}, fmt.Errorf("retry %s: %w", id, err)
	}
	s.Wake()
	return s.Delivery(ctx, org, id)
}

// dispatch starts an attempt for each due delivery that is not on its way.
func (s *Service) dispatch(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT 200`, meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return err
	}
	for _, d := range ds {
		s.mu.Lock()
		busy := s.inflight[d.ID]
		s.inflight[d.ID] = true
		s.mu.Unlock()
		if busy {
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			s.done(d.ID)
			return ctx.Err()
		}
		go func() {
			defer func() { <-s.sem }()
			defer s.done(d.ID)
			s.attempt(ctx, d)
		}()
	}
	return nil
}

func (s *Service) done(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	if len(s.inflight) == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// attempt sends d once and records the outcome.
func (s *Service) attempt(ctx context.Context, d Delivery) {
	c, err := s.Channel(ctx, d.Org, d.Channel)
	kind := c.Kind
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		err = s.send(actx, c, d)
		cancel()
	} else {
		kind = "unknown"
	}
	if ctx.Err() != nil {
		return // stopping: the delivery stays due
	}
	if s.cfg.Attempted != nil {
		defer s.cfg.Attempted(d.ID, err)
	}
	now := s.now()
	d.Attempts++
	if err == nil {
		if _, err := s.db.ExecContext(ctx, `UPDATE notify_deliveries SET state = 'sent', attempts = $2, sent_at = $3, last_error = '' WHERE id = $1`,
			d.ID, d.Attempts, meta.Nanos(now)); err != nil {
			s.log.Error("notification sent, not recorded", "delivery", d.ID, "err", err)
		}
		s.sent.WithLabelValues(kind, "sent").Inc()
		if d.Level == 0 && d.Message.Trigger == TriggerAlarm {
			s.latency.Observe(now.Sub(d.Message.Start).Seconds())
		}
		return
	}
	state, next := StatePending, now.Add(backoff.Jitter(min(RetryMin<<min(d.Attempts-1, 20), RetryMax), backoff.DefaultJitter))
	outcome := "retry"
	if d.Attempts >= MaxAttempts {
		state, outcome = StateFailed, "failed"
	}
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	s.sent.WithLabelValues(kind, outcome).Inc()
	s.log.Warn("notification not delivered", "delivery", d.ID, "org", d.Org, "channel", d.Channel, "attempt", d.Attempts, "outcome", outcome, "err", msg)
	if _, err := s.db.ExecContext(ctx, `UPDATE notify_deliveries SET state = $2, attempts = $3, next_at = $4, last_error = $5 WHERE id = $1`,
		d.ID, state, d.Attempts, meta.Nanos(next), strings.ToValidUTF8(msg, "?")); err != nil {
		s.log.Error("notification outcome not recorded", "delivery", d.ID, "err", err)
	}
}

// Tick does one round of the loop: queues what Observe saw, scans,
// escalates and dispatches the due deliveries. Wait waits for the
// attempts it started.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	for {
		select {
		case o := <-s.obs:
			errs = append(errs, s.Raise(ctx, o.org, o.evs))
			continue
		default:
		}
		break
	}
	errs = append(errs, s.escalate(ctx), s.dispatch(ctx))
	return errors.Join(errs...)
}

// Wait waits until no attempt is on its way.
func (s *Service) Wait() {
	s.mu.Lock()
	for len(s.inflight) > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// Run sends notifications until ctx ends: at once when events or a
// retry come, every second for what fell due, and it scans every
// ScanEvery. hold reports whether this hub holds the job (nil: always).
func (s *Service) Run(ctx context.Context, hold func(context.Context) bool) {
	defer s.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	scan := time.NewTicker(ScanEvery)
	defer scan.Stop()
	scanNow := true
	for {
		if hold == nil || hold(ctx) {
			if scanNow {
				if err := s.scan(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("notification scan", "err", err)
				}
				scanNow = false
			}
			if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("notifications", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case o := <-s.obs:
			if err := s.Raise(ctx, o.org, o.evs); err != nil && ctx.Err() == nil {
				s.log.Error("notifications", "err", err)
			}
		case <-tick.C:
		case <-scan.C:
			scanNow = true
		}
	}
}

// ScanEvery is how often the loop looks for machines down too long and
// for alarms it was not told of.
const ScanEvery = 15 * time.Second

// Scan runs the scan once (for tests and the demo).
func (s *Service) Scan(ctx context.Context) error { return s.scan(ctx) }

// scanEdges announces the conditions of org's edges that its edge rules
// watch once they have lasted a rule's minutes: an edge offline (since its
// last report) or whose oldest unforwarded point is that old, or an input
// not connected since the scan first saw it so. Each rule keeps the
// conditions that hold for it in notify_conditions, with when it first saw
// them hold: that moment is the message's start (its identity), and a row
// goes once its condition clears, so a condition that comes back is told
// again.
func (s *Service) scanEdges(ctx context.Context, org string, rules []Rule, now time.Time, lang string) error {
	var watching []Rule
	for _, r := range rules {
		if r.Enabled && edgeTriggers[r.Trigger] != "" {
			watching = append(watching, r)
		}
	}
	if len(watching) == 0 || s.cfg.Fleet == nil {
		return nil
	}
	conds, err := s.cfg.Fleet(ctx, org)
	if err != nil {
		return fmt.Errorf("notify: conditions of %s's edges: %w", org, err)
	}
	var errs []error
	for _, r := range watching {
		errs = append(errs, s.scanRule(ctx, org, r, conds, now, lang))
	}
	return errors.Join(errs...)
}

type condKey struct{ edge, kind, subject string }

func (s *Service) scanRule(ctx context.Context, org string, r Rule, conds []fleet.Condition, now time.Time, lang string) error {
	rows, err := s.db.QueryContext(ctx, `SELECT edge, kind, subject, since FROM notify_conditions WHERE org = $1 AND rule = $2`, org, r.ID)
	if err != nil {
		return fmt.Errorf("notify: conditions of rule %s: %w", r.ID, err)
	}
	seen := map[condKey]time.Time{}
	for rows.Next() {
		var k condKey
		var since int64
		if err := rows.Scan(&k.edge, &k.kind, &k.subject, &since); err != nil {
			rows.Close()
			return err
		}
		seen[k] = meta.Time(since)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	wait := time.Duration(r.Minutes) * time.Minute
	var errs []error
	holding := map[condKey]bool{}
	for _, c := range conds {
		if c.Kind != edgeTriggers[r.Trigger] || (r.Prefix != "" && c.Site != r.Prefix) {
			continue
		}
		// Offline and buffer conditions carry their start: they hold for
		// the rule once it is minutes ago. An input's is when first seen.
		if !c.Since.IsZero() && now.Sub(c.Since) < wait {
			continue
		}
		k := condKey{c.Edge, c.Kind, c.Subject}
		holding[k] = true
		since, ok := seen[k]
		if !ok {
			since = cmp.Or(c.Since, now)
			if _, err := s.db.ExecContext(ctx, `INSERT INTO notify_conditions (org, rule, edge, kind, subject, since)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, org, r.ID, k.edge, k.kind, k.subject, meta.Nanos(since)); err != nil {
				errs = append(errs, fmt.Errorf("notify: record condition: %w", err))
				continue
			}
		}
		if now.Sub(since) < wait {
			continue
		}
		errs = append(errs, s.enqueue(ctx, org, r, r.Channel, 0, edgeMessage(r, c, since, lang)))
	}
	for k := range seen {
		if !holding[k] {
			_, err := s.db.ExecContext(ctx, `DELETE FROM notify_conditions WHERE org = $1 AND rule = $2 AND edge = $3 AND kind = $4 AND subject = $5`,
				org, r.ID, k.edge, k.kind, k.subject)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// edgeMessage is the message of rule r about condition c, which holds
// since since.
func edgeMessage(r Rule, c fleet.Condition, since time.Time, lang string) Message {
	edge := cmp.Or(c.Name, c.Edge)
	var title string
	switch c.Kind {
	case fleet.ConditionOffline:
		title = tr(lang, "edge.offline", edge, r.Minutes)
	case fleet.ConditionBuffer:
		title = tr(lang, "edge.buffer", edge, r.Minutes)
	default:
		title = tr(lang, "edge.input", c.Subject, edge, r.Minutes)
	}
	attrs := map[string]string{"edge": c.Edge, "site": c.Site}
	if c.Subject != "" {
		attrs["input"] = c.Subject
	}
	text := tr(lang, "edge.since", since.UTC().Format("2006-01-02 15:04:05 UTC"), r.Name, c.Detail)
	// The asset of an edge's message is the edge (and its input): what
	// the delivery log shows and what makes its identity.
	asset := c.Edge
	if c.Subject != "" {
		asset += "/" + c.Subject
	}
	return Message{Trigger: r.Trigger, Rule: r.Name, Asset: asset, Kind: c.Kind, Start: since.UTC(), Attrs: attrs, Title: title, Text: text, Lang: lang}
}

// OEEGrace is how long after a shift's end its OEE is judged: the oee
// operator's last window of the shift reaches the hub within a minute or
// two of the end (docs/pipelines.md).
const OEEGrace = 5 * time.Minute

// scanOEE announces the machines under r's prefix whose OEE over the last
// shift that ended was below r's target. A shift is judged from OEEGrace
// after its end for MaxAge; each machine's shift is announced once
// (the delivery's identity holds the shift's start).
func (s *Service) scanOEE(ctx context.Context, org string, r Rule, now time.Time, lang string) error {
	if s.cfg.OEE == nil {
		return nil
	}
	loc, err := time.LoadLocation(r.TZ)
	if err != nil {
		return fmt.Errorf("notify: rule %s: tz: %w", r.ID, err)
	}
	start, end, shift, err := reports.LastShift(r.Shifts, loc, now.Add(-OEEGrace))
	if err != nil {
		return fmt.Errorf("notify: rule %s: %w", r.ID, err)
	}
	if now.Sub(end) > MaxAge+OEEGrace {
		return nil
	}
	machines, err := s.cfg.OEE(ctx, org, r.Prefix, start, end)
	if err != nil {
		return fmt.Errorf("notify: OEE of %s under %q: %w", org, r.Prefix, err)
	}
	var errs []error
	for _, m := range machines {
		if m.OEE == nil || *m.OEE*100 >= float64(r.Target) {
			continue
		}
		errs = append(errs, s.enqueue(ctx, org, r, r.Channel, 0, oeeMessage(r, m, start, end, shift, lang)))
	}
	return errors.Join(errs...)
}

// oeeMessage tells of machine m's OEE below r's target over the shift
// [start, end) that began at local time shift.
func oeeMessage(r Rule, m reports.MachineOEE, start, end time.Time, shift, lang string) Message {
	// pct writes a factor as a percentage with one decimal: attrs for
	// programs (a full stop), the text for people (lang's way).
	pct := func(f *float64, lang string) string {
		if f == nil {
			return "–"
		}
		return decimal(lang, *f*100)
	}
	attrs := map[string]string{"oee": pct(m.OEE, English), "target": strconv.Itoa(r.Target), "shift": shift,
		"availability": pct(m.Availability, English), "performance": pct(m.Performance, English), "quality": pct(m.Quality, English),
		"end": end.UTC().Format(time.RFC3339)}
	title := tr(lang, "oee.title", m.Asset, pct(m.OEE, lang), shift, r.Target)
	text := tr(lang, "oee.text", m.Asset, pct(m.OEE, lang), start.Format("2006-01-02 15:04"), end.Format("15:04"), r.TZ, r.Target, r.Name,
		pct(m.Availability, lang), pct(m.Performance, lang), pct(m.Quality, lang))
	return Message{Trigger: TriggerOEE, Rule: r.Name, Asset: m.Asset, Kind: "oee", Start: start.UTC(), Attrs: attrs, Title: title, Text: text, Lang: lang}
}
