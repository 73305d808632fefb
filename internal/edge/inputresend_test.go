package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/connector/connectortest/tcpproxy"
	"github.com/molen-io/molen/internal/connector/mqtt/mqtttest"
	"github.com/molen-io/molen/internal/edge"
)

// brokerPublisher connects an MQTT client to url that publishes for a test.
func brokerPublisher(t *testing.T, url string) func(topic, payload string) {
	t.Helper()
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return func(topic, payload string) {
		t.Helper()
		if tok := cl.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
}

func inputStatus(e *edge.Edge) edge.InputStatus {
	if in := e.Status().Inputs; len(in) == 1 {
		return in[0]
	}
	return edge.InputStatus{}
}

// TestMQTTInputRedeliveryIsStoredOnce: the edge stores a QoS 1 message of
// an mqtt input, and its acknowledgement never reaches the broker: the
// broker is restarted, or the edge is. The broker delivers the message again
// to the input's persistent session. The edge recognises the redelivery, as
// it does a device's resend (after its own restart from the identities in
// its outbox), and the hub stores the message once.
func TestMQTTInputRedeliveryIsStoredOnce(t *testing.T) {
	for _, version := range []int{3, 5} {
		for _, restart := range []string{"broker", "edge"} {
			t.Run(fmt.Sprintf("MQTT %d, %s restart", version, restart), func(t *testing.T) {
				testInputRedelivery(t, version, restart)
			})
		}
	}
}

func testInputRedelivery(t *testing.T, version int, restart string) {
	m := mqtttest.StartMosquitto(t)
	link, err := tcpproxy.Listen(m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := fmt.Sprintf(`inputs:
  - mqtt:
      url: tcp://%s
      version: %d
      client_id: molen-redelivery-%d
      backoff_min: 10ms
      backoff_max: 100ms
      subscriptions:
        - {topic: "plant/#", qos: 1}
`, link.Addr(), version, time.Now().UnixNano())
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	v.startEdge()
	eventually(t, "the input connected", func() bool { return inputStatus(v.edge).State == "connected" })

	// The input's acknowledgements no longer reach the broker.
	link.DropToTarget(true)
	publish := brokerPublisher(t, m.URL())
	publish("plant/press/temp", `{"value": 21.5, "ts": 1763700000000}`)
	eventually(t, "the message stored", func() bool { return inputStatus(v.edge).Points == 1 })

	switch restart {
	case "broker":
		m.Stop()
		m.Start()
		link.DropToTarget(false)
		publish = brokerPublisher(t, m.URL())
	case "edge":
		if err := v.edge.Close(); err != nil {
			t.Fatal(err)
		}
		link.DropToTarget(false)
		v.startEdge()
	}
	// After the redelivery, in the session's order: once this is at the
	// hub, so is everything the input stored before it.
	publish("plant/press/marker", `{"value": 1, "ts": 1763700001000}`)
	eventually(t, "the marker at the hub", func() bool { return v.count("plant/press/marker") == 1 })
	if got := v.count("plant/press/temp"); got != 1 {
		t.Errorf("the hub has the message %d times, want once", got)
	}
	if st := v.edge.Status(); st.Ingest.ResendsSkipped != 1 {
		t.Errorf("resends_skipped %d, want 1 (the redelivery; else the case under test did not happen)", st.Ingest.ResendsSkipped)
	}
}
