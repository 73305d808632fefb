package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/uns"
)

// Defaults of Config.
const (
	DefaultRate        = 1.0
	DefaultClientID    = "molen-sim"
	DefaultMaxInflight = 1000
	MaxRate            = 10000
)

// DrainTimeout bounds how long Run waits, once its context ends, for the
// broker to acknowledge the messages still in flight.
const DrainTimeout = 10 * time.Second

// retryInterval is the pause between connection attempts, and the cap of
// paho's reconnect back-off: short, so that the sim follows an edge restart.
const retryInterval = time.Second

// ErrUnacknowledged is wrapped by Run's error when messages were still
// unacknowledged after DrainTimeout; they are lost.
var ErrUnacknowledged = errors.New("messages not acknowledged by the broker")

// Config configures a Sim.
type Config struct {
	Broker      string  // MQTT broker address "host:port" (TCP)
	Seed        int64   // seed of the factory model
	Rate        float64 // ticks per second per machine; default DefaultRate
	Site        string  // site segment of the UNS paths; default DefaultSite
	ClientID    string  // prefix of the MQTT client ids ("<prefix>-<machine>"); default DefaultClientID
	MaxInflight int     // unacknowledged messages per machine before its ticks wait; default DefaultMaxInflight
	// Machines names the line's machines to publish ("cnc-mill", …); empty
	// means all of them. Leave out those a Server serves over another
	// protocol (ServeConfig.MQTTMachines).
	Machines []string
	// Printer adds the 3D printer (<site>/hall-a/print-shop/printer-1).
	Printer bool
	Log     *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Site == "" {
		c.Site = DefaultSite
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks c after defaults are applied; the error names every bad field.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Broker); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("broker: %q is not host:port", c.Broker))
	}
	if !(c.Rate > 0 && c.Rate <= MaxRate) {
		errs = append(errs, fmt.Errorf("rate: must be in (0, %d] ticks per second, got %v", MaxRate, c.Rate))
	}
	if err := uns.ValidatePath(c.Site + "/x"); err != nil || strings.Contains(c.Site, "/") {
		errs = append(errs, fmt.Errorf("site: %q is not one UNS path segment (A-Z a-z 0-9 _ - .)", c.Site))
	}
	if strings.ContainsAny(c.ClientID, "#+/ ") || len(c.ClientID) > 64 {
		errs = append(errs, fmt.Errorf("client_id: %q must be at most 64 characters without '#', '+', '/' or spaces", c.ClientID))
	}
	for i, name := range c.Machines {
		if k := kindNamed(name); k == nil || k == &robotCell {
			errs = append(errs, fmt.Errorf("machines[%d]: %q is not a machine of the line (%s)", i, name, strings.Join(lineMachines(), ", ")))
		}
	}
	// Paho has 65535 message ids per client; keep clear of them.
	if c.MaxInflight < 1 || c.MaxInflight > 60000 {
		errs = append(errs, fmt.Errorf("max_inflight: must be 1..60000, got %d", c.MaxInflight))
	}
	return errors.Join(errs...)
}

// Sim runs the simulated factory against an MQTT broker: one client per
// machine, like real devices, publishing every tick with QoS 1.
type Sim struct {
	cfg      Config
	interval time.Duration
	// drainTimeout is DrainTimeout and retry is retryInterval; tests
	// shorten them, so that a broker that never acknowledges, or one
	// that comes back, costs them little time.
	drainTimeout time.Duration
	retry        time.Duration
	links        []*link
	started      atomic.Bool
}

// New returns a Sim for cfg, with defaults applied.
func New(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim config: %w", err)
	}
	s := &Sim{cfg: cfg, interval: interval(cfg.Rate), drainTimeout: DrainTimeout, retry: retryInterval}
	for _, m := range newFactory(cfg.Seed, cfg.Site).machines {
		if len(cfg.Machines) == 0 || slices.Contains(cfg.Machines, m.kind.name) {
			s.links = append(s.links, newLink(m, cfg.MaxInflight))
		}
	}
	if cfg.Printer {
		s.links = append(s.links, newLink(NewPrinter(cfg.Seed, cfg.Site), cfg.MaxInflight))
	}
	return s, nil
}

// Machines returns the asset paths of the simulated machines.
func (s *Sim) Machines() []string {
	out := make([]string, len(s.links))
	for i, l := range s.links {
		out[i] = l.m.path()
	}
	return out
}

