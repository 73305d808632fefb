package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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

// disconnectQuiesce is how long closing waits for the DISCONNECT packet
// to be written.
const disconnectQuiesce = 250 * time.Millisecond

// Input subscribes to topics of one broker.
type Input struct {
	cfg      Config
	subs     []sub
	tls      *tls.Config
	clientID string
	peer     string
	session  string // connector.Message.Session of its messages
	log      *slog.Logger
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
	return &Input{
		cfg:      *cfg,
		subs:     subs,
		tls:      tc,
		clientID: id,
		peer:     peer,
		session:  peer + "\x00" + id,
		log:      log,
		status:   connector.NewTracker(peer, log),
	}, nil
}

// ClientID is the client id the input connects with.
func (in *Input) ClientID() string { return in.clientID }

// Status reports the input's health.
func (in *Input) Status() connector.Status {
	return in.status.Status()
}

// message is a received message, whichever client (MQTT 3.1.1 or 5)
// received it. paho.mqtt.golang's Message is one.
type message interface {
	Topic() string
	Payload() []byte
	Qos() byte
	// MessageID is the packet id of a QoS 1 or 2 message: the broker
	// delivers a message it has not seen acknowledged again, to the next
	// connection of the same session, with the same one.
	MessageID() uint16
	// Ack acknowledges the message to the broker, in the order received
	// (the client holds back an acknowledgement until those of the
	// messages before it are made). It does nothing for QoS 0, nor once
	// the connection that received the message is gone: the broker then
	// delivers the message again to the next session.
	Ack()
}

// delivery is a message received and not yet acknowledged.
type delivery struct {
	msg  message
	recv int64 // unix ns; stamps values that carry no ts
}

// Run subscribes and delivers until ctx ends.
//
// Messages go from the client's receive goroutine to one writer goroutine
// through a queue bounded by max_inflight. The writer decodes what the queue
// holds, writes it to sink in one batch and only then acknowledges the
// messages to the broker, in the order received (as MQTT 3.1.1 requires): a
// QoS 1 or 2 message is acknowledged once it is durable at the edge. A
// refused write is retried with the same points with back-off, without
// acknowledging; if Run ends meanwhile, the broker redelivers the messages
// to the next session. If sink is a connector.MessageSink, the writer
// passes each message's identity with its points, so that the sink stores a
// redelivery of a message it stored (its acknowledgement was lost with the
// connection or the broker) only once. A payload that does not decode is
// counted, not written, and acknowledged, as it never will decode.
//
// While max_inflight messages are unacknowledged the receive goroutine
// waits for a QoS 1 or 2 message (the broker holds the rest) and drops a
// QoS 0 message, counted in Status.Dropped.
//
// A lost connection is made anew with back-off; a connection counts once the
// broker has accepted the CONNECT and every SUBSCRIBE (the probe).
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("mqtt: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)

	q := &queue{
		ch:    make(chan delivery, in.cfg.MaxInflight),
		slots: make(chan struct{}, in.cfg.MaxInflight),
		done:  ctx.Done(),
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { in.write(wctx, sink, q) })
	defer wg.Wait()
	defer cancel()

	// Only the client differs between the versions: both sessions hand
	// their messages to receive and the same writer.
	session := in.session3
	if in.cfg.Version == 5 {
		session = in.session5
	}
	connector.Reconnect(ctx, in.status, "broker", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return session(ctx, q) })
	return nil
}

// queue carries messages from the client to the writer. slots holds one
// token per message received and not yet acknowledged (or dropped as
// undeliverable), so ch never holds more than its capacity.
type queue struct {
	ch    chan delivery
	slots chan struct{}
	done  <-chan struct{} // Run's context
}

