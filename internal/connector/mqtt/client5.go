package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
)

// ackInterval is how often the MQTT 5 client sends the acknowledgements
// the writer made (paho.golang batches them, in the order received). It
// adds up to this much to the time a message holds its place in the
// broker's receive maximum, so with max_inflight messages per interval it
// bounds the rate: 100 per 5 ms is 20,000 messages/s.
const ackInterval = 5 * time.Millisecond

// connect5 is one MQTT 5 connection (eclipse/paho.golang): it connects,
// subscribes and waits until the connection is lost or ctx ends. connected
// reports whether the subscriptions were accepted.
//
// The CONNECT carries max_inflight as its receive maximum, so the broker
// itself sends no more unacknowledged QoS 1 and 2 messages than the input
// holds; with clean_session false it asks for a session that never expires.
func (s *Session) connect5(ctx context.Context, q *queue) (connected bool, err error) {
	b := &s.cfg.Broker
	start := time.Now()
	conn, err := s.dial(ctx)
	if err != nil {
		return false, err
	}
	lost := make(chan error, 1)
	fail := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	gone := make(chan struct{})
	cl := paho5.NewClient(paho5.ClientConfig{
		ClientID: s.cfg.ClientID,
		// The client writes from several goroutines; tls.Conn is not safe
		// for that.
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: b.ConnectTimeout,
		// All messages go to this handler, including those a persistent
		// session delivers before SUBSCRIBE is sent again. It runs on one
		// goroutine, one message after the other.
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
			func(r paho5.PublishReceived) (bool, error) {
				s.receive(q, gone, publish5{cl: r.Client, pb: r.Packet})
				return true, nil
			},
		},
		OnClientError: fail,
		OnServerDisconnect: func(d *paho5.Disconnect) {
			reason := ""
			if d.Properties != nil && d.Properties.ReasonString != "" {
				reason = ": " + d.Properties.ReasonString
			}
			fail(fmt.Errorf("the broker disconnected (reason code 0x%02x%s)", d.ReasonCode, reason))
		},
		// Acknowledge only once the sink has the points.
		EnableManualAcknowledgment: true,
		SendAcksInterval:           ackInterval,
	})

	expiry := uint32(math.MaxUint32) // never
	if b.CleanSession {
		expiry = 0
	}
	receiveMax := uint16(b.MaxInflight)
	cp := &paho5.Connect{
		ClientID:     s.cfg.ClientID,
		KeepAlive:    uint16(b.KeepAlive / time.Second),
		CleanStart:   b.CleanSession,
		Username:     b.Username,
		UsernameFlag: b.Username != "",
		Password:     []byte(b.Password),
		PasswordFlag: b.Password != "",
		Properties: &paho5.ConnectProperties{
			SessionExpiryInterval: &expiry,
			ReceiveMaximum:        &receiveMax,
		},
	}
	if s.cfg.Presence != nil {
		_, off := s.cfg.Presence(start)
		cp.WillMessage = &paho5.WillMessage{Topic: off.Topic, Payload: off.Payload, QoS: off.QoS, Retain: off.Retain}
	}
	cctx, cancel := context.WithTimeout(ctx, b.ConnectTimeout)
	ca, err := cl.Connect(cctx, cp)
	cancel()
	if err != nil {
		// Connect has closed conn.
		if ca != nil && ca.ReasonCode >= 0x80 {
			reason := ""
			if ca.Properties != nil && ca.Properties.ReasonString != "" {
				reason = ": " + ca.Properties.ReasonString
			}
			return false, fmt.Errorf("connect: refused (reason code 0x%02x%s)", ca.ReasonCode, reason)
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if ctx.Err() != nil {
			// A clean stop: give the client two of its ticks to send the
			// acknowledgements the writer made (it sends them every
			// ackInterval), so that the broker does not deliver those
			// messages again.
			t := time.NewTimer(2 * ackInterval)
			<-t.C
		}
		// Bound the DISCONNECT's write: the broker may not be reading.
		_ = conn.SetWriteDeadline(time.Now().Add(disconnectQuiesce))
		_ = cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	}()
	defer close(gone) // before Disconnect, which waits for the handler

	sub := &paho5.Subscribe{Subscriptions: make([]paho5.SubscribeOptions, len(s.cfg.Filters))}
	for i, f := range s.cfg.Filters {
		sub.Subscriptions[i] = paho5.SubscribeOptions{Topic: f.Topic, QoS: f.QoS}
	}
	var sa *paho5.Suback
	if len(sub.Subscriptions) > 0 { // a publisher (an edge output) subscribes to nothing
		sctx, cancel := context.WithTimeout(ctx, b.ConnectTimeout)
		sa, err = cl.Subscribe(sctx, sub)
		cancel()
	}
	if sa != nil {
		for i, code := range sa.Reasons {
			if code >= 0x80 && i < len(sub.Subscriptions) {
				return false, fmt.Errorf("subscribe %q: the broker refused it (reason code 0x%02x; not authorised?)", sub.Subscriptions[i].Topic, code)
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	offline, err := s.online(ctx, client5{cl}, start, q, "protocol", "MQTT 5")
	if err != nil {
		return false, err
	}
	defer offline()
	select {
	case err := <-lost:
		return true, fmt.Errorf("connection lost: %w", err)
	case <-cl.Done():
		// The client reports why (OnClientError) just after it shut down.
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case err := <-lost:
			return true, fmt.Errorf("connection lost: %w", err)
		case <-t.C:
			return true, errors.New("connection lost: connection closed")
		}
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// dial opens the network connection to the broker, over TLS for an ssl://
// URL, within connect_timeout.
func (s *Session) dial(ctx context.Context) (net.Conn, error) {
	u, err := url.Parse(s.cfg.Broker.URL)
	if err != nil {
		return nil, errors.New("url: does not parse") // compile checked it
	}
	d := &net.Dialer{Timeout: s.cfg.Broker.ConnectTimeout}
	var conn net.Conn
	if s.cfg.TLS != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.cfg.TLS}).DialContext(ctx, "tcp", u.Host)
	} else {
		conn, err = d.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return conn, nil
}

// publish5 is a message received by the MQTT 5 client.
type publish5 struct {
	cl *paho5.Client
	pb *paho5.Publish
}

func (m publish5) Topic() string     { return m.pb.Topic }
func (m publish5) Payload() []byte   { return m.pb.Payload }
func (m publish5) Qos() byte         { return m.pb.QoS }
func (m publish5) MessageID() uint16 { return m.pb.PacketID }

// Ack marks the message acknowledged; the client sends the PUBACK or
// PUBREC within ackInterval, after those of the messages received before
// it. Its error (the connection that received the message is gone) needs
// no handling: the broker delivers the message again.
func (m publish5) Ack() { _ = m.cl.Ack(m.pb) }

// client5 publishes on an MQTT 5 connection.
type client5 struct{ cl *paho5.Client }

func (c client5) publish(ctx context.Context, p Publication, limit time.Duration) error {
	// As Wait does for MQTT 3.1.1: an attempt under way finishes within
	// limit even if ctx ends.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	_, err := c.cl.Publish(pctx, &paho5.Publish{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain})
	return err
}
