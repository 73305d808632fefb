package notify

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/reports"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: channels, rules, deliveries, keys.
var Migrations = meta.Migrations{Domain: "notify", FS: meta.Dir(migrations, "migrations")}

// Channel kinds and webhook formats.
const (
	KindEmail   = "email"
	KindWebhook = "webhook"
	KindMQTT    = "mqtt"

	FormatJSON  = "json"
	FormatTeams = "teams"
	FormatSlack = "slack"
)

// Rule triggers.
const (
	TriggerAlarm = "alarm" // an alarm or anomaly event raised
	TriggerDown  = "down"  // a downtime event open longer than Minutes
	// Edges' conditions (Config.Fleet), of edges at the site Prefix (""
	// every site):
	TriggerEdgeOffline = "edge_offline" // an edge silent for Minutes
	TriggerEdgeBuffer  = "edge_buffer"  // an edge's oldest unforwarded point Minutes old
	TriggerInputDown   = "input_down"   // an input of an edge not connected for Minutes
	// TriggerOEE: a machine's OEE over a shift below the rule's Target
	// (Config.OEE).
	TriggerOEE = "oee_below"
)

// edgeTriggers maps the edge triggers to the conditions they watch.
var edgeTriggers = map[string]string{
	TriggerEdgeOffline: fleet.ConditionOffline,
	TriggerEdgeBuffer:  fleet.ConditionBuffer,
	TriggerInputDown:   fleet.ConditionInput,
}

// Delivery states.
const (
	StatePending = "pending" // due at NextAt (later during quiet hours or after a failed attempt)
	StateSent    = "sent"
	StateFailed  = "failed" // gave up after MaxAttempts
)

// Limits and timings.
const (
	MaxChannels = 50
	MaxRules    = 200
	// MaxAttempts is how often a delivery is tried before it fails.
	MaxAttempts = 12
	// RetryMin and RetryMax bound the back-off between attempts: 5 s
	// doubling to 10 min, so 12 attempts span about an hour.
	RetryMin, RetryMax = 5 * time.Second, 10 * time.Minute
	// AttemptTimeout bounds one attempt, so that a slow receiver holds
	// only its own delivery.
	AttemptTimeout = 15 * time.Second
	// MaxAge is how old an alarm may be and still notify: older ones
	// (history imported later, an edge that was offline for a day) are
	// stored, not announced.
	MaxAge = time.Hour
	// Parallel is how many deliveries are on their way at once.
	Parallel = 16
)

