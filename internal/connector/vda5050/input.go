package vda5050

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

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

// disconnectQuiesce is how long closing waits for the DISCONNECT packet
// to be written.
const disconnectQuiesce = 250 // ms

// Input reads the VDA 5050 topics of one broker.
type Input struct {
	cfg      Config
	filters  map[string]byte // topic filter → QoS
	dec      *decoder        // used by the writer goroutine only
	tls      *tls.Config
	clientID string
	peer     string
	log      *slog.Logger
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
	return &Input{
		cfg:      *cfg,
		filters:  cc.filters,
		dec:      newDecoder(cfg, cc),
		tls:      tc,
		clientID: id,
		peer:     peer,
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

// delivery is a message received and not yet acknowledged.
type delivery struct {
	msg  paho.Message
	recv int64 // unix ns; stamps messages without a timestamp
}

// Run subscribes and delivers until ctx ends.
//
// Messages go from the client's receive goroutine to one writer goroutine
// through a queue bounded by max_inflight. The writer decodes what the queue
// holds, writes it to sink in one batch and only then acknowledges the
// messages to the broker, in the order received (as MQTT 3.1.1 requires): a
// QoS 1 message is acknowledged once it is durable at the edge. If sink is
// also an EventSink, the batch's events are written after its points and
// before the acknowledgement. A refused write is retried with the same
// points (or events) with back-off, without
// acknowledging; if Run ends meanwhile, the broker redelivers the messages
// to the next session. A payload that does not decode is counted, not
// written, and acknowledged, as it never will decode.
//
// While max_inflight messages are unacknowledged the receive goroutine
// waits for a QoS 1 message (the broker holds the rest) and drops a
// QoS 0 message, counted in Status.Dropped.
//
// A lost connection is made anew with back-off; a connection counts once the
// broker has accepted the CONNECT and every SUBSCRIBE (the probe).
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("vda5050: Run called twice")
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

	connector.Reconnect(ctx, in.status, "broker", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, q) })
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

// session connects, subscribes and waits until the connection is lost or
// ctx ends. connected reports whether the subscriptions were accepted.
func (in *Input) session(ctx context.Context, q *queue) (connected bool, err error) {
	lost := make(chan error, 1)
	opts := in.cfg.ClientOptions(in.clientID, in.tls, func(m paho.Message) { in.receive(q, m) }, lost)
	cl := paho.NewClient(opts)
	defer cl.Disconnect(disconnectQuiesce)

	tok := cl.Connect()
	if err := mqtt.Wait(ctx, tok, 2*in.cfg.ConnectTimeout); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	if err := in.cfg.Subscribe(ctx, cl, in.filters); err != nil {
		return false, err
	}
	in.status.Connected("subscriptions", len(in.filters))
	select {
	case err := <-lost:
		if err == nil {
			err = errors.New("connection closed")
		}
		return true, fmt.Errorf("connection lost: %w", err)
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// receive is the client's message handler: it takes an in-flight slot and
// queues m for the writer.
func (in *Input) receive(q *queue, m paho.Message) {
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
		}
	}
	q.ch <- delivery{msg: m, recv: recv}
}

// write is the writer goroutine: it takes what the queue holds, decodes
// it, writes it to sink and acknowledges it, until ctx ends.
func (in *Input) write(ctx context.Context, sink connector.Sink, q *queue) {
	es, _ := sink.(EventSink)
	in.dec.events = es != nil
	batch := make([]delivery, 0, cap(q.ch))
	var (
		pts []uns.Point
		evs []uns.Event
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
		pts, evs = pts[:0], evs[:0]
		for _, d := range batch {
			pts, evs = in.decode(pts, evs, d)
		}
		if len(pts) > 0 && !in.deliver(ctx, "points", len(pts), func() error { return sink.Write(ctx, pts) }) {
			return
		}
		in.status.AddPoints(int64(len(pts)))
		// Events after their points: a refused event write is retried
		// alone, without writing the points again.
		if len(evs) > 0 && !in.deliver(ctx, "events", len(evs), func() error { return es.WriteEvents(ctx, evs) }) {
			return
		}
		for i := range batch {
			batch[i].msg.Ack()
			batch[i] = delivery{}
			<-q.slots
		}
		clear(evs) // their attribute maps
	}
}

// decode appends the points and events of d, or counts why it has none.
func (in *Input) decode(pts []uns.Point, evs []uns.Event, d delivery) ([]uns.Point, []uns.Event) {
	pts, evs, err := in.dec.decode(pts, evs, d.msg.Topic(), d.msg.Payload(), d.recv)
	if err != nil {
		reason := uns.ReasonOf(err)
		if reason == "" {
			reason = uns.ReasonNotJSON
		}
		in.status.Reject(reason, fmt.Sprintf("topic %.128q: %v", d.msg.Topic(), err))
	}
	return pts, evs
}

// deliver calls write (of n points or events) until it succeeds (true) or
// ctx ends (false), with back-off. The retries write the same values.
func (in *Input) deliver(ctx context.Context, what string, n int, write func() error) bool {
	return in.status.Deliver(ctx, what, n, in.cfg.BackoffMin, in.cfg.BackoffMax, write)
}
