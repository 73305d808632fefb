package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	Register(Spec{
		Name:  "sparkplug",
		Doc:   "publish as a Sparkplug B edge node (births, deaths, aliases, rebirth on request), for SCADA such as Ignition",
		New:   func() Config { return &SparkplugConfig{Broker: mqtt.DefaultBroker(), Version: 3, QoS: 1} },
		Build: func(c Config, log *slog.Logger) (Sink, error) { return newSparkplug(c.(*SparkplugConfig), log) },
	})
}

// SparkplugConfig is the sparkplug output: the edge is one Sparkplug B
// edge node, each UNS path one of its metrics (named by the path).
type SparkplugConfig struct {
	// Broker is the connection, as for the mqtt output.
	mqtt.Broker `yaml:",inline"`
	Buffer      `yaml:",inline"`
	// Version is the MQTT protocol version: 3 (3.1.1, the default) or 5.
	Version int `yaml:"version"`
	// Group and EdgeNode are the node's Sparkplug ids: it publishes on
	// spBv1.0/<group>/N…/<edge_node>.
	Group    string `yaml:"group"`
	EdgeNode string `yaml:"edge_node"`
	// QoS of NBIRTH and NDATA: 1 (default; the broker acknowledges each,
	// so delivery is at-least-once) or 0 (as Sparkplug suggests for data).
	QoS int `yaml:"qos"`
}

// Validate checks c; errors name the key.
func (c *SparkplugConfig) Validate() error {
	errs := checkBroker(&c.Broker, c.Version)
	for key, id := range map[string]string{"group": c.Group, "edge_node": c.EdgeNode} {
		if id == "" || strings.ContainsAny(id, "/+#") {
			errs = append(errs, fmt.Errorf("%s: required, without /, + or #", key))
		}
	}
	if c.QoS != 0 && c.QoS != 1 {
		errs = append(errs, fmt.Errorf("qos: must be 0 or 1, got %d", c.QoS))
	}
	return joinChecks(&c.Buffer, errs...)
}

// sparkplugSink is an edge node on an mqtt.Session. The node (births with
// aliases, data by alias, deaths, seq and bdSeq) is sparkplug.Node, the one
// the simulator uses.
type sparkplugSink struct {
	cfg     *SparkplugConfig
	session *mqtt.Session
	node    *sparkplug.Node
	log     *slog.Logger

	mu        sync.Mutex // guards latest, born and lastStart; held while a birth or data is encoded
	latest    map[string]sparkplug.NodeMetric
	born      map[string]bool // metrics of the current birth
	lastStart time.Time
}

func newSparkplug(c *SparkplugConfig, log *slog.Logger) (*sparkplugSink, error) {
	s := &sparkplugSink{cfg: c, log: log, latest: map[string]sparkplug.NodeMetric{}}
	s.node = sparkplug.NewNode(c.Group, c.EdgeNode, func(topic string, payload []byte) error {
		return s.session.Publish(context.Background(), mqtt.Publication{Topic: topic, Payload: payload, QoS: byte(c.QoS)})
	})
	ncmd := sparkplug.Topic{Group: c.Group, Type: sparkplug.NCMD, Node: c.EdgeNode}.String()
	sess, err := newSession(&c.Broker, c.Version, outputClientID(c.URL, c.Group, c.EdgeNode),
		[]mqtt.Filter{{Topic: ncmd, QoS: 1}}, s.presence, log)
	if err != nil {
		return nil, err
	}
	s.session = sess
	return s, nil
}

func (s *sparkplugSink) Target() string {
	return s.cfg.Peer() + " " + s.cfg.Group + "/" + s.cfg.EdgeNode
}

// presence is the connection's NBIRTH (with every metric's latest value)
// and its NDEATH, the will; each connection is a new bdSeq.
func (s *sparkplugSink) presence(start time.Time) (on, off mqtt.Publication) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !start.Equal(s.lastStart) {
		s.lastStart = start
		s.node.NewSession()
	}
	death := s.node.DeathMessage(s.node.BdSeq())
	off = mqtt.Publication{Topic: death.Topic, Payload: death.Payload, QoS: 1}
	birth, err := s.birthLocked()
	if err != nil {
		s.log.Error("sparkplug birth", "err", err)
	}
	return mqtt.Publication{Topic: birth.Topic, Payload: birth.Payload, QoS: 1}, off
}

// birthLocked encodes an NBIRTH of every metric; s.mu is held.
func (s *sparkplugSink) birthLocked() (sparkplug.Message, error) {
	ms := make([]sparkplug.NodeMetric, 0, len(s.latest))
	s.born = make(map[string]bool, len(s.latest))
	for name, m := range s.latest {
		ms = append(ms, m)
		s.born[name] = true
	}
	return s.node.BirthMessage(ms...)
}

// Run keeps the session and answers rebirth requests (NCMD Node
// Control/Rebirth) with a new NBIRTH.
func (s *sparkplugSink) Run(ctx context.Context) error {
	return s.session.Run(ctx, func(ctx context.Context, b *mqtt.Batch) bool {
		for _, m := range b.Messages {
			if !sparkplug.IsRebirthRequest(m.Payload) {
				continue
			}
			s.mu.Lock()
			birth, err := s.birthLocked()
			s.mu.Unlock()
			if err == nil {
				err = s.node.Send(birth)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("sparkplug rebirth not sent", "err", err)
			}
		}
		return true
	})
}

// Send publishes pts as one NDATA, by alias; a metric not yet born makes
// an NBIRTH of all metrics first.
func (s *sparkplugSink) Send(ctx context.Context, pts []uns.Point) error {
	if !s.session.Connected() {
		return mqtt.ErrNotConnected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]sparkplug.NodeMetric, 0, len(pts))
	rebirth := false
	for i := range pts {
		m := metricOf(&pts[i])
		if !s.born[m.Name] {
			rebirth = true
		}
		if old, ok := s.latest[m.Name]; ok && old.Type != m.Type {
			rebirth = true // a metric's datatype is its birth's
		}
		s.latest[m.Name] = m
		ms = append(ms, m)
	}
	if rebirth {
		birth, err := s.birthLocked()
		if err == nil {
			err = s.node.Send(birth)
		}
		if err != nil {
			s.born = nil // born again on the next try
			return fmt.Errorf("NBIRTH: %w", err)
		}
	}
	// The data carries every point, each with its own time.
	data, err := s.node.DataMessage("", ms...)
	if err != nil {
		return errors.Join(ErrRefused, err)
	}
	return s.node.Send(data)
}

func metricOf(p *uns.Point) sparkplug.NodeMetric {
	m := sparkplug.NodeMetric{Name: p.Series, Value: p.Value, TS: time.Unix(0, p.TS)}
	switch p.Value.Kind() {
	case uns.KindFloat:
		m.Type = sparkplug.Double
	case uns.KindInt:
		m.Type = sparkplug.Int64
	case uns.KindBool:
		m.Type = sparkplug.Boolean
	default:
		m.Type = sparkplug.String
	}
	return m
}
