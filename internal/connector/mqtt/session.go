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

// disconnectQuiesce is how long closing waits for the DISCONNECT packet
// (and a presence message before it) to be written.
const disconnectQuiesce = 250 * time.Millisecond

// ErrNotConnected is Session.Publish's error while no connection can
// publish: between connections, or before one's subscriptions are
// accepted.
var ErrNotConnected = errors.New("mqtt: not connected")

// Filter is a topic filter the session subscribes to and the maximum QoS
// it asks for.
type Filter struct {
	Topic string
	QoS   byte
}

// Publication is a message the session publishes.
type Publication struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// SessionConfig is what a Session connects with. The MQTT-based inputs
// (mqtt, sparkplug, vda5050) make one from their config.
type SessionConfig struct {
	Broker   Broker
	Version  int // 3 (MQTT 3.1.1) or 5
	ClientID string
	TLS      *tls.Config // from Broker.TLS; nil for plain TCP
	Filters  []Filter
	// Status is the input's tracker: the session records its connections,
	// losses and dropped QoS 0 messages in it.
	Status *connector.Tracker
	// Attrs are logged with each connection ("subscriptions", 3).
	Attrs []any
	// Presence, if set, makes each connection announce itself with two
	// messages made from the connection's start: offline is its will (the
	// broker publishes it when the connection is lost) and is published
	// before a clean DISCONNECT, which suppresses the will; online is
	// published, and must be acknowledged, once the subscriptions are
	// accepted, before the connection counts. (A Sparkplug host's STATE.)
	Presence func(start time.Time) (online, offline Publication)
	// Tick, if > 0, calls the handler at this interval with Batch.Tick
	// set, for state that expires (Sparkplug's seq gaps).
	Tick time.Duration
}

// Session is an input's session on an MQTT broker: it connects (MQTT 3.1.1
// with eclipse/paho.mqtt.golang or MQTT 5 with eclipse/paho.golang, over
// TCP or TLS, with the credentials of the Broker), subscribes, queues what
// it receives in one bounded queue, hands it to the input's handler on one
// writer goroutine and acknowledges it only after the handler stored it, in
// the order received; it reconnects with back-off when the broker goes
// away. The inputs keep only their decoding and their protocol's behaviour.
type Session struct {
	cfg  SessionConfig
	id   string // connector.Message.Session of its messages
	peer string
	log  *slog.Logger
	ran  atomic.Bool

	mu  sync.Mutex // guards pub
	pub client     // the connection once it can publish; nil otherwise
}

// client is one connection, MQTT 3.1.1 or 5.
type client interface {
	// publish publishes p: a QoS 0 message once it is handed to the
	// client, a QoS 1 or 2 message once the broker acknowledged it. If ctx
	// ends first it still lets the attempt finish within limit.
	publish(ctx context.Context, p Publication, limit time.Duration) error
}

// NewSession returns a session for cfg, whose Broker has been checked.
// log carries the input's identity (peer, client id).
func NewSession(cfg SessionConfig, log *slog.Logger) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	peer := cfg.Broker.Peer()
	return &Session{cfg: cfg, id: peer + "\x00" + cfg.ClientID, peer: peer, log: log}
}

// Received is a message the session received and has not yet
// acknowledged.
type Received struct {
	Topic   string
	Payload []byte
	QoS     byte
	// Packet is the packet id of a QoS 1 or 2 message: the broker delivers
	// a message it has not seen acknowledged again, to the next connection
	// of the same session, with the same one.
	Packet uint16
	// Time (unix ns) is when the message arrived: the time of values that
	// carry none.
	Time int64

	msg message
}

// Batch is what the writer hands the handler: the messages received since
// the last batch, in order, or one of the session's events.
type Batch struct {
	Messages []Received
	// Lost is when a connection ended (unix ns), if one ended since the
	// last batch: the values of the peer are no longer current.
	Lost int64
	// Ready says a connection began that can publish (Session.Publish).
	Ready bool
	// Tick is the time of a tick (SessionConfig.Tick); zero otherwise.
	Tick time.Time
}

