package mqtt_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// mosquitto returns $MOLEN_TEST_MQTT or skips t.
func mosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("MOLEN_TEST_MQTT")
	if addr == "" {
		t.Skip("MOLEN_TEST_MQTT is not set (host:port of a Mosquitto broker, e.g. 127.0.0.1:1883)")
	}
	return addr
}

// TestMosquitto runs the input, with MQTT 3.1.1 and with MQTT 5, against
// the broker at $MOLEN_TEST_MQTT (host:port of a Mosquitto, anonymous
// access), with a separate MQTT 3.1.1 client publishing. The broker may be shared: topics and client ids are unique to
// the run, and the session is removed at the end.
func TestMosquitto(t *testing.T) {
	addr := mosquitto(t)
	eachVersion(t, func(t *testing.T, version int) {
		url := "tcp://" + addr
		run := unique()
		root := "molen-test/" + run

		pub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("molen-pub-" + run))
		if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publisher: connect to %s: %v", url, tok.Error())
		}
		defer pub.Disconnect(250)
		publish := func(topic, payload string, qos byte) {
			t.Helper()
			if tok := pub.Publish(root+"/"+topic, qos, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish %s: %v", topic, tok.Error())
			}
		}

		cfg := mqtt.NewConfig()
		cfg.URL = url
		cfg.Version = version
		cfg.ClientID = "molen-it-" + run
		cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
		cfg.Subscriptions = []mqtt.Subscription{{Topic: root + "/#", Path: "interop/{2}/{3+}"}}
		t.Cleanup(func() { removeSession(t, url, cfg.ClientID) })
		series := func(tag string) string { return "interop/" + run + "/" + tag }

		sink := connectortest.NewSink()
		r := runInput(t, cfg, sink)
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		publish("press/temp", "21.5", 1)
		publish("press", `{"ts":1700000000000,"rpm":1200,"state":{"value":"run","q":"uncertain"}}`, 1)
		publish("press/count", "3", 0)
		publish("press/bad", "{oops", 1)
		waitFor(t, "the published values", func() bool {
			return has(sink, series("press/temp"), uns.Float(21.5)) && has(sink, series("press/rpm"), uns.Int(1200)) &&
				has(sink, series("press/state"), uns.String("run")) && has(sink, series("press/count"), uns.Int(3))
		})
		waitFor(t, "the bad payload counted", func() bool { return r.in.Status().Rejected[uns.ReasonNotJSON] == 1 })
		for _, p := range sink.Points() {
			if p.Series == series("press/rpm") && p.TS != 1700000000000*1e6 {
				t.Errorf("rpm at %d, want the payload's ts", p.TS)
			}
			if p.Series == series("press/state") && p.Quality != uns.Uncertain {
				t.Errorf("state quality %v, want uncertain", p.Quality)
			}
		}
		r.stop()

		// While the input is away, the broker queues QoS 1 messages in its
		// persistent session.
		publish("press/temp", "22.5", 1)
		sink = connectortest.NewSink()
		r = runInput(t, cfg, sink)
		waitFor(t, "the value published while disconnected", func() bool { return has(sink, series("press/temp"), uns.Float(22.5)) })
		// A persistent session's queued messages can arrive right after CONNACK,
		// before the input has its SUBACKs and counts the connection.
		waitFor(t, "the connection counted", func() bool { return r.in.Status().Connects == 1 })
		if st := r.in.Status(); st.Dropped != 0 || st.Connects != 1 {
			t.Errorf("status %+v: want no drops, one connection", st)
		}
	})
}

// removeSession connects with a clean session, which makes the broker
// forget the input's session and subscriptions.
func removeSession(t *testing.T, url, clientID string) {
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Logf("remove session %s: %v", clientID, tok.Error())
		return
	}
	cl.Disconnect(250)
}

// TestMosquittoReceiveMaximum: with MQTT 5 the broker is told max_inflight
// as the receive maximum and holds the QoS 1 messages beyond it while the
// sink is blocked: all arrive once it is not, none dropped. (Against mochi
// v2.7.9 this stalls: it loses a unit of send quota for every message it
// held back, so the flow stops after max_inflight of them.)
func TestMosquittoReceiveMaximum(t *testing.T) {
	url := "tcp://" + mosquitto(t)
	run := unique()
	root := "molen-test/" + run
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("molen-pub-" + run))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: connect to %s: %v", url, tok.Error())
	}
	defer pub.Disconnect(250)

	cfg := mqtt.NewConfig()
	cfg.URL = url
	cfg.Version = 5
	cfg.ClientID = "molen-it-" + run
	cfg.MaxInflight = 2
	cfg.Subscriptions = []mqtt.Subscription{{Topic: root + "/#", Path: "interop/{2}/{3+}"}}
	t.Cleanup(func() { removeSession(t, url, cfg.ClientID) })
	sink := connectortest.NewSink()
	blocked := sink.Block()
	r := runInput(t, cfg, sink)
	waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
	const n = 200
	for i := range n {
		if tok := pub.Publish(root+"/v", 1, false, fmt.Sprint(i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	<-blocked
	time.Sleep(50 * time.Millisecond)
	sink.Unblock()
	series := "interop/" + run + "/v"
	waitFor(t, "every message", func() bool { return sink.Len() == n })
	if st := r.in.Status(); st.Dropped != 0 {
		t.Errorf("dropped %d, want 0", st.Dropped)
	}
	for i, p := range sink.Points() {
		if p.Series != series || p.Value != uns.Int(int64(i)) {
			t.Errorf("point %d is %s = %v, want %s = %d (in order)", i, p.Series, p.Value, series, i)
			break
		}
	}
}
