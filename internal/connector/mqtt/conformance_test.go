package mqtt_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// conformanceConfig subscribes with a path template and with the identity
// mapping.
func conformanceConfig(url string) *mqtt.Config {
	cfg := mqtt.NewConfig()
	cfg.URL = url
	cfg.ClientID = "molen-test-" + unique()
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.ConnectTimeout = 2 * time.Second
	cfg.Subscriptions = []mqtt.Subscription{
		{Topic: "factory/+/line1/#", Path: "test-site/{2}/line-1/{4+}"},
		{Topic: "cell7/#"},
	}
	return cfg
}

// produce publishes round's values as retained QoS 1 messages, so that an
// input that subscribes later still gets them, in every payload format.
func produce(t *testing.T, b *broker, round int) map[string]uns.Value {
	ms := time.Now().UnixMilli()
	b.Publish(t, "factory/hall-a/line1/press/temp", fmt.Appendf(nil, "%d.5", 20+round), true, 1)
	b.Publish(t, "factory/hall-a/line1/press/state", fmt.Appendf(nil, `{"value":"run-%d","ts":%d,"q":"good"}`, round, ms), true, 1)
	b.Publish(t, "factory/hall-b/line1/robot", fmt.Appendf(nil, `{"ts":%d,"axis":{"a1":%d},"ok":%t}`, ms, -round, round%2 == 1), true, 1)
	b.Publish(t, "cell7/oven/temp_c", fmt.Appendf(nil, "%d", 200+round), true, 1)
	return map[string]uns.Value{
		"test-site/hall-a/line-1/press/temp":    uns.Float(float64(20+round) + 0.5),
		"test-site/hall-a/line-1/press/state":   uns.String(fmt.Sprintf("run-%d", round)),
		"test-site/hall-b/line-1/robot/axis/a1": uns.Int(int64(-round)),
		"test-site/hall-b/line-1/robot/ok":      uns.Bool(round%2 == 1),
		"cell7/oven/temp_c":                     uns.Int(int64(200 + round)),
	}
}

// versions are the MQTT versions the input speaks; tests that hold for
// both run once for each.
var versions = []int{3, 5}

// eachVersion runs f as a subtest per MQTT version.
func eachVersion(t *testing.T, f func(t *testing.T, version int)) {
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { f(t, v) })
	}
}

func TestConformance(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		connectortest.Run(t, connectortest.Harness{
			NewPeer: func(t *testing.T) connectortest.Peer { return newBroker(t, nil) },
			NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
				spec, ok := connector.Lookup("mqtt")
				if !ok {
					t.Fatal(`connector "mqtt" is not registered`)
				}
				cfg := conformanceConfig(p.(*broker).URL())
				cfg.Version = version
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
				return produce(t, p.(*broker), round)
			},
			Bad: func(t *testing.T, p connectortest.Peer) string {
				p.(*broker).Publish(t, "factory/hall-a/line1/press/temp", []byte("21,5 °C"), false, 1)
				return uns.ReasonNotJSON
			},
			// A refused write is retried with the same points; the messages
			// are acknowledged only after it succeeded.
			Redelivery: connectortest.Retry,
		})
	})
}