// Handler stores a batch: it decodes b.Messages and writes what they hold
// to the edge's sink, retrying a refused write (connector.Tracker.Deliver).
// It returns false only if ctx ended before the batch was stored: then its
// messages are not acknowledged and the broker delivers them again to the
// next session. A message it cannot use it counts and skips: it is
// acknowledged, as it never will decode. It runs on one goroutine, one
// batch after the other.
type Handler func(ctx context.Context, b *Batch) bool

// Message returns r as a connector.Message with the points pts, carrying
// the identity a connector.MessageSink recognises a redelivery by if the
// broker may deliver r again (QoS 1 and 2).
func (s *Session) Message(r Received, pts []uns.Point) connector.Message {
	m := connector.Message{Received: r.Time, Points: pts}
	if r.QoS > 0 {
		m.Session, m.Packet, m.Topic, m.Payload = s.id, r.Packet, r.Topic, r.Payload
	}
	return m
}

// Run connects, subscribes and hands what arrives to handle until ctx
// ends.
//
// Messages go from the client's receive goroutine to one writer goroutine
// through a queue bounded by max_inflight. The writer hands what the queue
// holds to handle as one batch and only then acknowledges the messages to
// the broker, in the order received (as MQTT 3.1.1 requires): a QoS 1 or 2
// message is acknowledged once it is durable at the edge. If Run ends before
// handle stored a batch, its messages are not acknowledged and the broker
// delivers them again to the next session of the same client id.
//
// While max_inflight messages are unacknowledged the receive goroutine
// waits (the socket is not read and the broker holds the rest), whatever
// the message's QoS.
// With MQTT 5 the CONNECT carries max_inflight as the receive maximum, so
// the broker itself holds back QoS 1 and 2 messages beyond it.
//
// A lost connection is made anew with back-off (connector.Reconnect); a
// connection counts once the broker has accepted the CONNECT and every
// SUBSCRIBE (the probe) and the presence is published.
func (s *Session) Run(ctx context.Context, handle Handler) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("mqtt: session run twice")
	}
	n := s.cfg.Broker.MaxInflight
	q := &queue{
		ch:    make(chan Received, n),
		slots: make(chan struct{}, n),
		lost:  make(chan int64, 1),
		ready: make(chan struct{}, 1),
		done:  ctx.Done(),
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.write(wctx, handle, q) })
	defer wg.Wait()
	defer cancel()

	// Only the client differs between the versions: both connections hand
	// their messages to receive and the same writer.
	connect := s.connect3
	if s.cfg.Version == 5 {
		connect = s.connect5
	}
	connector.Reconnect(ctx, s.cfg.Status, "broker", s.cfg.Broker.BackoffMin, s.cfg.Broker.BackoffMax,
		func(ctx context.Context) (bool, error) {
			connected, err := connect(ctx, q)
			if connected && ctx.Err() == nil {
				select {
				case q.lost <- time.Now().UnixNano():
				default: // the writer has not yet taken the previous loss
				}
			}
			return connected, err
		})
	return nil
}

// Connected reports whether a connection can publish now.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub != nil
}

// Publish publishes p on the current connection: a QoS 0 message once it
// is handed to the client, a QoS 1 or 2 message once the broker
// acknowledged it (within connect_timeout). Without a connection that can
// publish it returns ErrNotConnected.
func (s *Session) Publish(ctx context.Context, p Publication) error {
	s.mu.Lock()
	cl := s.pub
	s.mu.Unlock()
	if cl == nil {
		return ErrNotConnected
	}
	return cl.publish(ctx, p, s.cfg.Broker.ConnectTimeout)
}

