package sparkplug_test

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/connector/sparkplug/sparkplugtest"
	"github.com/molen-io/molen/internal/uns"
)

func TestConformance(t *testing.T) {
	var nodes sync.Map // *broker → *sparkplugtest.Node
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer { return newBroker(t) },
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			spec, ok := connector.Lookup("sparkplug")
			if !ok {
				t.Fatal(`connector "sparkplug" is not registered`)
			}
			cfg := testConfig(p.(*broker).URL(), "plant-1")
			if slow {
				cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
			}
			in, err := spec.Build(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return in
		},
		// Every round is a new birth of the node and its device, then
		// data by alias; Sparkplug messages are not retained, so it waits
		// for the host's subscription (after a restart of the broker too).
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			b := p.(*broker)
			waitFor(t, "the host's subscription", func() bool { return b.subscribed("spBv1.0/plant-1/NBIRTH/gw-1") })
			v, _ := nodes.LoadOrStore(b, sparkplugtest.NewNode("plant-1", "gw-1", b.publish))
			n := v.(*sparkplugtest.Node)
			tmp := with(temp, uns.Float(20.5+float64(round)))
			cnt := with(count, uns.Int(int64(100+round)))
			st := with(state, uns.String(fmt.Sprintf("run-%d", round)))
			on := sparkplugtest.Metric{Name: "on", Type: sparkplug.Boolean, Value: uns.Bool(round%2 == 1)}
			must(t, n.Birth(tmp, rpm))
			must(t, n.DeviceBirth("press-3", cnt, st, on))
			must(t, n.Data(with(rpm, uns.Int(int64(-round)))))
			must(t, n.DeviceData("press-3", on))
			return map[string]uns.Value{
				"plant-1/gw-1/Temp__C_":      uns.Float(20.5 + float64(round)),
				"plant-1/gw-1/Motor/RPM":     uns.Int(int64(-round)),
				"plant-1/gw-1/press-3/count": uns.Int(int64(100 + round)),
				"plant-1/gw-1/press-3/state": uns.String(fmt.Sprintf("run-%d", round)),
				"plant-1/gw-1/press-3/on":    uns.Bool(round%2 == 1),
			}
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			must(t, p.(*broker).publish("spBv1.0/plant-1/NDATA/gw-1", []byte("not protobuf \xff")))
			return sparkplug.ReasonNotProtobuf
		},
		// A refused write is retried with the same points; the messages
		// are acknowledged only after it succeeded.
		Redelivery: connectortest.Retry,
	})
}