// Channel is where notifications go.
type Channel struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`           // addresses, URL or broker
	Format string `json:"format,omitempty"` // webhook: json, teams or slack
	Topic  string `json:"topic,omitempty"`  // mqtt
	// Username is the MQTT user name; Secret the webhook's signing key or
	// the MQTT password.
	Username string    `json:"username,omitempty"`
	Secret   string    `json:"-"`
	Created  time.Time `json:"created"`
}

// Rule says which events notify which channel.
type Rule struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Trigger string `json:"trigger"`
	Prefix  string `json:"prefix"`  // assets under this UNS prefix, or for edge triggers a site; "" all
	Minutes int    `json:"minutes"` // down and edge triggers: how long the condition lasts first
	// Target is the OEE in percent (1..100) below which a machine's shift
	// is announced (oee_below); Shifts the shift starts ("06:00,14:00,22:00",
	// local to TZ; "" is that default).
	Target  int    `json:"target,omitempty"`
	Shifts  string `json:"shifts,omitempty"`
	Channel string `json:"channel"`
	// EscalateTo is a second channel told when an alarm is not
	// acknowledged EscalateMinutes after its first message was sent.
	EscalateTo      string `json:"escalate_to"`
	EscalateMinutes int    `json:"escalate_minutes"`
	// QuietFrom and QuietTo ("22:00", "06:00") hold messages until the
	// quiet hours end, in the zone TZ (default UTC); equal: none.
	QuietFrom string    `json:"quiet_from"`
	QuietTo   string    `json:"quiet_to"`
	TZ        string    `json:"tz"`
	Enabled   bool      `json:"enabled"`
	Created   time.Time `json:"created"`
}

// SMTP is the mail server the hub sends e-mail through.
type SMTP struct {
	Addr               string // host:port; "" for no e-mail
	From               string
	Username, Password string
	// TLS is "starttls" (default: required), "tls" (implicit, port 465)
	// or "none" (a server on the same host or network only).
	TLS string
}

// Config configures the Service.
type Config struct {
	DB      *meta.DB
	Store   store.Events
	Factory *factory.Service
	// Fleet tells the edge triggers what is wrong with an organisation's
	// edges (fleet.Service.Conditions); nil: those rules never fire.
	Fleet func(ctx context.Context, org string) ([]fleet.Condition, error)
	// OEE computes the OEE of an organisation's machines under a prefix
	// over a span (reports.Service.MachinesOEE), for oee_below rules;
	// nil: those rules never fire.
	OEE   func(ctx context.Context, org, prefix string, from, to time.Time) ([]reports.MachineOEE, error)
	Audit *audit.Log
	Log   *slog.Logger
	Now   func() time.Time
	Reg   prometheus.Registerer
	// PublicURL is the hub's address for the links in messages.
	PublicURL func() string
	SMTP      SMTP
	// PrivateTargets lets webhooks and MQTT channels reach loopback,
	// link-local and private addresses (the hub's own network). Off, an
	// organisation's channel cannot make the hub call into its network.
	PrivateTargets bool
	// Attempted, if set, is told of each attempt once its outcome is
	// recorded (nil: sent), for tests.
	Attempted func(id string, err error)
}

// Service keeps channels and rules, queues deliveries and sends them.
type Service struct {
	cfg    Config
	dialer *net.Dialer  // of webhooks and MQTT: public addresses only unless PrivateTargets
	http   *http.Client // webhooks, without redirects
	db     *meta.DB
	log    *slog.Logger
	now    func() time.Time
	key    []byte // signs acknowledgement links
	wake   chan struct{}
	obs    chan observed

	mu       sync.Mutex
	inflight map[string]bool // deliveries being attempted
	idle     *sync.Cond      // of mu: signalled when inflight empties
	sem      chan struct{}

	sent    *prometheus.CounterVec
	queued  *prometheus.CounterVec
	dropped prometheus.Counter
	latency prometheus.Histogram
}

type observed struct {
	org string
	evs []uns.Event
}

// New returns the service, migrating its tables and making its key on
// first start.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.DB.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	dialer := &net.Dialer{Timeout: AttemptTimeout}
	if !cfg.PrivateTargets {
		dialer.Control = publicOnly
	}
	s0 := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: AttemptTimeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	if cfg.Reg == nil {
		cfg.Reg = prometheus.NewRegistry()
	}
	s := &Service{dialer: dialer, http: &http.Client{Transport: s0, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		cfg: cfg, db: cfg.DB, log: cfg.Log, now: cfg.Now, wake: make(chan struct{}, 1), obs: make(chan observed, 1024),
		inflight: map[string]bool{}, sem: make(chan struct{}, Parallel)}
	s.idle = sync.NewCond(&s.mu)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO notify_keys (name, key) VALUES ('ack', $1) ON CONFLICT (name) DO NOTHING`, secret.New("")); err != nil {
		return nil, fmt.Errorf("notify key: %w", err)
	}
	var key string
	if err := s.db.QueryRowContext(ctx, `SELECT key FROM notify_keys WHERE name = 'ack'`).Scan(&key); err != nil {
		return nil, fmt.Errorf("notify key: %w", err)
	}
	s.key = []byte(key)
	s.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_notify_attempts_total",
		Help: "Delivery attempts of notifications, by channel kind and outcome: sent, retry (failed, tried again later), failed (given up)."},
		[]string{"kind", "outcome"})
	s.queued = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_notify_queued_total",
		Help: "Notifications queued, by trigger: alarm, down, oee_below, edge_offline, edge_buffer, input_down, escalation, test; duplicates are not counted."}, []string{"trigger"})
	s.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_notify_observe_dropped_total",
		Help: "Batches of new events the notifier could not look at at once (its queue was full); the next scan finds their alarms."})
	s.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "molen_notify_latency_seconds",
		Help:    "From an alarm's start to its first message leaving the hub.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "molen_notify_pending",
		Help: "Deliveries waiting to be sent (due now, held by quiet hours or waiting for a retry)."}, func() float64 {
		var n int64
		_ = s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM notify_deliveries WHERE state = 'pending'`).Scan(&n)
		return float64(n)
	})
	for _, c := range []prometheus.Collector{s.sent, s.queued, s.dropped, s.latency, pending} {
		if err := cfg.Reg.Register(c); err != nil {
			return nil, fmt.Errorf("notify metrics: %w", err)
		}
	}
	for _, k := range []string{KindEmail, KindWebhook, KindMQTT} {
		for _, o := range []string{"sent", "retry", "failed"} {
			s.sent.WithLabelValues(k, o)
		}
	}
	return s, nil
}

func newID(prefix string) string { return prefix + secret.New("")[:16] }

// minutesOfDay parses "HH:MM".
func minutesOfDay(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// checkChannel validates c, naming the field at fault.
func checkChannel(c Channel) error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", meta.ErrInvalid, fmt.Sprintf(f, a...)) }
	if c.Name == "" || len(c.Name) > 100 || meta.CheckText(c.Name, c.Target, c.Topic, c.Username, c.Secret) != nil {
		return bad("name: want 1..100 bytes of text")
	}
	switch c.Kind {
	case KindEmail:
		if _, err := mail.ParseAddressList(c.Target); err != nil || len(c.Target) > 1000 {
			return bad("target: want e-mail addresses, separated by commas")
		}
	case KindWebhook:
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(c.Target) > 2000 {
			return bad("target: want an http:// or https:// URL")
		}
		if c.Format != FormatJSON && c.Format != FormatTeams && c.Format != FormatSlack {
			return bad("format %q: want json, teams or slack", c.Format)
		}
	case KindMQTT:
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt" && u.Scheme != "ssl" && u.Scheme != "tls") || u.Host == "" {
			return bad("target: want a broker like tcp://broker:1883 or ssl://broker:8883")
		}
		if c.Topic == "" || strings.ContainsAny(c.Topic, "#+") || len(c.Topic) > 500 {
			return bad("topic: want a topic without wildcards")
		}
	default:
		return bad("kind %q: want email, webhook or mqtt", c.Kind)
	}
	return nil
}

// checkRule validates r against org's channels.
func (s *Service) checkRule(ctx context.Context, org string, r Rule) error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", meta.ErrInvalid, fmt.Sprintf(f, a...)) }
	if r.Name == "" || len(r.Name) > 100 || meta.CheckText(r.Name) != nil {
		return bad("name: want 1..100 bytes of text")
	}
	switch r.Trigger {
	case TriggerAlarm:
	case TriggerOEE:
		if r.Target < 1 || r.Target > 100 {
			return bad("target: want an OEE of 1..100 %%")
		}
		if r.Shifts != "" {
			if err := reports.ParseShifts(r.Shifts); err != nil || len(r.Shifts) > 200 {
				return bad("shifts %q: want increasing local start times HH:MM separated by commas, like %s", r.Shifts, reports.DefaultShifts)
			}
		}
	case TriggerDown, TriggerEdgeOffline, TriggerEdgeBuffer, TriggerInputDown:
		if r.Minutes < 1 || r.Minutes > 7*24*60 {
			return bad("minutes: want 1..10080 for a rule of trigger %s", r.Trigger)
		}
	default:
		return bad("trigger %q: want alarm, down, oee_below, edge_offline, edge_buffer or input_down", r.Trigger)
	}
	if _, edge := edgeTriggers[r.Trigger]; edge {
		if r.Prefix != "" && (fleet.Place{Site: r.Prefix}).Validate() != nil {
			return bad("prefix: for an edge rule, a site name or none (every site)")
		}
	} else if err := uns.ValidatePrefix(r.Prefix); err != nil {
		return bad("prefix: %v", err)
	}
	if _, err := s.Channel(ctx, org, r.Channel); err != nil {
		return bad("channel %q: not one of the organisation's channels", r.Channel)
	}
	if r.EscalateTo != "" {
		if r.Trigger != TriggerAlarm {
			return bad("escalate_to: only alarms are acknowledged, so only alarm rules escalate")
		}
		if _, err := s.Channel(ctx, org, r.EscalateTo); err != nil || r.EscalateTo == r.Channel {
			return bad("escalate_to %q: want another of the organisation's channels", r.EscalateTo)
		}
		if r.EscalateMinutes < 1 || r.EscalateMinutes > 24*60 {
			return bad("escalate_minutes: want 1..1440")
		}
	}
	if (r.QuietFrom == "") != (r.QuietTo == "") {
		return bad("quiet_from, quiet_to: give both or neither")
	}
	if r.QuietFrom != "" {
		if _, err := minutesOfDay(r.QuietFrom); err != nil {
			return bad("quiet_from: %v", err)
		}
		if _, err := minutesOfDay(r.QuietTo); err != nil {
			return bad("quiet_to: %v", err)
		}
	}
	if _, err := time.LoadLocation(r.TZ); err != nil {
		return bad("tz %q: want a zone like Europe/Amsterdam", r.TZ)
	}
	return nil
}

// CreateChannel adds a channel to org, recording e in the audit log. A
// webhook gets a new signing key. It returns the channel with its secret.
func (s *Service) CreateChannel(ctx context.Context, org string, c Channel, e audit.Entry) (Channel, error) {
	c.ID, c.Created = newID("nch_"), s.now().UTC()
	if c.Kind == KindWebhook {
		c.Secret = secret.New(secret.PrefixWebhook)
	}
	if c.Kind != KindWebhook {
		c.Format = ""
	}
	if err := checkChannel(c); err != nil {
		return Channel{}, err
	}
	e.Target, e.Detail = c.ID, map[string]string{"name": c.Name, "kind": c.Kind}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notify_channels WHERE org = $1`, org).Scan(&n); err != nil {
			return err
		}
		if n >= MaxChannels {
			return fmt.Errorf("%w: at most %d channels", meta.ErrInvalid, MaxChannels)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_channels (org, id, name, kind, target, format, topic, username, secret, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, org, c.ID, c.Name, c.Kind, c.Target, c.Format, c.Topic, c.Username, c.Secret, meta.Nanos(c.Created)); err != nil {
			return err
		}
		_, err := s.cfg.Audit.RecordTx(ctx, tx, e)
		return err
	})
	if err != nil {
		return Channel{}, fmt.Errorf("create channel: %w", err)
	}
	return c, nil
}

