package sparkplug_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest/tcpproxy"
	"github.com/molen-io/molen/internal/connector/mqtt/mqtttest"
	"github.com/molen-io/molen/internal/connector/sparkplug/sparkplugtest"
	"github.com/molen-io/molen/internal/uns"
)

// nodeClient connects an edge node's MQTT client to url and subscribes it
// to its commands; the returned channel gets a value for each rebirth
// request.
func nodeClient(t *testing.T, url, node string) (paho.Client, <-chan struct{}) {
	t.Helper()
	requests := make(chan struct{}, 16)
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("node-" + unique()).SetAutoReconnect(false))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("node: connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	tok := cl.Subscribe("spBv1.0/g/NCMD/"+node, 1, func(_ paho.Client, m paho.Message) {
		if sparkplugtest.IsRebirthRequest(m.Payload()) {
			requests <- struct{}{}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("node: subscribe: %v", tok.Error())
	}
	return cl, requests
}

// TestRebirthAfterBrokerRestart: after a restart of the broker the host
// reconnects over a slow link to its persistent session, and the broker
// delivers what it queued for the host right after accepting the
// connection, before the host's subscriptions are confirmed (and so before
// it can publish). Data of a node whose birth the host has not seen asks
// for a rebirth, which the host sends as soon as it can: the node is read
// again at once, not after reorder_timeout.
func TestRebirthAfterBrokerRestart(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	link, err := tcpproxy.Listen(m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()

	var node paho.Client
	n := sparkplugtest.NewNode("g", "n", func(topic string, payload []byte) error {
		tok := node.Publish(topic, 1, false, payload)
		tok.WaitTimeout(10 * time.Second)
		return tok.Error()
	})
	node, _ = nodeClient(t, m.URL(), "n")
	must(t, n.Birth(temp)) // before the host subscribed: it never sees this birth

	cfg := testConfig("tcp://"+link.Addr(), "g")
	cfg.ConnectTimeout = 10 * time.Second
	// A request lost now would be made again only after an hour: longer
	// than the test waits.
	cfg.ReorderTimeout = time.Hour
	r := start(t, cfg)

	// The link goes down; the node publishes meanwhile, and the broker
	// queues that for the host's persistent session; then the broker is
	// restarted, keeping it.
	must(t, link.Stop())
	waitFor(t, "the host disconnected", func() bool { return r.in.Status().State == connector.Disconnected })
	must(t, n.Data(with(temp, uns.Float(22.5))))
	node.Disconnect(100)
	m.Stop()
	m.Start()
	var requests <-chan struct{}
	node, requests = nodeClient(t, m.URL(), "n")

	// The link returns, slow: each way takes 100 ms.
	link.SetLatency(100 * time.Millisecond)
	must(t, link.Start())
	select {
	case <-requests:
	case <-time.After(10 * time.Second):
		t.Fatalf("no rebirth request within 10s of the link coming back; status %+v, stats %+v", r.in.Status(), r.in.Stats())
	}
	if st := r.in.Status(); st.Rejected["no_birth"] != 1 {
		t.Errorf("rejected %v: want the queued data once as no_birth (the case under test)", st.Rejected)
	}
	must(t, n.Rebirth())
	must(t, n.Data(with(temp, uns.Float(23.5))))
	waitFor(t, "data after the rebirth", func() bool { return has(r.sink, "g/n/Temp__C_", uns.Float(23.5), uns.Good) })
	if got := r.in.Stats().RebirthRequests; got != 1 {
		t.Errorf("%d rebirth requests sent, want 1", got)
	}
}
