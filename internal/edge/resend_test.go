package edge_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// lossyLink is a TCP proxy between devices and the edge. On a muted
// connection it swallows everything the edge sends, as a connection does
// when the edge dies with a PUBACK not yet out. It counts the PUBLISH
// packets devices send with the DUP flag.
type lossyLink struct {
	l      net.Listener
	target string
	dups   atomic.Int64

	mu    sync.Mutex // guards conns
	conns []*linkConn
}

// linkConn is a device's connection through the link and its own to the edge.
type linkConn struct {
	dev, edge net.Conn
	mute      atomic.Bool
}

func newLossyLink(t *testing.T, target string) *lossyLink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &lossyLink{l: l, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		k.mu.Lock()
		for _, c := range k.conns {
			c.dev.Close()
			c.edge.Close()
		}
		k.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			dev, err := l.Accept()
			if err != nil {
				return
			}
			edge, err := net.Dial("tcp", target)
			if err != nil { // the edge is down: the device tries again
				dev.Close()
				continue
			}
			c := &linkConn{dev: dev, edge: edge}
			k.mu.Lock()
			k.conns = append(k.conns, c)
			k.mu.Unlock()
			wg.Go(func() {
				k.fromDevice(dev, edge)
				edge.Close()
				dev.Close()
			})
			wg.Go(func() {
				c.fromEdge()
				edge.Close()
				dev.Close()
			})
		}
	})
	return k
}

func (k *lossyLink) addr() string { return k.l.Addr().String() }

// mute makes the connections open now swallow what the edge sends, for
// the rest of their lives; later connections are not muted. Whatever the
// edge sends on them after this call is lost, when ever it is read.
func (k *lossyLink) mute() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns {
		c.mute.Store(true)
	}
}

// fromDevice copies packet by packet, noting publishes with DUP set.
func (k *lossyLink) fromDevice(dev, edge net.Conn) {
	r := bufio.NewReader(dev)
	for {
		pk, err := readPacket(r)
		if err != nil {
			return
		}
		if pk[0]>>4 == packets.Publish && pk[0]&0x08 != 0 {
			k.dups.Add(1)
		}
		if _, err := edge.Write(pk); err != nil {
			return
		}
	}
}

