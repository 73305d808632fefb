package output

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	Register(Spec{
		Name:  "mqtt",
		Doc:   "republish to an MQTT broker as a Unified Namespace (topic = prefix + UNS path)",
		New:   func() Config { return &MQTTConfig{Broker: mqtt.DefaultBroker(), Version: 3, QoS: 1} },
		Build: func(c Config, log *slog.Logger) (Sink, error) { return newMQTT(c.(*MQTTConfig), log) },
	})
}

// MQTTConfig is the mqtt output: every point is published to
// topic_prefix + its UNS path as {"value":…,"ts":<unix ms>,"q":"good"},
// the payload molen's own mqtt input (and most UNS consumers) read.
type MQTTConfig struct {
	// Broker is the connection: url, client_id, username, password, TLS
	// (ca_file, cert_file, key_file, server_name), keep_alive, back-off.
	// max_inflight bounds the QoS 1 and 2 publishes awaiting the broker.
	mqtt.Broker `yaml:",inline"`
	Buffer      `yaml:",inline"`
	// Version is the MQTT protocol version: 3 (3.1.1, the default) or 5.
	Version int `yaml:"version"`
	// TopicPrefix goes before each UNS path ("uns/" gives
	// uns/plant/hall1/press3/temperature). No wildcards.
	TopicPrefix string `yaml:"topic_prefix"`
	// QoS of the publishes: 0, 1 (default) or 2. With 0 a point counts as
	// sent once handed to the connection: a lost connection loses it.
	QoS int `yaml:"qos"`
	// Retain makes the broker keep each topic's latest value for new
	// subscribers.
	Retain bool `yaml:"retain"`
}

// Validate checks c; errors name the key.
func (c *MQTTConfig) Validate() error {
	errs := checkBroker(&c.Broker, c.Version)
	if strings.ContainsAny(c.TopicPrefix, "+#\x00") {
		errs = append(errs, fmt.Errorf("topic_prefix: %q: no wildcards (+, #)", c.TopicPrefix))
	}
	if c.QoS < 0 || c.QoS > 2 {
		errs = append(errs, fmt.Errorf("qos: must be 0, 1 or 2, got %d", c.QoS))
	}
	return joinChecks(&c.Buffer, errs...)
}

// checkBroker reports the problems of an MQTT-based output's connection
// and protocol version, by key.
func checkBroker(b *mqtt.Broker, version int) []error {
	var errs []error
	b.Check(func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}, version == 3)
	if version != 3 && version != 5 {
		errs = append(errs, fmt.Errorf("version: must be 3 or 5, got %d", version))
	}
	return errs
}

// outputClientID is the client id of an output whose config sets none:
// stable across restarts with the same config, within the 23 bytes every
// MQTT 3.1.1 broker accepts.
func outputClientID(parts ...string) string {
	host, _ := os.Hostname()
	h := sha256.New()
	h.Write([]byte(host))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "molen-out-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// mqttSink publishes on an mqtt.Session, the connection the MQTT inputs use.
type mqttSink struct {
	cfg     *MQTTConfig
	session *mqtt.Session
}

func newMQTT(c *MQTTConfig, log *slog.Logger) (*mqttSink, error) {
	sess, err := newSession(&c.Broker, c.Version, outputClientID(c.URL, c.TopicPrefix), nil, nil, log)
	if err != nil {
		return nil, err
	}
	return &mqttSink{cfg: c, session: sess}, nil
}

// newSession makes the MQTT session of an output.
func newSession(b *mqtt.Broker, version int, clientID string, filters []mqtt.Filter,
	presence func(start time.Time) (on, off mqtt.Publication), log *slog.Logger) (*mqtt.Session, error) {
	tc, err := b.TLS()
	if err != nil {
		return nil, err
	}
	if b.ClientID != "" {
		clientID = b.ClientID
	}
	log = log.With("peer", b.Peer(), "client_id", clientID)
	return mqtt.NewSession(mqtt.SessionConfig{
		Broker: *b, Version: version, ClientID: clientID, TLS: tc, Filters: filters,
		Status: connector.NewTracker(b.Peer(), log), Presence: presence,
	}, log), nil
}

func (s *mqttSink) Target() string { return s.cfg.Peer() }

func (s *mqttSink) Run(ctx context.Context) error {
	return s.session.Run(ctx, func(context.Context, *mqtt.Batch) bool { return true })
}

// Send publishes every point, up to max_inflight at once, and returns once
// the broker acknowledged them all (QoS 1, 2).
func (s *mqttSink) Send(ctx context.Context, pts []uns.Point) error {
	if !s.session.Connected() {
		return mqtt.ErrNotConnected
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.cfg.MaxInflight))
	for i := range pts {
		p := &pts[i]
		pub := mqtt.Publication{Topic: s.cfg.TopicPrefix + p.Series, Payload: AppendJSON(nil, p), QoS: byte(s.cfg.QoS), Retain: s.cfg.Retain}
		g.Go(func() error {
			if err := s.session.Publish(gctx, pub); err != nil {
				return fmt.Errorf("publish %s: %w", pub.Topic, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// AppendJSON appends p as molen's UNS payload {"value":…,"ts":<unix
// ms>,"q":"…"}. A NaN or infinite float, which JSON cannot hold, goes as
// the string "NaN", "+Inf" or "-Inf".
func AppendJSON(b []byte, p *uns.Point) []byte {
	b = append(b, `{"value":`...)
	switch p.Value.Kind() {
	case uns.KindFloat:
		f := p.Value.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b = strconv.AppendQuote(b, strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case uns.KindInt:
		b = strconv.AppendInt(b, p.Value.Int(), 10)
	case uns.KindBool:
		b = strconv.AppendBool(b, p.Value.Bool())
	default:
		s, _ := json.Marshal(p.Value.Str())
		b = append(b, s...)
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, p.TS/1e6, 10)
	b = append(b, `,"q":"`...)
	b = append(b, p.Quality.String()...)
	return append(b, `"}`...)
}