// Run connects every machine and publishes until ctx ends; then it waits up
// to DrainTimeout for outstanding acknowledgements and disconnects. It
// returns nil after a clean stop, and an error wrapping ErrUnacknowledged for
// each machine that was left with unacknowledged messages. Run may be called
// once.
func (s *Sim) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("sim: Run called twice")
	}
	// Machines fail only by being left unacknowledged at the stop, so one
	// machine's error does not stop the others; all errors are reported.
	errs := make([]error, len(s.links))
	var wg sync.WaitGroup
	for i, l := range s.links {
		wg.Go(func() { errs[i] = s.runMachine(ctx, l) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Acked returns, per machine asset path, the highest seq up to which every
// tick was wholly acknowledged (PUBACK) by the broker.
func (s *Sim) Acked() map[string]uint64 {
	out := make(map[string]uint64, len(s.links))
	for _, l := range s.links {
		out[l.m.path()], _ = l.counts()
	}
	return out
}

// AckedTime returns, per machine asset path, the time stamped on the last
// tick that Acked counts (the zero time if none): a test that finds points
// of a tick whose seq it cannot see at the hub tells by their time whether
// they belong to an acknowledged tick or to one the simulator was still
// publishing when it stopped.
func (s *Sim) AckedTime() map[string]time.Time {
	out := make(map[string]time.Time, len(s.links))
	for _, l := range s.links {
		l.mu.Lock()
		if l.acked > 0 {
			out[l.m.path()] = time.UnixMilli(l.ackedMS)
		}
		l.mu.Unlock()
	}
	return out
}

// Published returns, per machine asset path, the highest seq whose tick was
// wholly handed to the MQTT client.
func (s *Sim) Published() map[string]uint64 {
	out := make(map[string]uint64, len(s.links))
	for _, l := range s.links {
		_, out[l.m.path()] = l.counts()
	}
	return out
}

func (s *Sim) runMachine(ctx context.Context, l *link) error {
	log := s.cfg.Log.With("machine", l.m.path())
	client := mqtt.NewClient(s.clientOptions(l, log))
	// With ConnectRetry the connect token completes only once connected;
	// publishes before that are stored and sent on connection, so there is
	// nothing to wait for here.
	client.Connect()

	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	var msgs []Message
	for {
		select {
		case <-ctx.Done():
			return s.stop(l, client, log)
		case now := <-tick.C:
			msgs = l.m.tick(msgs[:0], now)
			for _, msg := range msgs {
				if err := l.publish(ctx, client, msg); err != nil {
					return s.stop(l, client, log) // ctx ended while the tick waited for room
				}
			}
			l.handedOver(l.m.lastSeq(), now.UnixMilli())
		}
	}
}

// stop waits, bounded, for outstanding acknowledgements, then disconnects.
func (s *Sim) stop(l *link, client mqtt.Client, log *slog.Logger) error {
	n := l.drain(s.drainTimeout)
	client.Disconnect(250)
	if n > 0 {
		return fmt.Errorf("stop %s: %d %w within %v", l.m.path(), n, ErrUnacknowledged, s.drainTimeout)
	}
	acked, published := l.counts()
	log.Info("sim machine stopped", "published", published, "acked", acked)
	return nil
}

// clientOptions configures paho for at-least-once delivery across broker
// restarts: a persistent session (CleanSession false) keeps unacknowledged
// publishes in the client's store, and every (re)connect resends them.
func (s *Sim) clientOptions(l *link, log *slog.Logger) *mqtt.ClientOptions {
	var failing atomic.Bool // a connection attempt failed since the last connect: log the outage once
	return mqtt.NewClientOptions().
		AddBroker("tcp://" + s.cfg.Broker).
		SetClientID(s.cfg.ClientID + "-" + l.m.clientName()).
		SetCleanSession(false).
		SetStore(l.store()).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(s.retry).
		SetMaxReconnectInterval(s.retry).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetKeepAlive(10 * time.Second).
		SetPingTimeout(5 * time.Second).
		SetResumeSubs(false).
		SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
			switch n := n.(type) {
			case mqtt.ConnectionNotificationConnected:
				failing.Store(false)
				log.Info("sim connected", "broker", s.cfg.Broker)
			case mqtt.ConnectionNotificationLost:
				log.Warn("sim connection lost; reconnecting", "broker", s.cfg.Broker, "err", n.Reason)
			case mqtt.ConnectionNotificationBrokerFailed:
				if !failing.Swap(true) {
					log.Warn("sim cannot connect; retrying", "broker", s.cfg.Broker, "every", s.retry, "err", n.Reason)
				}
			}
		})
}

// notConnectedPause is how long publish waits before retrying a publish
// that paho refused without storing it.
const notConnectedPause = 50 * time.Millisecond

// publish hands msg to the client with QoS 1, first waiting for room under
// the in-flight bound. It returns an error only when ctx ends.
func (l *link) publish(ctx context.Context, client mqtt.Client, msg Message) error {
	if err := l.reserve(ctx, msg); err != nil {
		return err
	}
	for {
		tok := client.Publish(msg.Topic, 1, false, msg.Payload)
		select {
		case <-tok.Done():
			// Only ErrNotConnected means paho did not store the message
			// (before Connect or after Disconnect). Any other early error,
			// such as "publish was broken by timeout", comes after paho
			// stored it: it is resent on reconnect, so publishing it again
			// would only duplicate it.
			if errors.Is(tok.Error(), mqtt.ErrNotConnected) {
				select {
				case <-ctx.Done():
					l.forget(msg)
					return ctx.Err()
				case <-time.After(notConnectedPause):
					continue
				}
			}
		default:
		}
		return nil
	}
}

// interval returns the wall-clock time between two ticks at rate.
func interval(rate float64) time.Duration {
	return time.Duration(math.Round(float64(time.Second) / rate))
}
