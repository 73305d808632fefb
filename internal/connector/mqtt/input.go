package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "mqtt",
		Doc:  "subscribe to topics of an existing MQTT 3.1.1 or 5 broker and map them onto UNS paths",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("mqtt: config is %T, want *mqtt.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Reasons under which Status.Rejected counts messages, besides the payload
// reasons of uns (not_json, invalid_path, wrong_type, …).
const (
	// ReasonUnmatched: a message on a topic that no subscription of the
	// config matches (left in a persistent session by an older config).
	ReasonUnmatched = "unmatched_topic"
)

// Input subscribes to topics of one broker.
type Input struct {
	cfg      Config
	subs     []sub
	clientID string
	session  *Session
	ran      atomic.Bool

	status *connector.Tracker
}

// New returns an Input for the broker cfg describes; cfg is validated and
// its TLS files are loaded.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	subs, err := compile(cfg)
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
	filters := make([]Filter, len(subs))
	for i, s := range subs {
		filters[i] = Filter{Topic: s.filter, QoS: s.qos}
	}
	return &Input{
		cfg:      *cfg,
		subs:     subs,
		clientID: id,
		status:   status,
		session: NewSession(SessionConfig{
			Broker:   cfg.Broker,
			Version:  cfg.Version,
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
// The session (Session.Run) connects, queues what arrives (bounded by
// max_inflight) and acknowledges each message only after the batch it came
// in is written to sink, in the order received. The input decodes each
// batch and writes it in one write; a refused write is retried with the
// same points with back-off, without acknowledging. If sink is a
// connector.MessageSink, the input passes each message's identity with its
// points, so that the sink stores a redelivery of a message it stored (its
// acknowledgement was lost with the connection or the broker) only once. A
// payload that does not decode is counted, not written, and acknowledged,
// as it never will decode.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("mqtt: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	ms, _ := sink.(connector.MessageSink)
	var (
		pts  []uns.Point
		ends []int // ends[i]: the end in pts of the i-th message's points
		msgs []connector.Message
	)
	return in.session.Run(ctx, func(ctx context.Context, b *Batch) bool {
		pts, ends = pts[:0], ends[:0]
		for _, r := range b.Messages {
			pts = in.decode(pts, r)
			ends = append(ends, len(pts))
		}
		if len(pts) == 0 {
			return true
		}
		var written int
		write := func() error { written = len(pts); return sink.Write(ctx, pts) }
		if ms != nil {
			msgs = in.messages(msgs[:0], b.Messages, pts, ends)
			write = func() (err error) { written, err = ms.WriteMessages(ctx, msgs); return err }
		}
		ok := in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax, write)
		clear(msgs) // their points and payloads
		if ok {
			in.status.AddPoints(int64(written))
		}
		return ok
	})
}

// decode appends the points of r to pts, or counts why it has none.
func (in *Input) decode(pts []uns.Point, r Received) []uns.Point {
	for i := range in.subs {
		s := &in.subs[i]
		if !matchTopic(s.match, r.Topic) {
			continue
		}
		path, err := s.path.apply(r.Topic)
		if err != nil {
			in.status.Reject(uns.ReasonInvalidPath, err.Error())
			return pts
		}
		out, err := uns.Decode(pts, path, r.Payload, r.Time)
		if err != nil {
			reason := uns.ReasonOf(err)
			if reason == "" {
				reason = uns.ReasonNotJSON
			}
			in.status.Reject(reason, fmt.Sprintf("topic %.128q: %v", r.Topic, err))
			return pts
		}
		return out
	}
	in.status.Reject(ReasonUnmatched, fmt.Sprintf("topic %.128q matches no subscription", r.Topic))
	return pts
}

// messages appends to msgs the messages of rs that have points (pts,
// rs[i]'s ending at ends[i]), with their identity if the broker may
// deliver them again.
func (in *Input) messages(msgs []connector.Message, rs []Received, pts []uns.Point, ends []int) []connector.Message {
	from := 0
	for i, r := range rs {
		if ends[i] == from {
			continue
		}
		msgs = append(msgs, in.session.Message(r, pts[from:ends[i]:ends[i]]))
		from = ends[i]
	}
	return msgs
}
