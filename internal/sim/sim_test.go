package sim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
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
	dropped int
}

func (r *recorder) dropping(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop = on
}

func newRecorder() *recorder {
	return &recorder{seqs: map[string]map[uint64]int{}, topics: map[string]uint64{}}
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
		r.dropped++
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
	srv  *mqtt.Server
	addr string
	once sync.Once
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
	b := &broker{srv: srv, addr: l.Address()}
	t.Cleanup(b.close)
	return b
}

func (b *broker) close() { b.once.Do(func() { _ = b.srv.Close() }) }

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

// runFor runs s until d has passed and returns Run's error.
func runFor(t *testing.T, s *Sim, d time.Duration) error {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.Run(ctx)
}

func TestRunDeliversEverySeq(t *testing.T) {
	rec := newRecorder()
	b := startBroker(t, "127.0.0.1:0", rec)
	s, err := New(Config{Broker: b.addr, Seed: 1, Rate: 50, ClientID: t.Name(), Log: newLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := runFor(t, s, 2*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for _, m := range s.Machines() {
		if acked[m] != published[m] {
			t.Errorf("%s: acked %d, published %d: want all acknowledged after a clean stop", m, acked[m], published[m])
		}
		if acked[m] < 40 {
			t.Errorf("%s: acked %d ticks in 2 s at rate 50, want about 100", m, acked[m])
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
	s, err := New(Config{Broker: b.addr, Seed: 2, Rate: 50, ClientID: t.Name(), Log: newLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runFor(t, s, 5*time.Second) }()

	// The broker stops acknowledging, then goes away: what it dropped and
	// what the sim publishes during the outage must reach the next broker.
	time.Sleep(700 * time.Millisecond)
	rec.dropping(true)
	time.Sleep(300 * time.Millisecond)
	b.close()
	before := s.Acked()
	rec.dropping(false)
	time.Sleep(time.Second)
	startBroker(t, b.addr, rec)

	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for _, m := range s.Machines() {
		if acked[m] != published[m] {
			t.Errorf("%s: acked %d, published %d: want all acknowledged after a clean stop", m, acked[m], published[m])
		}
		// The ticks of the outage and after it reached the new broker.
		if acked[m] < before[m]+100 {
			t.Errorf("%s: acked %d at the restart and %d at the end, want the ticks of the outage and after acknowledged too", m, before[m], acked[m])
		}
	}
	dups := rec.check(t, acked, published)
	if rec.dropped == 0 {
		t.Error("the first broker dropped nothing: the test did not exercise resending unacknowledged messages")
	}
	t.Logf("first broker dropped %d messages unacknowledged; acked %v at the restart, %v at the end; %d duplicate seqs", rec.dropped, before, acked, dups)
}

func TestRunBoundsInflightWhileBrokerDown(t *testing.T) {
	const maxInflight = 40
	addr := freeAddr(t)
	s, err := New(Config{Broker: addr, Seed: 3, Rate: 1000, MaxInflight: maxInflight, ClientID: t.Name(), Log: newLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runFor(t, s, 4*time.Second) }()

	// With no broker, each machine publishes until maxInflight messages
	// are unacknowledged, then its ticks wait.
	time.Sleep(500 * time.Millisecond)
	stalled := s.Published()
	time.Sleep(200 * time.Millisecond)
	for _, l := range s.links {
		m := l.m.asset
		limit := uint64(maxInflight / len(l.m.topics))
		if got := s.Published()[m]; got != stalled[m] || got > limit {
			t.Errorf("%s: published %d then %d ticks with the broker down; want it stalled at ≤ %d", m, stalled[m], got, limit)
		}
		if got := s.Acked()[m]; got != 0 {
			t.Errorf("%s: acked %d with no broker", m, got)
		}
	}

	rec := newRecorder()
	startBroker(t, addr, rec)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, published := s.Acked(), s.Published()
	for m, n := range acked {
		if n != published[m] || n < stalled[m]+100 {
			t.Errorf("%s: acked %d, published %d, stalled at %d: want the ticks to resume once the broker is up", m, n, published[m], stalled[m])
		}
	}
	if dups := rec.check(t, acked, published); dups != 0 {
		t.Errorf("%d duplicate seqs, want none: nothing reached a broker before it started", dups)
	}
}

func TestRunReportsUnacknowledged(t *testing.T) {
	s, err := New(Config{Broker: freeAddr(t), Rate: 100, ClientID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	s.drainTimeout = 200 * time.Millisecond
	err = runFor(t, s, 200*time.Millisecond)
	if !errors.Is(err, ErrUnacknowledged) {
		t.Errorf("Run with no broker: got %v, want ErrUnacknowledged", err)
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
