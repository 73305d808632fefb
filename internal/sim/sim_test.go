package sim

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	paho "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/molen-io/molen/internal/uns"
)

// recorder is a broker hook that lets every client in and records every
// publish the broker accepts. The broker calls OnPublish before it sends the
// PUBACK, so whatever the sim saw acknowledged has been recorded. (It allows
// all itself because mochi's auth.AllowHook package pulls in yaml.v3, which
// go.sum lacks.)
type recorder struct {
	mqtt.HookBase
	mu     sync.Mutex
	seqs   map[string]map[uint64]int // machine → seq → times received
	topics map[string]uint64         // topic → messages received
	errs   []string
	// While drop is set the broker discards every publish without a PUBACK,
	// as a broker that crashes before storing would.
	drop    bool
	dropped map[string]int // machine → publishes discarded
}

func (r *recorder) dropping(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop = on
}

func newRecorder() *recorder {
	return &recorder{seqs: map[string]map[uint64]int{}, topics: map[string]uint64{}, dropped: map[string]int{}}
}

// droppedBy returns, per machine, how many publishes the broker discarded.
func (r *recorder) droppedBy() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.dropped)
}

func (r *recorder) ID() string { return "recorder" }

func (r *recorder) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPublish
}

func (r *recorder) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (r *recorder) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func (r *recorder) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drop {
		r.dropped[uns.Asset(pk.TopicName)]++
		return pk, packets.ErrRejectPacket
	}
	r.topics[pk.TopicName]++
	if uns.Tag(pk.TopicName) != tagSeq {
		return pk, nil
	}
	pts, err := uns.Decode(nil, pk.TopicName, pk.Payload, 0)
	if err != nil || len(pts) != 1 || pts[0].Value.Kind() != uns.KindInt {
		r.errs = append(r.errs, pk.TopicName+": "+string(pk.Payload))
		return pk, nil
	}
	m := uns.Asset(pk.TopicName)
	if r.seqs[m] == nil {
		r.seqs[m] = map[uint64]int{}
	}
	r.seqs[m][uint64(pts[0].Value.Int())]++
	return pk, nil
}

// check reports every seq 1..acked[m] that the broker did not receive, and
// every tag topic with fewer messages than acknowledged ticks. It returns
// the number of duplicate seqs.
func (r *recorder) check(t *testing.T, acked, published map[string]uint64) (dups int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Errorf("broker got a bad seq payload: %s", e)
	}
	for m, n := range acked {
		got := r.seqs[m]
		var missing []uint64
		for seq := uint64(1); seq <= n; seq++ {
			switch c := got[seq]; {
			case c == 0:
				missing = append(missing, seq)
			case c > 1:
				dups += c - 1
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: acked up to seq %d, but the broker never got seqs %v", m, n, missing)
		}
		for seq := range got {
			if seq == 0 || seq > published[m] {
				t.Errorf("%s: broker got seq %d, but only %d were published", m, seq, published[m])
			}
		}
		for topic, c := range r.topics {
			if uns.Asset(topic) == m && c < n {
				t.Errorf("%s: %d messages for %d acknowledged ticks", topic, c, n)
			}
		}
	}
	return dups
}

// broker is an in-process mochi MQTT broker.
type broker struct {
	srv      *mqtt.Server
	listener *listeners.TCP
	addr     string
	once     sync.Once
}

// startBroker starts a broker on addr ("127.0.0.1:0" for any port) that
// reports to rec. It is closed at the end of the test, if not before.
func startBroker(t *testing.T, addr string, rec *recorder) *broker {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(rec, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: addr})
	if err := srv.AddListener(l); err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &broker{srv: srv, listener: l, addr: l.Address()}
	t.Cleanup(b.close)
	return b
}

// close stops the broker as a dying broker process goes: its listener and
// its connections at once. (mochi's Close drops the connections before it
// closes the listener, and leaves a connection it accepts in between
// unanswered: a client that reconnects at once would wait for a CONNACK
// until its connect timeout.)
func (b *broker) close() {
	b.once.Do(func() {
		b.listener.Close(func(string) {})
		for _, cl := range b.srv.Clients.GetAll() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
		_ = b.srv.Close()
	})
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// testLog writes the sim's log lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, nil))
}

// newSim returns a Sim for cfg, with the test's name as client id prefix
// and log, that retries a broker that is down every few milliseconds
// rather than every second.
func newSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	cfg.ClientID, cfg.Log = t.Name(), newLog(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.retry = 10 * time.Millisecond
	return s
}

