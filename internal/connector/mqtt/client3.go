package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// session3 is one MQTT 3.1.1 connection (eclipse/paho.mqtt.golang): it
// connects, subscribes and waits until the connection is lost or
// ctx ends. connected reports whether the subscriptions were accepted.
func (in *Input) session3(ctx context.Context, q *queue) (connected bool, err error) {
	lost := make(chan error, 1)
	gone := make(chan struct{})
	opts := in.cfg.ClientOptions(in.clientID, in.tls, func(m paho.Message) { in.receive(q, gone, m) }, lost)
	cl := paho.NewClient(opts)
	defer cl.Disconnect(uint(disconnectQuiesce / time.Millisecond))
	defer close(gone)

	tok := cl.Connect()
	if err := Wait(ctx, tok, 2*in.cfg.ConnectTimeout); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	filters := make(map[string]byte, len(in.subs))
	for _, s := range in.subs {
		filters[s.filter] = s.qos
	}
	if err := in.cfg.Subscribe(ctx, cl, filters); err != nil {
		return false, err
	}
	in.status.Connected("subscriptions", len(filters))
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

// Wait waits up to limit for tok and returns its error. If ctx ends first
// it still lets the attempt finish (within limit), so that none outlives
// Run. The other MQTT-based inputs (sparkplug, vda5050) use it too.
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