// receive is the client's message handler: it takes an in-flight slot and
// queues m for the writer. gone is closed when the session that received m
// ends, so that a handler waiting for a slot does not hold up its end.
func (in *Input) receive(q *queue, gone <-chan struct{}, m message) {
	recv := time.Now().UnixNano()
	if m.Qos() == 0 {
		select {
		case q.slots <- struct{}{}:
		default:
			// QoS 0 has no acknowledgement to hold the broker back with.
			in.status.AddDropped(1)
			return
		}
	} else {
		select {
		case q.slots <- struct{}{}:
		case <-q.done:
			return // not acknowledged: the broker redelivers it next session
		case <-gone:
			return // likewise
		}
	}
	q.ch <- delivery{msg: m, recv: recv}
}

// write is the writer goroutine: it takes what the queue holds, decodes
// it, writes it to sink and acknowledges it, until ctx ends.
func (in *Input) write(ctx context.Context, sink connector.Sink, q *queue) {
	ms, _ := sink.(connector.MessageSink)
	batch := make([]delivery, 0, cap(q.ch))
	var (
		pts  []uns.Point
		ends []int // ends[i]: the end in pts of batch[i]'s points
		msgs []connector.Message
	)
	for {
		select {
		case d := <-q.ch:
			batch = append(batch[:0], d)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case d := <-q.ch:
				batch = append(batch, d)
			default:
				break more
			}
		}
		pts, ends = pts[:0], ends[:0]
		for _, d := range batch {
			pts = in.decode(pts, d)
			ends = append(ends, len(pts))
		}
		write := func() (int, error) { return len(pts), sink.Write(ctx, pts) }
		if ms != nil {
			msgs = in.messages(msgs[:0], batch, pts, ends)
			write = func() (int, error) { return ms.WriteMessages(ctx, msgs) }
		}
		if len(pts) > 0 && !in.deliver(ctx, len(pts), write) {
			return
		}
		clear(msgs) // their points and payloads
		for i := range batch {
			batch[i].msg.Ack()
			batch[i] = delivery{}
			<-q.slots
		}
	}
}

// decode appends the points of d to pts, or counts why it has none.
func (in *Input) decode(pts []uns.Point, d delivery) []uns.Point {
	topic := d.msg.Topic()
	for i := range in.subs {
		s := &in.subs[i]
		if !matchTopic(s.match, topic) {
			continue
		}
		path, err := s.path.apply(topic)
		if err != nil {
			in.status.Reject(uns.ReasonInvalidPath, err.Error())
			return pts
		}
		out, err := uns.Decode(pts, path, d.msg.Payload(), d.recv)
		if err != nil {
			reason := uns.ReasonOf(err)
			if reason == "" {
				reason = uns.ReasonNotJSON
			}
			in.status.Reject(reason, fmt.Sprintf("topic %.128q: %v", topic, err))
			return pts
		}
		return out
	}
	in.status.Reject(ReasonUnmatched, fmt.Sprintf("topic %.128q matches no subscription", topic))
	return pts
}

// messages appends to msgs the messages of batch that have points (pts,
// batch[i]'s ending at ends[i]), with their identity if the broker may
// deliver them again.
func (in *Input) messages(msgs []connector.Message, batch []delivery, pts []uns.Point, ends []int) []connector.Message {
	from := 0
	for i, d := range batch {
		if ends[i] == from {
			continue
		}
		m := connector.Message{Received: d.recv, Points: pts[from:ends[i]:ends[i]]}
		if d.msg.Qos() > 0 {
			m.Session, m.Packet, m.Topic, m.Payload = in.session, d.msg.MessageID(), d.msg.Topic(), d.msg.Payload()
		}
		msgs = append(msgs, m)
		from = ends[i]
	}
	return msgs
}

// deliver calls write (of n points) until it succeeds (true) or ctx ends
// (false), with back-off; the retries write the same points.
func (in *Input) deliver(ctx context.Context, n int, write func() (written int, err error)) bool {
	var written int
	if !in.status.Deliver(ctx, "points", n, in.cfg.BackoffMin, in.cfg.BackoffMax, func() (err error) {
		written, err = write()
		return err
	}) {
		return false
	}
	in.status.AddPoints(int64(written))
	return true
}
