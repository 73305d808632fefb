package edge_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/edge"
)

// connect3 connects an MQTT 3.1.1 client with a username and password
// ("" for none) and returns it with the connect error.
func (v *env) connect3(user, pw string) (paho.Client, error) {
	v.t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + v.edge.MQTTAddr()).
		SetClientID(fmt.Sprintf("c3-%s-%d", user, time.Now().UnixNano())).SetProtocolVersion(4).
		SetUsername(user).SetPassword(pw).SetAutoReconnect(false).SetConnectRetry(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(patience) {
		v.t.Fatal("MQTT connect: no answer")
	}
	if tok.Error() == nil {
		v.t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, tok.Error()
}

// connect5 connects an MQTT 5 client and returns it with the CONNACK's
// reason code.
func (v *env) connect5(user, pw string) (*paho5.Client, byte) {
	v.t.Helper()
	conn, err := net.Dial("tcp", v.edge.MQTTAddr())
	if err != nil {
		v.t.Fatal(err)
	}
	c := paho5.NewClient(paho5.ClientConfig{Conn: conn, PacketTimeout: patience})
	cp := &paho5.Connect{ClientID: fmt.Sprintf("c5-%s-%d", user, time.Now().UnixNano()), CleanStart: true, KeepAlive: 30,
		Username: user, UsernameFlag: user != "", Password: []byte(pw), PasswordFlag: pw != ""}
	ca, err := c.Connect(v.t.Context(), cp)
	if ca == nil {
		v.t.Fatalf("MQTT 5 connect: no CONNACK: %v", err)
	}
	if ca.ReasonCode == 0 {
		v.t.Cleanup(func() { c.Disconnect(&paho5.Disconnect{}) })
	}
	return c, ca.ReasonCode
}

func TestDevicesAuthenticateAndStayUnderTheirPrefix(t *testing.T) {
	v := start(t)
	if !strings.Contains(v.logs.String(), "device authentication is off") {
		t.Errorf("an open listener is not announced in the log:\n%s", v.logs.String())
	}
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(v.cfg.DataDir, edge.DevicesFile)
	pw1, err := edge.AddDevice(t.Context(), file, "press-1", "f/press1")
	if err != nil {
		t.Fatal(err)
	}
	pw2, err := edge.AddDevice(t.Context(), file, "press-2", "f/press2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edge.AddDevice(t.Context(), file, "press-1", "f/other"); err == nil {
		t.Error("a device added twice")
	}
	v.startEdge()
	if !v.edge.Status().MQTT.Devices {
		t.Error("status says devices are off with a devices file")
	}

	good, err := v.connect3("press-1", pw1)
	if err != nil {
		t.Fatalf("good device: %v", err)
	}
	publish(t, good, "f/press1/n", []byte("1"))

	// Refused connections, MQTT 3.1.1 and 5.
	for _, tt := range []struct{ user, pw string }{{"press-1", pw2}, {"nobody", pw1}, {"", ""}} {
		if _, err := v.connect3(tt.user, tt.pw); err == nil {
			t.Errorf("MQTT 3.1.1 %q with a wrong password: connected", tt.user)
		}
		publish(t, good, "f/press1/n", []byte("1"))
	}
	if _, code := v.connect5("press-2", pw1); code != 0x86 {
		t.Errorf("MQTT 5 wrong password: CONNACK 0x%02x, want 0x86", code)
	}

	// A publish outside the prefix: MQTT 5 gets 0x87 and keeps its
	// connection; 3.1.1 has no negative acknowledgement, so it is
	// disconnected.
	dev2, code := v.connect5("press-2", pw2)
	if code != 0 {
		t.Fatalf("good MQTT 5 device: CONNACK 0x%02x", code)
	}
	if rc := publish5(t, dev2, "f/press1/n", []byte("99")); rc != 0x87 {
		t.Errorf("MQTT 5 publish outside the prefix: PUBACK 0x%02x, want 0x87", rc)
	}
	if rc := publish5(t, dev2, "f/press2/n", []byte("2")); rc != 0 {
		t.Errorf("MQTT 5 publish under the prefix after a refusal: PUBACK 0x%02x", rc)
	}
	// Subscriptions are off (no --mqtt-allow-subscribe): refused, 0x80.
	sa, err := dev2.Subscribe(t.Context(), &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "f/press2/#", QoS: 1}}})
	if sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 0x80 {
		t.Errorf("subscription without --mqtt-allow-subscribe: %+v, %v; want SUBACK 0x80", sa, err)
	}
	bad3, err := v.connect3("press-2", pw2)
	if err != nil {
		t.Fatal(err)
	}
	tok := bad3.Publish("f/press1/n", 1, false, []byte("98"))
	tok.WaitTimeout(patience)
	eventually(t, "the 3.1.1 device publishing outside its prefix to be disconnected", func() bool { return !bad3.IsConnectionOpen() })
	publish(t, good, "f/press1/n", []byte("1"))

	eventually(t, "the good values at the hub", func() bool { return v.count("f/press1/n") == 5 && v.count("f/press2/n") == 1 })
	if got := v.latest("f/press1")["f/press1/n"]; got != float64(1) {
		t.Errorf("latest f/press1/n %v: a refused publish was stored", got)
	}

	st := v.edge.Status()
	want := map[string]int64{"bad_password": 2, "unknown_device": 1, "anonymous": 1, "publish_outside_prefix": 2, "subscribe": 1}
	for reason, n := range want {
		if st.MQTT.Refused[reason] != n {
			t.Errorf("status mqtt.refused[%s] = %d, want %d (all: %v)", reason, st.MQTT.Refused[reason], n, st.MQTT.Refused)
		}
	}
	if m := v.scrape(); m[`molen_edge_mqtt_refused_total{reason="bad_password"}`] != 2 {
		t.Errorf("/metrics bad_password = %v, want 2", m[`molen_edge_mqtt_refused_total{reason="bad_password"}`])
	}
	logs := v.logs.String()
	if !strings.Contains(logs, "device refused") || !strings.Contains(logs, "reason=publish_outside_prefix") || !strings.Contains(logs, "client=c5-press-2") {
		t.Errorf("refusals not logged with reason and client:\n%s", logs)
	}
	for _, pw := range []string{pw1, pw2} {
		if strings.Contains(logs, pw) {
			t.Error("a device password appears in the log")
		}
	}
}

func TestAnonymousBesideDevicesOnlyWhenAsked(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.AddDevice(t.Context(), filepath.Join(v.cfg.DataDir, edge.DevicesFile), "press-1", "f/press1"); err != nil {
		t.Fatal(err)
	}
	v.cfg.MQTTAnonymous = true
	v.startEdge()
	anon, err := v.connect3("", "")
	if err != nil {
		t.Fatalf("anonymous client with --mqtt-anonymous: %v", err)
	}
	publish(t, anon, "f/anywhere/n", []byte("1"))
	eventually(t, "the anonymous value at the hub", func() bool { return v.count("f/anywhere/n") == 1 })
	if _, err := v.connect3("press-1", "wrong"); err == nil {
		t.Error("a device with a wrong password connected because anonymous clients are allowed")
	}
}
