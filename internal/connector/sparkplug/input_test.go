package sparkplug_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/connector/sparkplug/sparkplugtest"
	"github.com/molen-io/molen/internal/uns"
)

func testConfig(url, group string) *sparkplug.Config {
	cfg := sparkplug.NewConfig()
	cfg.URL = url
	cfg.ClientID = "molen-test-" + unique()
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.ConnectTimeout = 2 * time.Second
	cfg.ReorderTimeout = 100 * time.Millisecond
	cfg.Groups = []sparkplug.Group{{Group: group}}
	return cfg
}

// running is one Run of an input.
type running struct {
	in     *sparkplug.Input
	sink   *connectortest.Sink
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs an input of cfg and waits until it subscribed.
func start(t *testing.T, cfg *sparkplug.Config) *running {
	t.Helper()
	in, err := sparkplug.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{in: in, sink: connectortest.NewSink(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, r.sink) }()
	t.Cleanup(r.stop)
	waitFor(t, "connected", func() bool { return in.Status().State == connector.Connected })
	return r
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
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

// find returns the points of series with value v and quality q.
func find(sink *connectortest.Sink, series string, v uns.Value, q uns.Quality) []uns.Point {
	var out []uns.Point
	for _, p := range sink.Points() {
		if p.Series == series && p.Value == v && p.Quality == q {
			out = append(out, p)
		}
	}
	return out
}

func has(sink *connectortest.Sink, series string, v uns.Value, q uns.Quality) bool {
	return len(find(sink, series, v, q)) > 0
}

// rebirths counts the rebirth requests to node recorded on the broker.
func rebirths(rec *recorder, group, node string) int {
	n := 0
	for _, m := range rec.all() {
		if m.topic == "spBv1.0/"+group+"/NCMD/"+node && sparkplugtest.IsRebirthRequest(m.payload) {
			n++
		}
	}
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	temp  = sparkplugtest.Metric{Name: "Temp (C)", Type: sparkplug.Float, Value: uns.Float(21.5)}
	rpm   = sparkplugtest.Metric{Name: "Motor/RPM", Type: sparkplug.Int16, Value: uns.Int(-120)}
	count = sparkplugtest.Metric{Name: "count", Type: sparkplug.UInt32, Value: uns.Int(7)}
	state = sparkplugtest.Metric{Name: "state", Type: sparkplug.String, Value: uns.String("idle")}
)

func with(m sparkplugtest.Metric, v uns.Value) sparkplugtest.Metric {
	m.Value = v
	return m
}

// TestAliases: births declare aliases, data uses only them, and metrics
// map onto the default paths, names sanitised and '/' kept.
func TestAliases(t *testing.T) {
	b := newBroker(t)
	r := start(t, testConfig(b.URL(), "plant-1"))
	n := sparkplugtest.NewNode("plant-1", "gw-1", b.publish)
	must(t, n.Birth(temp, rpm))
	must(t, n.DeviceBirth("press 3", count, state))
	must(t, n.Data(with(temp, uns.Float(22.5)), with(rpm, uns.Int(-130))))
	must(t, n.DeviceData("press 3", with(count, uns.Int(8)), with(state, uns.String("run"))))
	want := map[string]uns.Value{
		"plant-1/gw-1/Temp__C_":      uns.Float(22.5),
		"plant-1/gw-1/Motor/RPM":     uns.Int(-130),
		"plant-1/gw-1/press_3/count": uns.Int(8),
		"plant-1/gw-1/press_3/state": uns.String("run"),
	}
	for s, v := range want {
		waitFor(t, s, func() bool { return has(r.sink, s, v, uns.Good) })
	}
	if !has(r.sink, "plant-1/gw-1/Temp__C_", uns.Float(21.5), uns.Good) {
		t.Error("the birth's value was not written")
	}
	if st := r.in.Status(); len(st.Rejected) != 0 || st.Dropped != 0 {
		t.Errorf("status %+v: want nothing rejected or dropped", st)
	}
}

// TestPathTemplate: a group's path template places the metrics.
func TestPathTemplate(t *testing.T) {
	b := newBroker(t)
	cfg := testConfig(b.URL(), "+")
	cfg.Groups[0].Path = "site-a/{group}/gw-{edge_node}/{device}/{metric}"
	r := start(t, cfg)
	n := sparkplugtest.NewNode("hall", "7", b.publish)
	must(t, n.Birth(temp))
	must(t, n.DeviceBirth("oven", count))
	waitFor(t, "node metric", func() bool { return has(r.sink, "site-a/hall/gw-7/Temp__C_", uns.Float(21.5), uns.Good) })
	waitFor(t, "device metric", func() bool { return has(r.sink, "site-a/hall/gw-7/oven/count", uns.Int(7), uns.Good) })
}

// TestSeqGapRebirth: a gap not filled within reorder_timeout makes the
// host publish NCMD Node Control/Rebirth, counted; the messages lost are
// in dropped, and data after the gap is written all the same.
func TestSeqGapRebirth(t *testing.T) {
	b := newBroker(t)
	rec := b.record(t, "spBv1.0/+/NCMD/#")
	cfg := testConfig(b.URL(), "g")
	r := start(t, cfg)
	n := sparkplugtest.NewNode("g", "n", b.publish)
	must(t, n.Birth(temp))
	must(t, n.Data(with(temp, uns.Float(1))))
	n.Skip(2)
	must(t, n.Data(with(temp, uns.Float(2))))
	waitFor(t, "the rebirth request", func() bool { return rebirths(rec, "g", "n") == 1 })
	if !has(r.sink, "g/n/Temp__C_", uns.Float(2), uns.Good) {
		t.Error("data after the gap not written")
	}
	waitFor(t, "stats", func() bool { return r.in.Stats().RebirthRequests == 1 })
	if st := r.in.Status(); st.Dropped != 2 || r.in.Stats().SeqGaps != 1 {
		t.Errorf("dropped %d, stats %+v; want 2 messages lost in 1 gap", st.Dropped, r.in.Stats())
	}
	// The node answers; the host takes the new birth. (That it asks no
	// more is TestGapAsksOnce.)
	must(t, n.Rebirth())
	must(t, n.Data(with(temp, uns.Float(3))))
	waitFor(t, "data after the rebirth", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(3), uns.Good) })
}

