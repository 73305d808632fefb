package edge

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/mqttwire"
	"github.com/molen-io/molen/internal/uns"
)

// The edge's own ingest path (ADR 0037): a device that connects with
// MQTT 3.1.1 and a clean session, without a will, is served here rather
// than by mochi. Its packets are read from a buffer without an allocation
// each (mqttwire), its publishes go to the outbox as mochi's would through
// the ingest hook (submitMessage, deviceConn.hold), and its
// acknowledgements go out as deviceConn sends them: after the data is
// stored, in order, many in one write.
//
// Whatever this path does not serve goes to mochi, which reads the
// connection from its start (replayConn): a CONNECT of another version, of
// a persistent session, with a will, or refused; a client id mochi already
// has a session for; and, within a session, any packet but PUBLISH of QoS
// 0 or 1, PINGREQ and DISCONNECT (a SUBSCRIBE, a QoS 2 publish). mochi is
// then handed the CONNECT again, once everything the own path owes the
// client was sent, and its CONNACK is not sent a second time. The own path
// runs only where devices may not subscribe: it never passes a message on
// to subscribers.

const (
	// ownReadBuffer is the read buffer per connection: packets that fit
	// are decoded where they lie.
	ownReadBuffer = 8 << 10
	// maxPacket is the largest packet the listener takes (mochi's
	// MaximumPacketSize, set from it in startMQTT).
	maxPacket = 1 << 20
	// connectWait bounds the wait for a connection's CONNECT.
	connectWait = 10 * time.Second
	// keptTopics bounds a connection's topic strings kept for reuse.
	keptTopics = 1024
)

// reasonMalformedPacket counts packets that cannot be decoded; their
// connections are closed.
const reasonMalformedPacket = "malformed_packet"

// ownClients are the sessions on the own path by client id.
type ownClients struct {
	mu sync.Mutex // guards m
	m  map[string]*deviceConn
}

// takeOver registers dc as client id's session (nil: none) and ends the
// one before, as a client connecting again takes its session over.
func (o *ownClients) takeOver(id string, dc *deviceConn) {
	o.mu.Lock()
	old := o.m[id]
	switch {
	case dc != nil:
		if o.m == nil {
			o.m = map[string]*deviceConn{}
		}
		o.m[id] = dc
	case old != nil:
		delete(o.m, id)
	}
	o.mu.Unlock()
	if old != nil && old != dc {
		old.Close()
	}
}

// leave forgets dc as client id's session, if it still is.
func (o *ownClients) leave(id string, dc *deviceConn) {
	o.mu.Lock()
	if o.m[id] == dc {
		delete(o.m, id)
	}
	o.mu.Unlock()
}

// serveDevice serves one device connection on the own path, or hands it
// to mochi.
func (e *Edge) serveDevice(dc *deviceConn) {
	br := bufio.NewReaderSize(dc, ownReadBuffer)
	r := mqttwire.NewReader(br, maxPacket)
	_ = dc.Conn.SetReadDeadline(time.Now().Add(connectWait))
	pk, err := r.Next()
	if err != nil {
		dc.Close()
		return
	}
	connect := mqttwire.AppendPacket(nil, pk)
	if pk.Type != mqttwire.Connect {
		e.handOff(dc, r, connect, 0)
		return
	}
	c, err := mqttwire.ParseConnect(pk.Body)
	if err != nil || !ownConnect(c) {
		e.handOff(dc, r, connect, 0) // mochi answers as MQTT requires
		return
	}
	id := string(c.ClientID)
	cn, cert := peerName(dc)
	prefix, reason, _ := e.devices.admit(cn, cert, c.Username, c.Password)
	if _, known := e.mqtt.Clients.Get(id); known || reason != "" {
		// mochi takes its own session over, or refuses and counts.
		e.handOff(dc, r, connect, 0)
		return
	}
	e.own.takeOver(id, dc)
	atomic.AddInt64(&e.mqtt.Info.ClientsConnected, 1)
	s := &ownSession{e: e, dc: dc, r: r, id: id, prefix: prefix,
		dev:       device{client: id, remote: dc.RemoteAddr().String()},
		keepAlive: time.Duration(c.KeepAlive+c.KeepAlive/2) * time.Second,
		topics:    make(map[string]string)}
	next := s.serve()
	atomic.AddInt64(&e.mqtt.Info.ClientsConnected, -1)
	e.own.leave(id, dc)
	if next == nil {
		dc.Close()
		return
	}
	// A packet the own path does not serve: mochi goes on from the CONNECT,
	// once everything owed was sent; its CONNACK was sent already.
	if dc.drain() != nil {
		dc.Close()
		return
	}
	e.handOff(dc, r, append(connect, next...), len(mqttwire.AppendConnack(nil, 0)))
}

// ownConnect reports whether a CONNECT is one the own path serves.
func ownConnect(c mqttwire.ConnectPacket) bool {
	return c.Level == 4 && string(c.ProtocolName) == "MQTT" &&
		c.Flags&mqttwire.FlagCleanSession != 0 && c.Flags&mqttwire.FlagWill == 0 &&
		(c.Flags&mqttwire.FlagPassword == 0 || c.Flags&mqttwire.FlagUsername != 0 && len(c.Password) > 0) &&
		len(c.ClientID) > 0 && validText(c.ClientID) && validText(c.Username)
}

// validText reports whether b is text MQTT allows: UTF-8 without U+0000.
func validText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }

