package edge_test

import (
	"bufio"
	"bytes"
	"net"
	"testing"

	"github.com/molen-io/molen/internal/edge"
)

// pkt is an MQTT packet of fewer than 128 bytes of body.
func pkt(h byte, body ...byte) []byte { return append([]byte{h, byte(len(body))}, body...) }

// mqttString is a length-prefixed string.
func mqttString(s string) []byte { return append([]byte{0, byte(len(s))}, s...) }

// publishQoS is a PUBLISH of QoS 1 or 2 with packet id.
func publishQoS(qos byte, topic string, id byte, payload string) []byte {
	return pkt(0x30|qos<<1, append(append(mqttString(topic), 0, id), payload...)...)
}

// dialClean connects a rawDevice with a clean session (dialRaw's is
// persistent).
func dialClean(t *testing.T, addr, clientID string) *rawDevice {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	d := &rawDevice{t: t, c: c, r: bufio.NewReader(c)}
	connect := pkt(0x10, append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60}, mqttString(clientID)...)...)
	d.expect("CONNACK", connect, []byte{0x20, 2, 0, 0})
	return d
}

// expect sends pk and compares the edge's answer with want.
func (d *rawDevice) expect(what string, pk, want []byte) {
	d.t.Helper()
	if got := d.roundTrip(pk); !bytes.Equal(got, want) {
		d.t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// TestOwnPathHandsOverWhatItDoesNotServe: a device of MQTT 3.1.1 is served
// by the edge's own ingest path until it sends what only mochi serves (a
// QoS 2 publish, a SUBSCRIBE); mochi then goes on with the same
// connection, without a second CONNACK, and every message is stored.
func TestOwnPathHandsOverWhatItDoesNotServe(t *testing.T) {
	v := start(t)
	d := dialClean(t, v.edge.MQTTAddr(), "handed")
	d.publish("f/own/a", "1", 1, false)
	if n := edge.OwnSessions(v.edge); n != 1 {
		t.Fatalf("%d sessions on the own path, want the device's", n)
	}
	d.expect("PINGRESP", pkt(0xc0), []byte{0xd0, 0})

	d.expect("PUBREC of the QoS 2 publish (no second CONNACK)", publishQoS(2, "f/own/b", 2, "2"), []byte{0x50, 2, 0, 2})
	if n := edge.OwnSessions(v.edge); n != 0 {
		t.Errorf("%d sessions on the own path after the hand-over, want none", n)
	}
	d.expect("PUBCOMP", pkt(0x62, 0, 2), []byte{0x70, 2, 0, 2})
	d.expect("SUBACK refusing (devices may not subscribe)",
		pkt(0x82, append(append([]byte{0, 3}, mqttString("f/#")...), 0)...), []byte{0x90, 3, 0, 3, 0x80})
	d.publish("f/own/c", "3", 4, false)
	if _, err := d.c.Write(pkt(0xe0)); err != nil { // DISCONNECT
		t.Fatal(err)
	}
	for _, s := range []string{"f/own/a", "f/own/b", "f/own/c"} {
		eventually(t, s+" at the hub", func() bool { return v.count(s) == 1 })
	}
}

// TestOwnPathClosesOnABadPacket: a packet that cannot be decoded closes the
// connection and is counted; what was acknowledged before is stored.
func TestOwnPathClosesOnABadPacket(t *testing.T) {
	v := start(t)
	d := dialClean(t, v.edge.MQTTAddr(), "bad-packet")
	d.publish("f/own/ok", "1", 1, false)
	if n := edge.OwnSessions(v.edge); n != 1 {
		t.Fatalf("%d sessions on the own path, want the device's", n)
	}
	if _, err := d.c.Write(pkt(0x32, 0, 1, 'a')); err != nil { // QoS 1 without a packet id
		t.Fatal(err)
	}
	if n, err := d.r.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes after a malformed packet, want the connection closed", n)
	}
	st := v.edge.Status()
	if got := st.Ingest.Rejected["malformed_packet"]; got != 1 {
		t.Errorf("malformed packets counted: %d, want 1", got)
	}
	if r := st.Ingest.LastRejects[0]; r.Client != "bad-packet" || r.Reason != "malformed_packet" {
		t.Errorf("last reject %+v, want the malformed packet of bad-packet", r)
	}
	if got := v.scrape()[`molen_edge_messages_rejected_total{reason="malformed_packet"}`]; got != 1 {
		t.Errorf("/metrics malformed_packet = %v, want 1", got)
	}
	eventually(t, "the acknowledged point at the hub", func() bool { return v.count("f/own/ok") == 1 })
}