// TestDeathMarksStale: DDEATH marks the device's metrics stale, NDEATH
// the node's and every live device's: their last value, quality bad, no
// earlier than the death. Data after a death asks for a rebirth.
func TestDeathMarksStale(t *testing.T) {
	b := newBroker(t)
	rec := b.record(t, "spBv1.0/+/NCMD/#")
	r := start(t, testConfig(b.URL(), "g"))
	n := sparkplugtest.NewNode("g", "n", b.publish)
	must(t, n.Birth(temp))
	must(t, n.DeviceBirth("d1", count))
	must(t, n.DeviceBirth("d2", state))
	must(t, n.DeviceData("d1", with(count, uns.Int(9))))
	waitFor(t, "data", func() bool { return has(r.sink, "g/n/d1/count", uns.Int(9), uns.Good) })
	before := time.Now().UnixNano()
	must(t, n.DeviceDeath("d1"))
	waitFor(t, "d1 stale", func() bool { return has(r.sink, "g/n/d1/count", uns.Int(9), uns.Bad) })
	if has(r.sink, "g/n/d2/state", uns.String("idle"), uns.Bad) {
		t.Error("DDEATH of d1 marked d2 stale")
	}
	must(t, n.Death())
	waitFor(t, "node stale", func() bool {
		return has(r.sink, "g/n/Temp__C_", uns.Float(21.5), uns.Bad) && has(r.sink, "g/n/d2/state", uns.String("idle"), uns.Bad)
	})
	if got := len(find(r.sink, "g/n/d1/count", uns.Int(9), uns.Bad)); got != 1 {
		t.Errorf("d1 marked stale %d times, want once (it was dead already)", got)
	}
	for _, p := range find(r.sink, "g/n/Temp__C_", uns.Float(21.5), uns.Bad) {
		if p.TS < before-int64(time.Second) {
			t.Errorf("stale mark at %d, before the death (%d)", p.TS, before)
		}
	}
	must(t, n.Data(with(temp, uns.Float(5))))
	waitFor(t, "no_birth", func() bool { return r.in.Status().Rejected[sparkplug.ReasonNoBirth] == 1 })
	waitFor(t, "the rebirth request", func() bool { return rebirths(rec, "g", "n") == 1 })
}

// TestStaleNodeDeath: an NDEATH with the bdSeq of an earlier session (the
// will of a connection the node already replaced) is ignored and counted.
func TestStaleNodeDeath(t *testing.T) {
	b := newBroker(t)
	r := start(t, testConfig(b.URL(), "g"))
	n := sparkplugtest.NewNode("g", "n", b.publish)
	n.NewSession()
	must(t, n.Birth(temp))
	must(t, n.Send(n.DeathMessage(n.BdSeq()-1)))
	waitFor(t, "stale_death", func() bool { return r.in.Status().Rejected[sparkplug.ReasonStaleDeath] == 1 })
	must(t, n.Data(with(temp, uns.Float(30))))
	waitFor(t, "data", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(30), uns.Good) })
	for _, p := range r.sink.Points() {
		if p.Quality != uns.Good {
			t.Errorf("point %+v after a stale NDEATH", p)
		}
	}
	must(t, n.Death())
	waitFor(t, "the real death", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(30), uns.Bad) })
}

