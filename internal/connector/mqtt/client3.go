package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// connect3 is one MQTT 3.1.1 connection (eclipse/paho.mqtt.golang): it
// connects, subscribes and waits until the connection is lost or ctx ends.
// connected reports whether the subscriptions were accepted.
func (s *Session) connect3(ctx context.Context, q *queue) (connected bool, err error) {
	lost := make(chan error, 1)
	gone := make(chan struct{})
	start := time.Now()
	opts := s.cfg.Broker.ClientOptions(s.cfg.ClientID, s.cfg.TLS, func(m paho.Message) { s.receive(q, gone, m) }, lost)
	if s.cfg.Presence != nil {
		_, off := s.cfg.Presence(start)
		opts.SetBinaryWill(off.Topic, off.Payload, off.QoS, off.Retain)
	}
	cl := paho.NewClient(opts)
	defer cl.Disconnect(uint(disconnectQuiesce / time.Millisecond))
	defer close(gone)

	if err := Wait(ctx, cl.Connect(), 2*s.cfg.Broker.ConnectTimeout); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	filters := make(map[string]byte, len(s.cfg.Filters))
	for _, f := range s.cfg.Filters {
		filters[f.Topic] = f.QoS
	}
	if len(filters) > 0 { // a publisher (an edge output) subscribes to nothing
		if err := s.cfg.Broker.Subscribe(ctx, cl, filters); err != nil {
			return false, err
		}
	}
	offline, err := s.online(ctx, client3{cl}, start, q)
	if err != nil {
		return false, err
	}
	defer offline()
	select {
	case err := <-lost:
		if err == nil {
			err = errors.New("connection closed")
		}
		return true, fmt.Errorf("connection lost: %w", err)
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// client3 publishes on an MQTT 3.1.1 connection.
type client3 struct{ cl paho.Client }

func (c client3) publish(ctx context.Context, p Publication, limit time.Duration) error {
	tok := c.cl.Publish(p.Topic, p.QoS, p.Retain, p.Payload)
	if p.QoS == 0 {
		return nil
	}
	return Wait(ctx, tok, limit)
}

// Wait waits up to limit for tok and returns its error. If ctx ends first
// it still lets the attempt finish (within limit), so that none outlives
// the session.
func Wait(ctx context.Context, tok paho.Token, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		select {
		case <-tok.Done():
		case <-t.C:
		}
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer within %v", limit)
	}
}
