package vda5050_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/vda5050"
	"github.com/molen-io/molen/internal/connector/vda5050/vda5050test"
	"github.com/molen-io/molen/internal/uns"
)

func newBroker(t testing.TB) *vda5050test.Broker {
	t.Helper()
	b, err := vda5050test.NewBroker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	return b
}

func unique() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func testConfig(url string) *vda5050.Config {
	c := vda5050.NewConfig()
	c.URL = url
	c.ClientID = "molen-test-" + unique()
	c.Site, c.Area = "plant-1", "hall-a"
	c.BackoffMin, c.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	c.ConnectTimeout = 2 * time.Second
	return c
}

// eventSink is a connectortest.Sink that also takes events.
type eventSink struct {
	*connectortest.Sink
	mu  sync.Mutex // guards evs
	evs []uns.Event
}

func (s *eventSink) WriteEvents(_ context.Context, evs []uns.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, evs...)
	return nil
}

func (s *eventSink) events() []uns.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uns.Event(nil), s.evs...)
}

func run(t *testing.T, cfg *vda5050.Config, sink connector.Sink) *vda5050.Input {
	t.Helper()
	in, err := vda5050.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	waitFor(t, "connected", func() bool { return in.Status().State == connector.Connected })
	return in
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// latest returns the last point of series, and whether there is one.
func latest(pts []uns.Point, series string) (uns.Point, bool) {
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].Series == series {
			return pts[i], true
		}
	}
	return uns.Point{}, false
}

func publish(t *testing.T, b *vda5050test.Broker, agv *vda5050test.AGV, topic string, at time.Time) {
	t.Helper()
	if err := agv.Publish(b, topic, at, 1); err != nil {
		t.Fatal(err)
	}
}

const agvAsset = "plant-1/hall-a/agv/Kivo_Robotics-AGV-7/"