// start runs s until stop is called, or the test ends; stop returns Run's
// error.
func start(t *testing.T, s *Sim) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = s.Run(ctx)
	}()
	stop = func() error {
		cancel()
		<-done
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// every reports whether ok holds for the count of every machine.
func every(counts map[string]uint64, ok func(m string, n uint64) bool) bool {
	for m, n := range counts {
		if !ok(m, n) {
			return false
		}
	}
	return true
}

// atLeast returns a condition for every: each machine's count is at least
// base's plus n.
func atLeast(base map[string]uint64, n uint64) func(string, uint64) bool {
	return func(m string, got uint64) bool { return got >= base[m]+n }
}

func TestRunDeliversEverySeq(t *testing.T) {
	rec := newRecorder()
	b := startBroker(t, "127.0.0.1:0", rec)
	s := newSim(t, Config{Broker: b.addr, Seed: 1, Rate: 100})
	stop := start(t, s)
	waitFor(t, "20 acknowledged ticks of every machine", func() bool { return every(s.Acked(), atLeast(nil, 20)) })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for _, m := range s.Machines() {
		if acked[m] != published[m] {
			t.Errorf("%s: acked %d, published %d: want all acknowledged after a clean stop", m, acked[m], published[m])
		}
	}
	// Without a reconnect nothing is resent, so nothing arrives twice.
	if dups := rec.check(t, acked, published); dups != 0 {
		t.Errorf("%d duplicate seqs without a reconnect", dups)
	}
	t.Logf("acked %v", acked)
}

func TestRunSurvivesBrokerRestart(t *testing.T) {
	rec := newRecorder()
	b := startBroker(t, "127.0.0.1:0", rec)
	s := newSim(t, Config{Broker: b.addr, Seed: 2, Rate: 50})
	stop := start(t, s)
	waitFor(t, "an acknowledged tick of every machine", func() bool { return every(s.Acked(), atLeast(nil, 1)) })

	// The broker stops acknowledging, then goes away: what it dropped and
	// what the sim publishes during the outage must reach the next broker.
	rec.dropping(true)
	waitFor(t, "the broker to drop a message of every machine", func() bool {
		dropped := rec.droppedBy()
		return !slices.ContainsFunc(s.Machines(), func(m string) bool { return dropped[m] == 0 })
	})
	b.close()
	rec.dropping(false)
	down := s.Published()
	waitFor(t, "3 ticks of every machine published while the broker is down", func() bool {
		return every(s.Published(), atLeast(down, 3))
	})
	outage := s.Published()
	startBroker(t, b.addr, rec)
	waitFor(t, "the new broker to acknowledge every tick of the outage", func() bool {
		return every(s.Acked(), atLeast(outage, 0))
	})

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for _, m := range s.Machines() {
		if acked[m] != published[m] {
			t.Errorf("%s: acked %d, published %d: want all acknowledged after a clean stop", m, acked[m], published[m])
		}
	}
	dups := rec.check(t, acked, published)
	t.Logf("first broker dropped %v unacknowledged; %v published while it was down; acked %v at the end; %d duplicate seqs",
		rec.droppedBy(), outage, acked, dups)
}

func TestRunBoundsInflightWhileBrokerDown(t *testing.T) {
	// The machines have 10 or 11 tags, so no whole number of ticks fills
	// the bound: a machine at the bound is in the middle of a tick, and has
	// handed over every tick before it.
	const maxInflight = 45
	addr := freeAddr(t)
	s := newSim(t, Config{Broker: addr, Seed: 3, Rate: 100, MaxInflight: maxInflight})
	for _, l := range s.links {
		if m := l.m.(*machine); maxInflight%len(m.topics) == 0 {
			t.Fatalf("%s has %d tags, a divisor of %d: choose another bound", m.asset, len(m.topics), maxInflight)
		}
	}
	stop := start(t, s)

	// With no broker, each machine publishes until maxInflight messages
	// are unacknowledged; then its ticks wait for room.
	waitFor(t, "every machine to reach its in-flight bound", func() bool {
		for _, l := range s.links {
			l.mu.Lock()
			n := len(l.inflight)
			l.mu.Unlock()
			if n < maxInflight {
				return false
			}
		}
		return true
	})
	stalled := s.Published()
	for _, l := range s.links {
		m := l.m.path()
		if got, want := stalled[m], uint64(maxInflight/len(l.m.(*machine).topics)); got != want {
			t.Errorf("%s: published %d ticks with the broker down, want the %d whose messages fit in %d", m, got, want, maxInflight)
		}
		if got := s.Acked()[m]; got != 0 {
			t.Errorf("%s: acked %d with no broker", m, got)
		}
	}

	rec := newRecorder()
	startBroker(t, addr, rec)
	waitFor(t, "every machine to resume: 10 ticks acknowledged beyond where it stalled", func() bool {
		return every(s.Acked(), atLeast(stalled, 10))
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for m, n := range acked {
		if n != published[m] {
			t.Errorf("%s: acked %d, published %d: want all acknowledged after a clean stop", m, n, published[m])
		}
	}
	if dups := rec.check(t, acked, published); dups != 0 {
		t.Errorf("%d duplicate seqs, want none: nothing reached a broker before it started", dups)
	}
}

func TestRunReportsUnacknowledged(t *testing.T) {
	s := newSim(t, Config{Broker: freeAddr(t), Rate: 100})
	// Without a broker nothing is ever acknowledged: any wait gives the
	// same answer (TestLinkDrain checks the wait itself).
	s.drainTimeout = time.Millisecond
	stop := start(t, s)
	waitFor(t, "a tick of every machine handed to the client", func() bool { return every(s.Published(), atLeast(nil, 1)) })
	err := stop()
	if !errors.Is(err, ErrUnacknowledged) {
		t.Fatalf("Run with no broker: got %v, want ErrUnacknowledged", err)
	}
	for _, m := range s.Machines() {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("Run's error does not name %s: %v", m, err)
		}
	}
	for m, n := range s.Acked() {
		if n != 0 {
			t.Errorf("%s: acked %d with no broker", m, n)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"defaults", Config{Broker: "localhost:1884"}, ""},
		{"no broker", Config{}, "broker:"},
		{"broker without port", Config{Broker: "localhost"}, "broker:"},
		{"negative rate", Config{Broker: "h:1", Rate: -1}, "rate:"},
		{"rate too high", Config{Broker: "h:1", Rate: 1e6}, "rate:"},
		{"site with slash", Config{Broker: "h:1", Site: "a/b"}, "site:"},
		{"site with space", Config{Broker: "h:1", Site: "my site"}, "site:"},
		{"client id wildcard", Config{Broker: "h:1", ClientID: "sim#"}, "client_id:"},
		{"negative inflight", Config{Broker: "h:1", MaxInflight: -1}, "max_inflight:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := s.cfg.Rate; got != DefaultRate {
					t.Errorf("rate %v, want default %v", got, DefaultRate)
				}
				if got := s.interval; got != time.Second {
					t.Errorf("interval %v, want 1s", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: got error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestLinkAcked(t *testing.T) {
	m := NewFactory(1).machines[0]
	l := newLink(m, 100)
	msgs := func(seq uint64) []Message {
		var out []Message
		for range 3 {
			out = append(out, Message{Payload: []byte("{}"), Seq: seq})
		}
		return out
	}
	t1, t2 := msgs(1), msgs(2)
	for _, msg := range append(t1, t2...) {
		if err := l.reserve(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	l.handedOver(1, 0)
	ack := func(msg Message) { l.acknowledged(&paho.PublishPacket{Payload: msg.Payload}) }

	steps := []struct {
		do             func()
		acked, pending uint64
	}{
		{func() { ack(t2[0]); ack(t2[1]); ack(t2[2]) }, 0, 3}, // tick 2 acked, tick 1 not: nothing counts
		{func() { ack(t1[0]); ack(t1[2]) }, 0, 1},
		{func() { ack(t1[2]) }, 0, 1}, // a duplicate acknowledgement changes nothing
		{func() { ack(t1[1]) }, 1, 0}, // tick 2 is acked but not yet handed over
		{func() { l.handedOver(2, 0) }, 2, 0},
	}
	for i, st := range steps {
		st.do()
		acked, _ := l.counts()
		l.mu.Lock()
		pending := uint64(len(l.inflight))
		l.mu.Unlock()
		if acked != st.acked || pending != st.pending {
			t.Errorf("step %d: acked %d, in flight %d; want %d, %d", i, acked, pending, st.acked, st.pending)
		}
	}
}

// TestLinkDrain checks how long a stopping machine waits for the broker's
// acknowledgements, in a bubble whose clock moves only when every goroutine
// waits.
func TestLinkDrain(t *testing.T) {
	const timeout = time.Minute
	msgs := []Message{{Payload: []byte("{}"), Seq: 1}, {Payload: []byte("{}"), Seq: 1}}
	ack := func(l *link, msg Message) { l.acknowledged(&paho.PublishPacket{Payload: msg.Payload}) }
	tests := []struct {
		name   string
		acked  []Message // acknowledged after a second
		left   int
		waited time.Duration // how long drain waits, at least
	}{
		{"all acknowledged", msgs, 0, time.Second},
		{"one never acknowledged", msgs[:1], 1, timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLink(NewFactory(1).machines[0], 10)
				for _, msg := range msgs {
					if err := l.reserve(t.Context(), msg); err != nil {
						t.Fatal(err)
					}
				}
				go func() {
					time.Sleep(time.Second)
					for _, msg := range tt.acked {
						ack(l, msg)
					}
				}()
				start := time.Now()
				left := l.drain(timeout)
				waited := time.Since(start)
				if left != tt.left {
					t.Errorf("drain: %d left in flight, want %d", left, tt.left)
				}
				// drain looks every 10 ms.
				if waited < tt.waited || waited > tt.waited+10*time.Millisecond {
					t.Errorf("drain waited %v, want %v", waited, tt.waited)
				}
			})
		})
	}
}