func (c *linkConn) fromEdge() {
	buf := make([]byte, 4096)
	for {
		n, err := c.edge.Read(buf)
		if n > 0 && !c.mute.Load() {
			if _, err := c.dev.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// readPacket reads one MQTT control packet, fixed header included.
func readPacket(r *bufio.Reader) ([]byte, error) {
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	pk := []byte{first}
	n, shift := 0, 0
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		pk = append(pk, b)
		n |= int(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return nil, errors.New("remaining length longer than 4 bytes")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(pk, body...), nil
}

// TestResendAfterLostPubackIsStoredOnce: a device publishes, the edge
// stores the message but its PUBACK never reaches the device, and the edge
// goes away (its memory with it; the outbox stays as it was left). The
// device reconnects to the restarted edge and resends with DUP: the edge
// acknowledges the resend and the hub holds the point once.
func TestResendAfterLostPubackIsStoredOnce(t *testing.T) {
	v := start(t)
	v.cfg.MQTTListen = v.edge.MQTTAddr() // the restarted edge listens at the same address
	link := newLossyLink(t, v.edge.MQTTAddr())

	// No keepalive: on the muted connection a ping would go unanswered, and
	// paho would reconnect (and resend) before the edge restarts if waiting
	// for the hub took longer than its keepalive.
	store := paho.NewMemoryStore()
	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + link.addr()).
		SetClientID("press-3").SetProtocolVersion(4).SetCleanSession(false).SetStore(store).
		SetKeepAlive(0).SetAutoReconnect(true).SetMaxReconnectInterval(50 * time.Millisecond))
	if tok := dev.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { dev.Disconnect(100) })

	link.mute()
	payload := fmt.Appendf(nil, `{"value": 42, "ts": %d}`, time.Now().UnixMilli())
	dev.Publish("f/m/once", 1, false, payload)
	eventually(t, "the edge to store the message", func() bool { return v.edge.Status().Ingest.Points == 1 })
	// The hard case: the hub has it too, so the outbox may delete it.
	eventually(t, "the point at the hub", func() bool {
		return v.count("f/m/once") == 1 && v.edge.Status().Outbox.PendingRecords == 0
	})
	if n := len(store.All()); n != 1 {
		t.Fatalf("device store holds %d messages, want the unacknowledged one", n)
	}

	// The edge goes away before its PUBACK reached the device.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.startEdge()

	eventually(t, "the device's resend to be acknowledged", func() bool { return len(store.All()) == 0 })
	if n := link.dups.Load(); n != 1 {
		t.Errorf("the device sent %d publishes with DUP, want its one resend", n)
	}
	st := v.edge.Status()
	if st.Ingest.Messages != 1 || st.Ingest.ResendsSkipped != 1 || st.Ingest.Points != 0 {
		t.Errorf("restarted edge: %d messages, %d resends skipped, %d points stored; want 1, 1, 0",
			st.Ingest.Messages, st.Ingest.ResendsSkipped, st.Ingest.Points)
	}
	eventually(t, "the outbox to drain", func() bool { return v.edge.Status().Outbox.PendingRecords == 0 })
	if n := v.count("f/m/once"); n != 1 {
		t.Errorf("hub stored the point %d times, want once", n)
	}
}

// rawDevice is an MQTT 3.1.1 client written packet by packet, so that a
// test chooses packet ids and the DUP flag itself.
type rawDevice struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr, clientID string) *rawDevice {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	d := &rawDevice{t: t, c: c, r: bufio.NewReader(c)}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect:         packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: clientID, Keepalive: 60},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	if ack := d.roundTrip(buf.Bytes()); ack[0]>>4 != packets.Connack || ack[3] != 0 {
		t.Fatalf("CONNACK %x", ack)
	}
	return d
}

func (d *rawDevice) roundTrip(pk []byte) []byte {
	d.t.Helper()
	d.c.SetDeadline(time.Now().Add(patience))
	if _, err := d.c.Write(pk); err != nil {
		d.t.Fatal(err)
	}
	ack, err := readPacket(d.r)
	if err != nil {
		d.t.Fatalf("waiting for the acknowledgement: %v", err)
	}
	return ack
}

// publish sends a QoS 1 PUBLISH and waits for its PUBACK.
func (d *rawDevice) publish(topic, payload string, id uint16, dup bool) {
	d.t.Helper()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: 1, Dup: dup},
		ProtocolVersion: 4, TopicName: topic, Payload: []byte(payload), PacketID: id,
	}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		d.t.Fatal(err)
	}
	ack := d.roundTrip(buf.Bytes())
	if ack[0]>>4 != packets.Puback || len(ack) != 4 || uint16(ack[2])<<8|uint16(ack[3]) != id {
		d.t.Fatalf("PUBACK %x, want one for packet %d", ack, id)
	}
}