// TestState: the simulated AGV's state arrives as points with its values
// and the message's timestamp.
func TestState(t *testing.T) {
	b := newBroker(t)
	sink := connectortest.NewSink()
	in := run(t, testConfig(b.URL()), sink)
	agv := vda5050test.NewAGV("Kivo Robotics", "AGV-7", 1)
	for range 7 {
		agv.Step(time.Second)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
	publish(t, b, agv, "state", at)
	want := map[string]uns.Value{
		"position_x":     uns.Float(agv.X),
		"position_y":     uns.Float(agv.Y),
		"theta":          uns.Float(agv.Theta),
		"map_id":         uns.String("hall-a"),
		"velocity_vx":    uns.Float(agv.Vx),
		"battery_charge": uns.Float(float64(int(agv.Battery*10+0.5)) / 10),
		"charging":       uns.Bool(false),
		"driving":        uns.Bool(true),
		"operating_mode": uns.String("AUTOMATIC"),
		"load_count":     uns.Int(0),
		"error_count":    uns.Int(0),
		"error_fatal":    uns.Bool(false),
		"e_stop":         uns.String("NONE"),
		"last_node_id":   uns.String("charger"),
		"order_id":       uns.String("order-1"),
	}
	waitFor(t, "the state's points", func() bool { _, ok := latest(sink.Points(), agvAsset+"order_id"); return ok })
	pts := sink.Points()
	for tag, v := range want {
		p, ok := latest(pts, agvAsset+tag)
		if !ok || p.Value != v || p.TS != at.UnixNano() {
			t.Errorf("%s: %+v (found %t), want %v at %d", tag, p, ok, v, at.UnixNano())
		}
	}
	if st := in.Status(); st.Points != int64(len(pts)) || len(st.Rejected) != 0 {
		t.Errorf("status %+v, want %d points and nothing rejected", st, len(pts))
	}
}

// TestConnectionAndErrors: connection state and errors become points, and
// events for a sink that takes them.
func TestConnectionAndErrors(t *testing.T) {
	b := newBroker(t)
	sink := &eventSink{Sink: connectortest.NewSink()}
	run(t, testConfig(b.URL()), sink)
	agv := vda5050test.NewAGV("Kivo Robotics", "AGV-7", 1)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	wait := func(tag string, v uns.Value) {
		t.Helper()
		waitFor(t, tag+" "+v.String(), func() bool {
			p, ok := latest(sink.Points(), agvAsset+tag)
			return ok && p.Value == v
		})
	}
	publish(t, b, agv, "connection", at(0))
	wait("connection_state", uns.String("ONLINE"))
	agv.Connection = vda5050.ConnectionBroken
	publish(t, b, agv, "connection", at(1))
	wait("connection_state", uns.String("CONNECTIONBROKEN"))
	agv.Connection = vda5050.Online
	publish(t, b, agv, "connection", at(2))
	wait("connection_state", uns.String("ONLINE"))

	publish(t, b, agv, "state", at(3))
	wait("error_count", uns.Int(0))
	agv.Errors = []vda5050test.Error{{Type: "laserScannerFault", Level: "FATAL", Description: "front scanner"}}
	publish(t, b, agv, "state", at(4))
	wait("error_fatal", uns.Bool(true))
	publish(t, b, agv, "state", at(5))
	agv.Errors = nil
	publish(t, b, agv, "state", at(6))
	wait("error_count", uns.Int(0))

	var errPts []uns.Point
	for _, p := range sink.Points() {
		if p.Series == agvAsset+"error" {
			errPts = append(errPts, p)
		}
	}
	if len(errPts) != 1 || errPts[0].Value.Str() != "laserScannerFault" || errPts[0].TS != at(4).UnixNano() {
		t.Errorf("error points %+v, want one laserScannerFault at %v", errPts, at(4))
	}
	evs := sink.events()
	want := []uns.Event{
		{Kind: vda5050.KindConnectionBroken, Start: at(1).UnixNano()},
		{Kind: vda5050.KindConnectionBroken, Start: at(1).UnixNano(), End: at(2).UnixNano()},
		{Kind: vda5050.KindError, Start: at(4).UnixNano()},
		{Kind: vda5050.KindError, Start: at(4).UnixNano(), End: at(6).UnixNano()},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %+v, want %d", evs, len(want))
	}
	for i, e := range evs {
		w := want[i]
		if e.Asset != agvAsset[:len(agvAsset)-1] || e.Kind != w.Kind || e.Start != w.Start || e.End != w.End {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if a := evs[2].Attrs; a["errorType"] != "laserScannerFault" || a["errorLevel"] != "FATAL" || a["description"] != "front scanner" {
		t.Errorf("error event attributes %v", a)
	}
}

// TestBadPayloads: malformed JSON and wrong types are counted by reason,
// acknowledged, and reading goes on.
func TestBadPayloads(t *testing.T) {
	b := newBroker(t)
	sink := connectortest.NewSink()
	in := run(t, testConfig(b.URL()), sink)
	agv := vda5050test.NewAGV("m", "s", 1)
	bad := []struct{ topic, payload string }{
		{"state", `{"driving":`},
		{"state", `{"driving":"yes"}`},
		{"visualization", `{"agvPosition":{"x":"1"}}`},
		{"connection", `{"connectionState":"MAYBE"}`},
		{"state", `{"timestamp":"noon"}`},
	}
	for _, m := range bad {
		if err := b.Publish(agv.Topic(m.topic), []byte(m.payload), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{uns.ReasonNotJSON: 1, uns.ReasonWrongType: 2, vda5050.ReasonBadValue: 1, uns.ReasonBadTS: 1}
	waitFor(t, "the rejections", func() bool {
		st := in.Status()
		for r, n := range want {
			if st.Rejected[r] != n {
				return false
			}
		}
		return true
	})
	publish(t, b, agv, "state", time.Now())
	waitFor(t, "a good state after the bad ones", func() bool { return sink.Len() > 0 })
	if st := in.Status(); st.LastError == "" || st.State != connector.Connected {
		t.Errorf("status %+v: want connected with a last_error", st)
	}
}

// TestVisualizationRate: visualization messages at a high rate all arrive,
// each with its own timestamp.
func TestVisualizationRate(t *testing.T) {
	b := newBroker(t)
	sink := connectortest.NewSink()
	cfg := testConfig(b.URL())
	cfg.MaxInflight = 1000
	in := run(t, cfg, sink)
	agv := vda5050test.NewAGV("m", "s", 1)
	const n, window = 3000, 250
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	series := "plant-1/hall-a/agv/m-s/position_x"
	count := func() int {
		c := 0
		for _, p := range sink.Points() {
			if p.Series == series {
				c++
			}
		}
		return c
	}
	start := time.Now()
	for i := range n {
		agv.Step(10 * time.Millisecond)
		publish(t, b, agv, "visualization", t0.Add(time.Duration(i)*10*time.Millisecond))
		if (i+1)%window == 0 {
			// mochi drops QoS 1 messages to a 3.1.1 subscriber whose
			// buffer is full: let the input catch up.
			waitFor(t, "the input to catch up", func() bool { return count() >= i+1 })
		}
	}
	waitFor(t, "every visualization", func() bool { return count() == n })
	t.Logf("%d visualization messages in %v", n, time.Since(start))
	seen := map[int64]bool{}
	for _, p := range sink.Points() {
		if p.Series == series {
			seen[p.TS] = true
		}
	}
	if len(seen) != n || in.Status().Dropped != 0 {
		t.Errorf("%d distinct timestamps of %d, dropped %d", len(seen), n, in.Status().Dropped)
	}
}

// TestNoAckBeforeWrite: a QoS 1 message whose write the sink refused is not
// acknowledged, so the broker delivers it again to the next session of the
// same client id.
func TestNoAckBeforeWrite(t *testing.T) {
	b := newBroker(t)
	cfg := testConfig(b.URL())
	refusing := connectortest.NewSink()
	refusing.FailNext(1 << 30)
	in, err := vda5050.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, refusing) }()
	waitFor(t, "connected", func() bool { return in.Status().State == connector.Connected })
	agv := vda5050test.NewAGV("m", "s", 1)
	publish(t, b, agv, "state", time.Now())
	waitFor(t, "a refused write", func() bool { return len(refusing.Refused()) > 0 })
	cancel()
	<-done

	sink := connectortest.NewSink()
	run(t, cfg, sink)
	waitFor(t, "the redelivered state", func() bool { return sink.Len() > 0 })
}