const channelCols = `id, name, kind, target, format, topic, username, secret, created`

func scanChannel(sc interface{ Scan(...any) error }) (Channel, error) {
	var c Channel
	var created int64
	err := sc.Scan(&c.ID, &c.Name, &c.Kind, &c.Target, &c.Format, &c.Topic, &c.Username, &c.Secret, &created)
	c.Created = meta.Time(created)
	return c, err
}

// Channel returns org's channel id.
func (s *Service) Channel(ctx context.Context, org, id string) (Channel, error) {
	c, err := scanChannel(s.db.QueryRowContext(ctx, `SELECT `+channelCols+` FROM notify_channels WHERE org = $1 AND id = $2`, org, id))
	if err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", id, meta.Found(err))
	}
	return c, nil
}

// Channels returns org's channels by name.
func (s *Service) Channels(ctx context.Context, org string) ([]Channel, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+channelCols+` FROM notify_channels WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	defer rows.Close()
	out := []Channel{}
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("channels: %w", err)
		}
		out = append(out, c)
	}
	sortBy(out, func(c Channel) string { return c.Name + "\x00" + c.ID })
	return out, rows.Err()
}

// DeleteChannel removes org's channel id unless a rule uses it.
func (s *Service) DeleteChannel(ctx context.Context, org, id string, e audit.Entry) error {
	e.Target = id
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notify_rules WHERE org = $1 AND (channel = $2 OR escalate_to = $2)`, org, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: channel %s: %d rules use it; change or delete them first", meta.ErrExists, id, n)
		}
		if err := meta.Changed(tx.ExecContext(ctx, `DELETE FROM notify_channels WHERE org = $1 AND id = $2`, org, id)); err != nil {
			return fmt.Errorf("channel %s: %w", id, err)
		}
		_, err := s.cfg.Audit.RecordTx(ctx, tx, e)
		return err
	})
}

