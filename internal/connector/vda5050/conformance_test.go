package vda5050_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/vda5050"
	"github.com/molen-io/molen/internal/connector/vda5050/vda5050test"
	"github.com/molen-io/molen/internal/uns"
)

// produce publishes round's state of two AGVs as retained QoS 1 messages,
// so that an input that subscribes later still gets them.
func produce(t *testing.T, b *vda5050test.Broker, round int) map[string]uns.Value {
	want := map[string]uns.Value{}
	for _, serial := range []string{"agv-1", "agv-2"} {
		agv := vda5050test.NewAGV("acme", serial, 1)
		agv.X, agv.Battery = float64(round)+0.5, float64(90-round)
		agv.Driving = round%2 == 1
		agv.OrderID = fmt.Sprintf("order-%d", round)
		if err := b.Publish(agv.Topic("state"), agv.State(time.Now()), true, 1); err != nil {
			t.Fatal(err)
		}
		asset := "plant-1/hall-a/agv/acme-" + serial + "/"
		want[asset+vda5050.TagPositionX] = uns.Float(agv.X)
		want[asset+vda5050.TagBatteryCharge] = uns.Float(agv.Battery)
		want[asset+vda5050.TagDriving] = uns.Bool(agv.Driving)
		want[asset+vda5050.TagOrderID] = uns.String(agv.OrderID)
	}
	return want
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer { return newBroker(t) },
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			spec, ok := connector.Lookup("vda5050")
			if !ok {
				t.Fatal(`connector "vda5050" is not registered`)
			}
			cfg := testConfig(p.(*vda5050test.Broker).URL())
			if slow {
				cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
			}
			in, err := spec.Build(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return in
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return produce(t, p.(*vda5050test.Broker), round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			if err := p.(*vda5050test.Broker).Publish("uagv/v2/acme/agv-1/state", []byte(`{"driving":`), false, 1); err != nil {
				t.Fatal(err)
			}
			return uns.ReasonNotJSON
		},
		// A refused write is retried with the same points; the messages
		// are acknowledged only after it succeeded.
		Redelivery: connectortest.Retry,
	})
}
