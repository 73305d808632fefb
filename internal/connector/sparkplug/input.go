package sparkplug

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

// disconnectQuiesce is how long closing waits for the DISCONNECT (ms).
const disconnectQuiesce = 250

// Input is a Sparkplug B host application on one broker.
type Input struct {
	cfg      Config
	groups   []group
	rebirth  bool
	tls      *tls.Config
	clientID string
	peer     string
	log      *slog.Logger
	ran      atomic.Bool

	clMu sync.Mutex  // guards cl
	cl   paho.Client // the connected client; nil between sessions

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
	return &Input{
		cfg:      *cfg,
		groups:   groups,
		rebirth:  cfg.Rebirth == nil || *cfg.Rebirth,
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

// Stats reports the Sparkplug counters.
func (in *Input) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

// delivery is a message received and not yet acknowledged.
type delivery struct {
	msg  paho.Message
	recv int64 // unix ns
}

// queue carries messages from the client to the writer; slots holds one
// token per message received and not yet acknowledged. lost carries the
// time a session ended, for the writer to mark every series stale; ready
// tells it that the client can publish, for the rebirth requests it holds.
type queue struct {
	ch    chan delivery
	slots chan struct{}
	lost  chan int64
	ready chan struct{}
	done  <-chan struct{}
}

// Run subscribes and delivers until ctx ends. It works as the mqtt input
// does (one writer goroutine, acknowledgement after the sink's Write, in
// the order received; reconnection with back-off), with a Sparkplug host's
// state in the writer: see the package documentation.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("sparkplug: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)

	q := &queue{
		ch:    make(chan delivery, in.cfg.MaxInflight),
		slots: make(chan struct{}, in.cfg.MaxInflight),
		lost:  make(chan int64, 1),
		ready: make(chan struct{}, 1),
		done:  ctx.Done(),
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { in.write(wctx, sink, q) })
	defer wg.Wait()
	defer cancel()

	connector.Reconnect(ctx, in.status, "broker", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) {
			connected, err := in.session(ctx, q)
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

// stateTopic is the topic of a primary host's STATE (Sparkplug 3.0).
func stateTopic(hostID string) string { return Namespace + "/STATE/" + hostID }

func statePayload(online bool, at time.Time) string {
	return fmt.Sprintf(`{"online":%t,"timestamp":%d}`, online, at.UnixMilli())
}

// session connects, subscribes and waits until the connection is lost or
// ctx ends. connected reports whether the subscriptions were accepted.
func (in *Input) session(ctx context.Context, q *queue) (connected bool, err error) {
	lost := make(chan error, 1)
	opts := in.cfg.ClientOptions(in.clientID, in.tls, func(m paho.Message) { in.receive(q, m) }, lost)
	start := time.Now()
	if in.cfg.HostID != "" {
		opts.SetWill(stateTopic(in.cfg.HostID), statePayload(false, start), 1, true)
	}
	cl := paho.NewClient(opts)
	defer cl.Disconnect(disconnectQuiesce)

	if err := mqtt.Wait(ctx, cl.Connect(), 2*in.cfg.ConnectTimeout); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	filters := make(map[string]byte, len(in.groups))
	for _, g := range in.groups {
		filters[g.filter] = g.qos
	}
	if err := in.cfg.Subscribe(ctx, cl, filters); err != nil {
		return false, err
	}
	if in.cfg.HostID != "" {
		// The will's timestamp and this one are the same, as Sparkplug
		// 3.0 wants of a host's STATE birth and death.
		tok := cl.Publish(stateTopic(in.cfg.HostID), 1, true, statePayload(true, start))
		if err := mqtt.Wait(ctx, tok, in.cfg.ConnectTimeout); err != nil {
			return false, fmt.Errorf("publish STATE: %w", err)
		}
	}
	// Only now can the input publish (rebirth requests), although a
	// persistent session delivers what the broker queued right after the
	// CONNACK: the writer holds the requests that data made until this.
	in.setClient(cl)
	defer in.setClient(nil)
	select {
	case q.ready <- struct{}{}:
	default: // the writer has not yet taken the previous signal
	}
	in.status.Connected("groups", len(filters))
	select {
	case err := <-lost:
		if err == nil {
			err = errors.New("connection closed")
		}
		return true, fmt.Errorf("connection lost: %w", err)
	case <-ctx.Done():
		if in.cfg.HostID != "" {
			// A clean DISCONNECT suppresses the will: say offline first.
			tok := cl.Publish(stateTopic(in.cfg.HostID), 1, true, statePayload(false, start))
			tok.WaitTimeout(disconnectQuiesce * time.Millisecond)
		}
		return true, ctx.Err()
	}
}

func (in *Input) setClient(cl paho.Client) {
	in.clMu.Lock()
	defer in.clMu.Unlock()
	in.cl = cl
}

// receive is the client's message handler: it takes an in-flight slot and
// queues m for the writer.
func (in *Input) receive(q *queue, m paho.Message) {
	recv := time.Now().UnixNano()
	if m.Qos() == 0 {
		select {
		case q.slots <- struct{}{}:
		default:
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

// tick is how often the writer looks for expired seq gaps.
func (in *Input) tick() time.Duration {
	return min(max(in.cfg.ReorderTimeout/4, time.Millisecond), 250*time.Millisecond)
}

// write is the writer goroutine: it owns the host state; it decodes what
// the queue holds, writes it to sink and acknowledges it, until ctx ends.
func (in *Input) write(ctx context.Context, sink connector.Sink, q *queue) {
	h := newHost(in.groups, in.cfg.ReorderTimeout, in.rebirth)
	h.reject = in.status.Reject
	h.lost = func(n int, msg string) {
		in.status.AddDropped(int64(n))
		in.status.SetError(msg)
		in.mu.Lock()
		in.stats.SeqGaps++
		in.mu.Unlock()
	}
	ticker := time.NewTicker(in.tick())
	defer ticker.Stop()
	batch := make([]delivery, 0, cap(q.ch))
	var pts []uns.Point
	for {
		batch, pts = batch[:0], pts[:0]
		select {
		case d := <-q.ch:
			batch = append(batch, d)
		case ts := <-q.lost:
			pts = h.staleAll(pts, ts)
		case now := <-ticker.C:
			h.expire(now.UnixNano())
		case <-q.ready:
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) > 0 && len(batch) < cap(batch) {
			select {
			case d := <-q.ch:
				batch = append(batch, d)
			default:
				break more
			}
		}
		for _, d := range batch {
			pts = h.handle(pts, d.msg.Topic(), d.msg.Payload(), d.recv)
		}
		stale := 0
		for _, p := range pts {
			if p.Quality == uns.Bad {
				stale++
			}
		}
		in.askRebirths(h)
		if len(pts) > 0 && !in.deliver(ctx, sink, pts) {
			return
		}
		if stale > 0 {
			in.mu.Lock()
			in.stats.StaleMarks += int64(stale)
			in.mu.Unlock()
		}
		for i := range batch {
			batch[i].msg.Ack()
			batch[i] = delivery{}
			<-q.slots
		}
	}
}

// askRebirths publishes the rebirth requests h queued (QoS 0, as
// Sparkplug sends commands). Without a connection that can publish (between
// sessions, or before the session's subscriptions are confirmed, while a
// persistent session already delivers) h keeps them until there is one.
func (in *Input) askRebirths(h *host) {
	if len(h.pending) == 0 {
		return
	}
	in.clMu.Lock()
	cl := in.cl
	in.clMu.Unlock()
	if cl == nil {
		return
	}
	now := time.Now()
	h.sendRebirths(now.UnixNano(), func(k nodeKey) {
		topic := Topic{Group: k.group, Type: NCMD, Node: k.node}.String()
		cl.Publish(topic, 0, false, RebirthRequest(now))
		in.mu.Lock()
		in.stats.RebirthRequests++
		in.mu.Unlock()
		in.log.Info("requested rebirth", "group", k.group, "edge_node", k.node)
	})
}

// deliver writes pts to sink, retrying the same points with back-off until
// the sink accepts them (true) or ctx ends (false).
func (in *Input) deliver(ctx context.Context, sink connector.Sink, pts []uns.Point) bool {
	if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
		func() error { return sink.Write(ctx, pts) }) {
		return false
	}
	in.status.AddPoints(int64(len(pts)))
	return true
}