// PutRule creates (r.ID "") or replaces org's rule, recording e.
func (s *Service) PutRule(ctx context.Context, org string, r Rule, e audit.Entry) (Rule, error) {
	if r.TZ == "" {
		r.TZ = "UTC"
	}
	if r.EscalateTo == "" {
		r.EscalateMinutes = 0
	}
	if r.Trigger == TriggerAlarm || r.Trigger == TriggerOEE {
		r.Minutes = 0
	}
	if r.Trigger != TriggerOEE {
		r.Target, r.Shifts = 0, ""
	}
	if err := s.checkRule(ctx, org, r); err != nil {
		return Rule{}, err
	}
	qf, _ := minutesOfDay(r.QuietFrom)
	qt, _ := minutesOfDay(r.QuietTo)
	if r.QuietFrom == "" {
		qf, qt = 0, 0
	}
	create := r.ID == ""
	if create {
		r.ID, r.Created = newID("nru_"), s.now().UTC()
	}
	e.Target, e.Detail = r.ID, map[string]string{"name": r.Name, "trigger": r.Trigger, "channel": r.Channel, "enabled": fmt.Sprint(r.Enabled)}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if create {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notify_rules WHERE org = $1`, org).Scan(&n); err != nil {
				return err
			}
			if n >= MaxRules {
				return fmt.Errorf("%w: at most %d rules", meta.ErrInvalid, MaxRules)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notify_rules (org, id, name, trig, prefix, minutes, channel, escalate_to, escalate_minutes,
				quiet_from, quiet_to, tz, enabled, created, target, shifts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				org, r.ID, r.Name, r.Trigger, r.Prefix, r.Minutes, r.Channel, r.EscalateTo, r.EscalateMinutes, qf, qt, r.TZ, b2i(r.Enabled), meta.Nanos(r.Created),
				r.Target, r.Shifts); err != nil {
				return err
			}
		} else {
			if err := tx.QueryRowContext(ctx, `UPDATE notify_rules SET name = $3, trig = $4, prefix = $5, minutes = $6, channel = $7,
				escalate_to = $8, escalate_minutes = $9, quiet_from = $10, quiet_to = $11, tz = $12, enabled = $13, target = $14, shifts = $15
				WHERE org = $1 AND id = $2 RETURNING created`,
				org, r.ID, r.Name, r.Trigger, r.Prefix, r.Minutes, r.Channel, r.EscalateTo, r.EscalateMinutes, qf, qt, r.TZ, b2i(r.Enabled),
				r.Target, r.Shifts).Scan(new(int64)); err != nil {
				return fmt.Errorf("rule %s: %w", r.ID, meta.Found(err))
			}
		}
		_, err := s.cfg.Audit.RecordTx(ctx, tx, e)
		return err
	})
	if err != nil {
		return Rule{}, err
	}
	return s.Rule(ctx, org, r.ID)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func hhmm(m int64) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

const ruleCols = `id, name, trig, prefix, minutes, channel, escalate_to, escalate_minutes, quiet_from, quiet_to, tz, enabled, created, target, shifts`

func scanRule(sc interface{ Scan(...any) error }) (Rule, error) {
	var r Rule
	var qf, qt, en, created int64
	err := sc.Scan(&r.ID, &r.Name, &r.Trigger, &r.Prefix, &r.Minutes, &r.Channel, &r.EscalateTo, &r.EscalateMinutes, &qf, &qt, &r.TZ, &en, &created, &r.Target, &r.Shifts)
	if qf != qt {
		r.QuietFrom, r.QuietTo = hhmm(qf), hhmm(qt)
	}
	r.Enabled, r.Created = en != 0, meta.Time(created)
	return r, err
}

// Rule returns org's rule id.
func (s *Service) Rule(ctx context.Context, org, id string) (Rule, error) {
	r, err := scanRule(s.db.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM notify_rules WHERE org = $1 AND id = $2`, org, id))
	if err != nil {
		return Rule{}, fmt.Errorf("rule %s: %w", id, meta.Found(err))
	}
	return r, nil
}