// TestResendRecognition shows which publishes the edge takes for resends
// of a stored one, within a run and after a restart: only those with the
// same client id, packet id, topic and payload whose points carry the
// device's own time. Everything else is stored, whatever the DUP flag says.
func TestResendRecognition(t *testing.T) {
	v := start(t)
	v.cfg.MQTTListen = v.edge.MQTTAddr()
	ms := time.Now().Add(-time.Minute).UnixMilli()
	p1 := fmt.Sprintf(`{"value": 1, "ts": %d}`, ms)
	p2 := fmt.Sprintf(`{"value": 2, "ts": %d}`, ms+1)
	type step struct {
		name          string
		client        string
		topic, pay    string
		id            uint16
		dup, restored bool // restored: the edge restarted before this step
		stored        bool
	}
	steps := []step{
		{name: "first publish", client: "a", topic: "f/m/x", pay: p1, id: 7, stored: true},
		{name: "its resend", client: "a", topic: "f/m/x", pay: p1, id: 7, dup: true},
		{name: "its resend without DUP (clients that do not set it)", client: "a", topic: "f/m/x", pay: p1, id: 7},
		{name: "new message reusing the packet id", client: "a", topic: "f/m/x", pay: p2, id: 7, stored: true},
		{name: "resend of the new message", client: "a", topic: "f/m/x", pay: p2, id: 7, dup: true},
		{name: "same payload on another topic", client: "a", topic: "f/m/z", pay: p2, id: 7, dup: true, stored: true},
		{name: "same message from another client", client: "b", topic: "f/m/x", pay: p1, id: 7, dup: true, stored: true},
		// A bare value takes the receive time: the same bytes under the
		// same packet id may be a new reading of an unchanged value.
		{name: "bare value", client: "a", topic: "f/m/y", pay: "5", id: 9, stored: true},
		{name: "bare value again, DUP", client: "a", topic: "f/m/y", pay: "5", id: 9, dup: true, stored: true},
		// After a restart the edge knows the stored publishes from its outbox.
		{name: "resend after a restart", client: "a", topic: "f/m/x", pay: p2, id: 7, dup: true, restored: true},
		{name: "other client's resend after a restart", client: "b", topic: "f/m/x", pay: p1, id: 7, dup: true},
		{name: "new message after a restart", client: "a", topic: "f/m/x", pay: p1, id: 10, stored: true},
	}
	devs := map[string]*rawDevice{}
	var stored, skipped int64
	want := map[string]int{}
	for _, s := range steps {
		if s.restored {
			if err := v.edge.Close(); err != nil {
				t.Fatal(err)
			}
			v.startEdge()
			clear(devs)
			stored, skipped = 0, 0
		}
		if devs[s.client] == nil {
			devs[s.client] = dialRaw(t, v.edge.MQTTAddr(), "raw-"+s.client)
		}
		devs[s.client].publish(s.topic, s.pay, s.id, s.dup)
		if s.stored {
			stored++
			want[s.topic]++
		} else {
			skipped++
		}
		st := v.edge.Status()
		if st.Ingest.Points != stored || st.Ingest.ResendsSkipped != skipped {
			t.Fatalf("%s: edge stored %d points and skipped %d resends so far, want %d and %d",
				s.name, st.Ingest.Points, st.Ingest.ResendsSkipped, stored, skipped)
		}
	}
	// The identities stay at the edge: the hub stores every record.
	eventually(t, "the outbox to drain", func() bool { return v.edge.Status().Outbox.PendingRecords == 0 })
	for topic, n := range want {
		if got := v.count(topic); got != n {
			t.Errorf("hub holds %d points of %s, want %d", got, topic, n)
		}
	}
	if st := v.edge.Status(); st.Forward.DeadLetterRecords != 0 {
		t.Errorf("%d records dead-lettered", st.Forward.DeadLetterRecords)
	}
}

// TestOutboxRecordsWithoutIdentityStillForward: records written before
// publishes carried their identity (and records of a later envelope
// version) reach the hub.
func TestOutboxRecordsWithoutIdentityStillForward(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(v.cfg.DataDir, "outbox"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UnixNano()
	for _, rec := range [][]byte{
		uplink.EncodePoints(nil, []uns.Point{{Series: "f/m/old", TS: ts, Value: uns.Int(1)}}),
		// 0x00, a header of 3 bytes starting with version 9, the record.
		append([]byte{0x00, 3, 9, 1, 2}, uplink.EncodePoints(nil, []uns.Point{{Series: "f/m/later", TS: ts, Value: uns.Int(2)}})...),
	} {
		if _, err := ob.Append(t.Context(), rec, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	eventually(t, "the records at the hub", func() bool { return v.count("f/m/old") == 1 && v.count("f/m/later") == 1 })
	if st := v.edge.Status(); st.Forward.DeadLetterRecords != 0 {
		t.Errorf("%d records dead-lettered", st.Forward.DeadLetterRecords)
	}
}
