package vda5050

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "vda5050",
		Doc:  "read AGV state, connection and visualization messages (VDA 5050 v2) from an MQTT broker",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("vda5050: config is %T, want *vda5050.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Input reads the VDA 5050 topics of one broker.
type Input struct {
	cfg      Config
	dec      *decoder // used by the session's writer goroutine only
	clientID string
	session  *mqtt.Session
	ran      atomic.Bool

	status *connector.Tracker
}

// New returns an Input for the broker cfg describes; cfg is validated and
// its TLS files are loaded.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	cc, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	tc, err := cfg.TLS()
	if err != nil {
		return nil, err
	}
	id := cfg.ClientID
	if id == "" {
		id = DefaultClientID(cfg)
	}
	peer := cfg.Peer()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("peer", peer, "client_id", id)
	status := connector.NewTracker(peer, log)
	filters := make([]mqtt.Filter, 0, len(cc.filters))
	for _, f := range slices.Sorted(maps.Keys(cc.filters)) {
		filters = append(filters, mqtt.Filter{Topic: f, QoS: cc.filters[f]})
	}
	return &Input{
		cfg:      *cfg,
		dec:      newDecoder(cfg, cc),
		clientID: id,
		status:   status,
		session: mqtt.NewSession(mqtt.SessionConfig{
			Broker:   cfg.Broker,
			Version:  3,
			ClientID: id,
			TLS:      tc,
			Filters:  filters,
			Status:   status,
			Attrs:    []any{"subscriptions", len(filters)},
		}, log),
	}, nil
}

// ClientID is the client id the input connects with.
func (in *Input) ClientID() string { return in.clientID }

// Status reports the input's health.
func (in *Input) Status() connector.Status {
	return in.status.Status()
}

// Run subscribes and delivers until ctx ends.
//
// The session (mqtt.Session) connects, queues what arrives (bounded by
// max_inflight) and acknowledges each message only after the batch it came
// in is stored, in the order received. The input decodes each batch and
// writes its points to sink in one write; if sink is also an EventSink,
// the batch's events are written after its points and before the
// acknowledgement. A refused write is retried with the same points (or
// events) with back-off, without acknowledging. A payload that does not
// decode is counted, not written, and acknowledged, as it never will
// decode.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("vda5050: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	es, _ := sink.(EventSink)
	in.dec.events = es != nil
	var (
		pts []uns.Point
		evs []uns.Event
	)
	return in.session.Run(ctx, func(ctx context.Context, b *mqtt.Batch) bool {
		pts, evs = pts[:0], evs[:0]
		for _, r := range b.Messages {
			pts, evs = in.decode(pts, evs, r)
		}
		defer clear(evs) // their attribute maps
		if len(pts) > 0 {
			if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
				func() error { return sink.Write(ctx, pts) }) {
				return false
			}
			in.status.AddPoints(int64(len(pts)))
		}
		// Events after their points: a refused event write is retried
		// alone, without writing the points again.
		return len(evs) == 0 || in.status.Deliver(ctx, "events", len(evs), in.cfg.BackoffMin, in.cfg.BackoffMax,
			func() error { return es.WriteEvents(ctx, evs) })
	})
}

// decode appends the points and events of r, or counts why it has none.
func (in *Input) decode(pts []uns.Point, evs []uns.Event, r mqtt.Received) ([]uns.Point, []uns.Event) {
	pts, evs, err := in.dec.decode(pts, evs, r.Topic, r.Payload, r.Time)
	if err != nil {
		reason := uns.ReasonOf(err)
		if reason == "" {
			reason = uns.ReasonNotJSON
		}
		in.status.Reject(reason, fmt.Sprintf("topic %.128q: %v", r.Topic, err))
	}
	return pts, evs
}