// handOff passes the connection to mochi, which reads pre and then what
// the connection holds, skipping the first skip bytes it writes.
func (e *Edge) handOff(dc *deviceConn, r *mqttwire.Reader, pre []byte, skip int) {
	_ = dc.Conn.SetDeadline(time.Time{})
	dc.release()
	e.mqttL.handOff(&replayConn{Conn: dc.Conn, pre: append(pre, r.Rest()...), skip: skip})
}

// ownSession is a device's session on the own path.
type ownSession struct {
	e         *Edge
	dc        *deviceConn
	r         *mqttwire.Reader
	id        string
	prefix    string // what the device may publish under ("": anywhere)
	dev       device
	keepAlive time.Duration     // 0: none
	topics    map[string]string // topics seen, kept for reuse
}

// serve reads the session's packets until it ends (nil) or a packet comes
// that mochi is to serve (returned, as it came).
func (s *ownSession) serve() []byte {
	var out [4]byte // an answer on its way to deviceConn, which copies it
	s.dc.Write(mqttwire.AppendConnack(out[:0], mqttwire.ConnackAccepted))
	for {
		if !s.r.Buffered() {
			var deadline time.Time
			if s.keepAlive > 0 {
				deadline = time.Now().Add(s.keepAlive)
			}
			_ = s.dc.Conn.SetDeadline(deadline)
		}
		pk, err := s.r.Next()
		if err != nil {
			if errors.Is(err, mqttwire.ErrMalformed) || errors.Is(err, mqttwire.ErrTooLarge) {
				s.malformed(err)
			}
			return nil
		}
		switch pk.Type {
		case mqttwire.Publish:
			p, err := mqttwire.ParsePublish(pk.Flags, pk.Body)
			if err != nil {
				s.malformed(err)
				return nil
			}
			if p.QoS == 2 {
				return mqttwire.AppendPacket(nil, pk)
			}
			if !s.publish(p, out[:0]) {
				return nil
			}
		case mqttwire.Pingreq:
			s.dc.Write(mqttwire.AppendPingresp(out[:0]))
		case mqttwire.Disconnect:
			return nil
		default:
			return mqttwire.AppendPacket(nil, pk)
		}
	}
}

// malformed counts a packet that cannot be decoded; its connection is
// closed (nothing of it was acknowledged).
func (s *ownSession) malformed(err error) {
	s.e.metrics.messages.Inc()
	s.e.reject(s.dev, "", nil, reasonMalformedPacket,
		&uns.RejectError{Reason: reasonMalformedPacket, Msg: err.Error() + "; the connection is closed"})
}

// topic returns b as a string, the same one each time a connection uses
// it: a device publishes to few topics.
func (s *ownSession) topic(b []byte) string {
	if t, ok := s.topics[string(b)]; ok {
		return t
	}
	t := string(b)
	if len(s.topics) < keptTopics {
		s.topics[t] = t
	}
	return t
}

// publish takes one publish as mochi and the ingest hook do for MQTT
// 3.1.1 (OnPacketRead, OnACLCheck, OnPublish); false: the connection ends.
func (s *ownSession) publish(p mqttwire.PublishPacket, out []byte) bool {
	e := s.e
	if !validText(p.Topic) {
		e.rejectTopic(s.dev, "", nil, packets.ErrMalformedTopic)
		return false
	}
	topic := s.topic(p.Topic)
	ack := func() {
		if p.QoS == 1 {
			s.dc.Write(mqttwire.AppendPuback(out, p.PacketID))
		}
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: p.QoS}, TopicName: topic, PacketID: p.PacketID}
	switch code := pk.PublishValidate(0); {
	case topicError(code):
		e.rejectTopic(s.dev, topic, p.Payload, code)
		return false
	case code != packets.CodeSuccess:
		return false
	case !mqtt.IsValidFilter(topic, true):
		e.metrics.messages.Inc()
		e.reject(s.dev, topic, p.Payload, uns.ReasonInvalidPath, errReservedTopic(topic))
		ack()
		return true
	}
	if !within(s.prefix, topic) {
		// As mochi answers MQTT 3.1.1: QoS 0 dropped, QoS 1 disconnected.
		e.devices.refusePublish(s.dev, topic, s.prefix)
		return p.QoS == 0
	}
	var id *resendID
	if p.QoS > 0 {
		rid := newResendID(s.id, p.PacketID, topic, p.Payload)
		id = &rid
	}
	st, err := e.submitMessage(s.dev, topic, p.Payload, id)
	switch {
	case err == nil && st != nil:
		s.dc.hold(st, func(err error) { e.refusingDevices(s.id, err) })
	case err == nil, errors.Is(err, errResent), uns.ReasonOf(err) != "":
		// Nothing to store, stored before, or bad input (counted and kept
		// by submitMessage): MQTT 3.1.1 has no negative acknowledgement.
	default:
		e.refusingDevices(s.id, err)
		return false
	}
	ack()
	return true
}

// replayConn is a connection mochi reads from its start: pre (what the own
// path read already), then the connection; the first skip bytes mochi
// writes (a CONNACK the device has) are not sent.
type replayConn struct {
	net.Conn
	pre  []byte
	skip int
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *replayConn) Write(p []byte) (int, error) {
	if c.skip > 0 {
		n := min(c.skip, len(p))
		c.skip -= n
		if n == len(p) {
			return n, nil
		}
		m, err := c.Conn.Write(p[n:])
		return n + m, err
	}
	return c.Conn.Write(p)
}