// TestHistorical: is_historical metrics are written with their own
// timestamps as back-fill, and do not become the value a death marks
// stale.
func TestHistorical(t *testing.T) {
	b := newBroker(t)
	r := start(t, testConfig(b.URL(), "g"))
	n := sparkplugtest.NewNode("g", "n", b.publish)
	must(t, n.Birth(temp))
	past := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	old := with(temp, uns.Float(-5))
	old.Historical, old.TS = true, past
	must(t, n.Data(with(temp, uns.Float(25)), old))
	waitFor(t, "back-fill", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(-5), uns.Good) })
	if p := find(r.sink, "g/n/Temp__C_", uns.Float(-5), uns.Good)[0]; p.TS != past.UnixNano() {
		t.Errorf("historical point at %d, want its own time %d", p.TS, past.UnixNano())
	}
	must(t, n.Death())
	waitFor(t, "stale", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(25), uns.Bad) })
	if has(r.sink, "g/n/Temp__C_", uns.Float(-5), uns.Bad) {
		t.Error("the historical value was marked stale")
	}
}

// TestBadInput: garbage, bad topics, unknown groups and aliases are
// counted; the input goes on, and other inputs on the same broker are
// unaffected.
func TestBadInput(t *testing.T) {
	b := newBroker(t)
	r := start(t, testConfig(b.URL(), "g"))
	other := start(t, testConfig(b.URL(), "h"))
	mcfg := mqtt.NewConfig()
	mcfg.URL, mcfg.ClientID = b.URL(), "molen-test-"+unique()
	mcfg.Subscriptions = []mqtt.Subscription{{Topic: "plain/#"}}
	plain, err := mqtt.New(mcfg, nil)
	must(t, err)
	psink := connectortest.NewSink()
	ctx, cancel := context.WithCancel(t.Context())
	pdone := make(chan error, 1)
	go func() { pdone <- plain.Run(ctx, psink) }()
	defer func() { cancel(); <-pdone }()
	waitFor(t, "mqtt input", func() bool { return plain.Status().State == connector.Connected })

	n := sparkplugtest.NewNode("g", "n", b.publish)
	must(t, n.Birth(temp))
	for _, m := range []struct{ topic, payload string }{
		{"spBv1.0/g/NDATA/n", "\x12\x05\x08"},
		{"spBv1.0/g/NDATA/n", strings.Repeat("\xff", 100)},
		{"spBv1.0/g/NDATA/n", "{\"value\": 1}"},
		{"spBv1.0/g/NJUNK/n", ""},
		{"spBv1.0/g/NDATA", ""},
	} {
		must(t, b.publish(m.topic, []byte(m.payload)))
	}
	unknown := sparkplug.Payload{Seq: 1, HasSeq: true, Metrics: []sparkplug.Metric{{Alias: 99, HasAlias: true, Field: sparkplug.IntValue, Bits: 1}}}
	must(t, b.publish("spBv1.0/g/NDATA/n", unknown.Append(nil)))
	hn := sparkplugtest.NewNode("h", "n", b.publish)
	must(t, hn.Birth(count))
	must(t, b.publish("plain/a/v", []byte("42")))
	must(t, n.Data(with(temp, uns.Float(99))))

	waitFor(t, "data after the garbage", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(99), uns.Good) })
	want := map[string]int64{sparkplug.ReasonNotProtobuf: 3, sparkplug.ReasonBadTopic: 2, sparkplug.ReasonUnknownAlias: 1}
	waitFor(t, fmt.Sprintf("rejected %v", want), func() bool {
		got := r.in.Status().Rejected
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
	waitFor(t, "the other sparkplug input", func() bool { return has(other.sink, "h/n/count", uns.Int(7), uns.Good) })
	waitFor(t, "the mqtt input", func() bool { return has(psink, "plain/a/v", uns.Int(42), uns.Good) })
	if st := other.in.Status(); len(st.Rejected) != 0 {
		t.Errorf("the other input rejected %v", st.Rejected)
	}
	if st := r.in.Status(); st.State != connector.Connected || st.LastError == "" {
		t.Errorf("status %+v: want connected with a last_error", st)
	}
}

// TestPrimaryHostState: with host_id the input publishes its STATE
// online (retained) and offline when it stops.
func TestPrimaryHostState(t *testing.T) {
	b := newBroker(t)
	rec := b.record(t, "spBv1.0/STATE/+")
	cfg := testConfig(b.URL(), "g")
	cfg.HostID = "molen-1"
	r := start(t, cfg)
	waitFor(t, "online", func() bool {
		m := rec.all()
		return len(m) > 0 && strings.Contains(string(m[0].payload), `"online":true`)
	})
	r.stop()
	waitFor(t, "offline", func() bool {
		m := rec.all()
		return len(m) > 1 && strings.Contains(string(m[len(m)-1].payload), `"online":false`)
	})
}
