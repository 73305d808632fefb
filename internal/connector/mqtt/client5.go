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

// session5 is one MQTT 5 connection (eclipse/paho.golang): it connects,
// subscribes and waits until the connection is lost or ctx ends. connected
// reports whether the subscriptions were accepted.
//
// The CONNECT carries max_inflight as its receive maximum, so the broker
// itself sends no more unacknowledged QoS 1 and 2 messages than the input
// holds; with clean_session false it asks for a session that never expires.
func (in *Input) session5(ctx context.Context, q *queue) (connected bool, err error) {
	conn, err := in.dial(ctx)
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
		ClientID: in.clientID,
		// The client writes from several goroutines; tls.Conn is not safe
		// for that.
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: in.cfg.ConnectTimeout,
		// All messages go to this handler, including those a persistent
		// session delivers before SUBSCRIBE is sent again. It runs on one
		// goroutine, one message after the other.
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
			func(r paho5.PublishReceived) (bool, error) {
				in.receive(q, gone, publish5{cl: r.Client, pb: r.Packet})
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
	if in.cfg.CleanSession {
		expiry = 0
	}
	receiveMax := uint16(in.cfg.MaxInflight)
	cctx, cancel := context.WithTimeout(ctx, in.cfg.ConnectTimeout)
	ca, err := cl.Connect(cctx, &paho5.Connect{
		ClientID:     in.clientID,
		KeepAlive:    uint16(in.cfg.KeepAlive / time.Second),
		CleanStart:   in.cfg.CleanSession,
		Username:     in.cfg.Username,
		UsernameFlag: in.cfg.Username != "",
		Password:     []byte(in.cfg.Password),
		PasswordFlag: in.cfg.Password != "",
		Properties: &paho5.ConnectProperties{
			SessionExpiryInterval: &expiry,
			ReceiveMaximum:        &receiveMax,
		},
	})
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
		// Bound the DISCONNECT's write: the broker may not be reading.
		_ = conn.SetWriteDeadline(time.Now().Add(disconnectQuiesce))
		_ = cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	}()
	defer close(gone) // before Disconnect, which waits for the handler

	s := &paho5.Subscribe{Subscriptions: make([]paho5.SubscribeOptions, len(in.subs))}
	for i, sb := range in.subs {
		s.Subscriptions[i] = paho5.SubscribeOptions{Topic: sb.filter, QoS: sb.qos}
	}
	sctx, cancel := context.WithTimeout(ctx, in.cfg.ConnectTimeout)
	sa, err := cl.Subscribe(sctx, s)
	cancel()
	if sa != nil {
		for i, code := range sa.Reasons {
			if code >= 0x80 && i < len(s.Subscriptions) {
				return false, fmt.Errorf("subscribe %q: the broker refused it (reason code 0x%02x; not authorised?)", s.Subscriptions[i].Topic, code)
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	in.status.Connected("subscriptions", len(s.Subscriptions), "protocol", "MQTT 5")
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
func (in *Input) dial(ctx context.Context) (net.Conn, error) {
	u, err := url.Parse(in.cfg.URL)
	if err != nil {
		return nil, errors.New("url: does not parse") // compile checked it
	}
	d := &net.Dialer{Timeout: in.cfg.ConnectTimeout}
	var conn net.Conn
	if in.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: in.tls}).DialContext(ctx, "tcp", u.Host)
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