// online finishes a connection whose subscriptions the broker accepted:
// it publishes the presence, lets Publish use cl, tells the writer and
// counts the connection. The returned function undoes it, publishing the
// offline presence first if ctx ended (a clean stop).
func (s *Session) online(ctx context.Context, cl client, start time.Time, q *queue, attrs ...any) (func(), error) {
	var offline *Publication
	if s.cfg.Presence != nil {
		on, off := s.cfg.Presence(start)
		if err := cl.publish(ctx, on, s.cfg.Broker.ConnectTimeout); err != nil {
			return nil, fmt.Errorf("publish %s: %w", on.Topic, err)
		}
		offline = &off
	}
	s.setPub(cl)
	select {
	case q.ready <- struct{}{}:
	default: // the writer has not yet taken the previous signal
	}
	s.cfg.Status.Connected(append(append([]any(nil), s.cfg.Attrs...), attrs...)...)
	return func() {
		s.setPub(nil)
		if offline != nil && ctx.Err() != nil {
			// Best effort: if it does not get through, the will says it.
			_ = cl.publish(ctx, *offline, disconnectQuiesce)
		}
	}, nil
}

func (s *Session) setPub(cl client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub = cl
}

// message is a received message, whichever client (MQTT 3.1.1 or 5)
// received it. paho.mqtt.golang's Message is one.
type message interface {
	Topic() string
	Payload() []byte
	Qos() byte
	MessageID() uint16
	// Ack acknowledges the message to the broker, in the order received
	// (the client holds back an acknowledgement until those of the
	// messages before it are made). It does nothing for QoS 0, nor once
	// the connection that received the message is gone: the broker then
	// delivers the message again to the next session.
	Ack()
}

// queue carries messages from the client to the writer. slots holds one
// token per message received and not yet acknowledged (or dropped as
// undeliverable), so ch never holds more than its capacity. lost carries
// the time a connection ended and ready that one can publish, for the
// handler.
type queue struct {
	ch    chan Received
	slots chan struct{}
	lost  chan int64
	ready chan struct{}
	done  <-chan struct{} // Run's context
}

// receive is the client's message handler: it takes an in-flight slot and
// queues m for the writer. gone is closed when the connection that received
// m ends, so that a handler waiting for a slot does not hold up its end.
//
// A message of any QoS waits for a slot: the client then reads no further,
// and TCP holds the broker back. QoS 0 was once dropped here instead (it
// has no acknowledgement to hold the broker back with), which lost messages
// whenever the writer's batch took longer than max_inflight messages
// take to arrive: at 50,000 messages/s from Mosquitto, most of them
// (docs/benchmarks.md).
func (s *Session) receive(q *queue, gone <-chan struct{}, m message) {
	recv := time.Now().UnixNano()
	select {
	case q.slots <- struct{}{}:
	case <-q.done:
		s.undelivered(m) // QoS 1 and 2 are not acknowledged: the broker redelivers them next session
		return
	case <-gone:
		s.undelivered(m) // likewise
		return
	}
	q.ch <- Received{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Packet: m.MessageID(), Time: recv, msg: m}
}

// undelivered counts m in Status.Dropped if it is lost: a QoS 0 message
// that waited for a slot until its connection or the session ended (which
// happens when the edge's log refuses data for longer than the keep-alive).
// A QoS 1 or 2 message comes again.
func (s *Session) undelivered(m message) {
	if m.Qos() == 0 {
		s.cfg.Status.AddDropped(1)
	}
}

// write is the writer goroutine: it hands what the queue holds to handle
// and acknowledges it, until ctx ends.
func (s *Session) write(ctx context.Context, handle Handler, q *queue) {
	var tick <-chan time.Time
	if s.cfg.Tick > 0 {
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		tick = t.C
	}
	b := &Batch{Messages: make([]Received, 0, cap(q.ch))}
	for {
		*b = Batch{Messages: b.Messages[:0]}
		select {
		case r := <-q.ch:
			b.Messages = append(b.Messages, r)
		case b.Lost = <-q.lost:
		case <-q.ready:
			b.Ready = true
		case b.Tick = <-tick:
		case <-ctx.Done():
			return
		}
	more:
		for len(b.Messages) > 0 && len(b.Messages) < cap(b.Messages) {
			select {
			case r := <-q.ch:
				b.Messages = append(b.Messages, r)
			default:
				break more
			}
		}
		if !handle(ctx, b) {
			return
		}
		for i := range b.Messages {
			b.Messages[i].msg.Ack()
			<-q.slots
		}
		clear(b.Messages) // their payloads
	}
}