// Rules returns org's rules by name.
func (s *Service) Rules(ctx context.Context, org string) ([]Rule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+ruleCols+` FROM notify_rules WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer rows.Close()
	out := []Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		out = append(out, r)
	}
	sortBy(out, func(r Rule) string { return r.Name + "\x00" + r.ID })
	return out, rows.Err()
}

// DeleteRule removes org's rule id; its deliveries stay in the log.
func (s *Service) DeleteRule(ctx context.Context, org, id string, e audit.Entry) error {
	e.Target = id
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := meta.Changed(tx.ExecContext(ctx, `DELETE FROM notify_rules WHERE org = $1 AND id = $2`, org, id)); err != nil {
			return fmt.Errorf("rule %s: %w", id, err)
		}
		_, err := s.cfg.Audit.RecordTx(ctx, tx, e)
		return err
	})
}

// quietUntil is when the quiet hours of r that hold at t end (t itself
// when they do not hold).
func (r Rule) quietUntil(t time.Time) time.Time {
	if r.QuietFrom == "" || r.QuietFrom == r.QuietTo {
		return t
	}
	loc, err := time.LoadLocation(r.TZ)
	if err != nil {
		return t
	}
	from, _ := minutesOfDay(r.QuietFrom)
	to, _ := minutesOfDay(r.QuietTo)
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	at := func(dayOffset, m int) time.Time {
		return time.Date(midnight.Year(), midnight.Month(), midnight.Day()+dayOffset, m/60, m%60, 0, 0, loc)
	}
	switch {
	case from < to && now >= from && now < to: // 12:00–14:00
		return at(0, to)
	case from > to && now >= from: // 22:00–06:00, before midnight
		return at(1, to)
	case from > to && now < to: // after midnight
		return at(0, to)
	}
	return t
}

var errNoSMTP = errors.New("the hub has no mail server (molen hub --smtp-addr)")

// errPrivate refuses a channel's connection into the hub's own network.
var errPrivate = errors.New("refused: a private, loopback or link-local address (the hub's operator allows them with --notify-private-targets)")

// publicOnly is a dialer's Control that refuses addresses of the hub's own
// network: loopback, link-local (cloud metadata services), private and
// unspecified ones.
func publicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("%s: %w", ip, errPrivate)
	}
	return nil
}
