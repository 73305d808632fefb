package sparkplug

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "sparkplug",
		Doc:  "Sparkplug B host application on an MQTT 3.1.1 broker: births, aliases, seq, deaths onto UNS paths",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("sparkplug: config is %T, want *sparkplug.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Input is a Sparkplug B host application on one broker.
type Input struct {
	cfg      Config
	groups   []group
	rebirth  bool
	clientID string
	session  *mqtt.Session
	log      *slog.Logger
	ran      atomic.Bool

	status *connector.Tracker

	mu    sync.Mutex // guards stats
	stats Stats
}

// Stats are the host's Sparkplug counters, beyond connector.Status.
type Stats struct {
	RebirthRequests int64 // NCMD Node Control/Rebirth published
	SeqGaps         int64 // gaps not filled within reorder_timeout; their messages are in Status.Dropped
	StaleMarks      int64 // points written with quality bad on a death or a lost broker
}

// New returns an Input for the broker cfg describes; cfg is validated and
// its TLS files are loaded.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	groups, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	tc, err := cfg.TLS()
	if err != nil {
		return nil, err
	}
	id := cfg.ClientID
	if id == "" {
		id = defaultClientID(cfg)
	}
	peer := cfg.Peer()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("peer", peer, "client_id", id)
	status := connector.NewTracker(peer, log)
	filters := make([]mqtt.Filter, len(groups))
	for i, g := range groups {
		filters[i] = mqtt.Filter{Topic: g.filter, QoS: g.qos}
	}
	sc := mqtt.SessionConfig{
		Broker:   cfg.Broker,
		Version:  3,
		ClientID: id,
		TLS:      tc,
		Filters:  filters,
		Status:   status,
		Attrs:    []any{"groups", len(filters)},
		Tick:     min(max(cfg.ReorderTimeout/4, time.Millisecond), 250*time.Millisecond),
	}
	if cfg.HostID != "" {
		// A primary host's STATE (Sparkplug 3.0): its will and its birth
		// carry the same timestamp, that of the connection.
		topic := stateTopic(cfg.HostID)
		sc.Presence = func(start time.Time) (online, offline mqtt.Publication) {
			return mqtt.Publication{Topic: topic, Payload: statePayload(true, start), QoS: 1, Retain: true},
				mqtt.Publication{Topic: topic, Payload: statePayload(false, start), QoS: 1, Retain: true}
		}
	}
	return &Input{
		cfg:      *cfg,
		groups:   groups,
		rebirth:  cfg.Rebirth == nil || *cfg.Rebirth,
		clientID: id,
		session:  mqtt.NewSession(sc, log),
		log:      log,
		status:   status,
	}, nil
}

// ClientID is the client id the input connects with.
func (in *Input) ClientID() string { return in.clientID }

// Status reports the input's health.
func (in *Input) Status() connector.Status {
	return in.status.Status()
}

// Stats reports the Sparkplug counters.
func (in *Input) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

// Run subscribes and delivers until ctx ends. The session (mqtt.Session)
// connects, queues and acknowledges, as for the mqtt input; the host's
// state lives in its handler, on the session's one writer goroutine: see
// the package documentation.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("sparkplug: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)

	h := newHost(in.groups, in.cfg.ReorderTimeout, in.rebirth)
	h.reject = in.status.Reject
	h.lost = func(n int, msg string) {
		in.status.AddDropped(int64(n))
		in.status.SetError(msg)
		in.mu.Lock()
		in.stats.SeqGaps++
		in.mu.Unlock()
	}
	var pts []uns.Point
	return in.session.Run(ctx, func(ctx context.Context, b *mqtt.Batch) bool {
		pts = pts[:0]
		if b.Lost != 0 {
			pts = h.staleAll(pts, b.Lost)
		}
		if !b.Tick.IsZero() {
			h.expire(b.Tick.UnixNano())
		}
		for _, r := range b.Messages {
			pts = h.handle(pts, r.Topic, r.Payload, r.Time)
		}
		// b.Ready: a connection can publish the requests held meanwhile.
		in.askRebirths(ctx, h)
		if len(pts) == 0 {
			return true
		}
		if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
			func() error { return sink.Write(ctx, pts) }) {
			return false
		}
		in.status.AddPoints(int64(len(pts)))
		stale := 0
		for _, p := range pts {
			if p.Quality == uns.Bad {
				stale++
			}
		}
		if stale > 0 {
			in.mu.Lock()
			in.stats.StaleMarks += int64(stale)
			in.mu.Unlock()
		}
		return true
	})
}

// stateTopic is the topic of a primary host's STATE (Sparkplug 3.0).
func stateTopic(hostID string) string { return Namespace + "/STATE/" + hostID }

func statePayload(online bool, at time.Time) []byte {
	return fmt.Appendf(nil, `{"online":%t,"timestamp":%d}`, online, at.UnixMilli())
}

// askRebirths publishes the rebirth requests h queued (QoS 0, as
// Sparkplug sends commands). Without a connection that can publish (between
// sessions, or before the session's subscriptions are confirmed, while a
// persistent session already delivers) h keeps them until there is one.
func (in *Input) askRebirths(ctx context.Context, h *host) {
	if len(h.pending) == 0 || !in.session.Connected() {
		return
	}
	now := time.Now()
	h.sendRebirths(now.UnixNano(), func(k nodeKey) {
		topic := Topic{Group: k.group, Type: NCMD, Node: k.node}.String()
		if err := in.session.Publish(ctx, mqtt.Publication{Topic: topic, Payload: RebirthRequest(now)}); err != nil {
			in.log.Warn("cannot request a rebirth", "group", k.group, "edge_node", k.node, "err", err)
			return
		}
		in.mu.Lock()
		in.stats.RebirthRequests++
		in.mu.Unlock()
		in.log.Info("requested rebirth", "group", k.group, "edge_node", k.node)
	})
}
