package opcua_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/opcua"
	"github.com/molen-io/molen/internal/connector/opcua/opcuatest"
	"github.com/molen-io/molen/internal/uns"
)

const prefix = "test-site/opcua/machine-1/"

// testVar is one variable of the conformance server and its value per
// round, as the server holds it (raw) and as the input must deliver it.
type testVar struct {
	name  string
	raw   func(round int) any
	value func(round int) uns.Value
}

// conformanceVars covers every supported scalar type.
var conformanceVars = []testVar{
	{"Temp", func(r int) any { return 20.5 + float64(r) }, func(r int) uns.Value { return uns.Float(20.5 + float64(r)) }},
	{"Speed", func(r int) any { return float32(r) * 1.5 }, func(r int) uns.Value { return uns.Float(float64(r) * 1.5) }},
	{"Count", func(r int) any { return int32(-100 * r) }, func(r int) uns.Value { return uns.Int(int64(-100 * r)) }},
	{"Total", func(r int) any { return uint64(1<<40 + r) }, func(r int) uns.Value { return uns.Int(1<<40 + int64(r)) }},
	{"Level", func(r int) any { return uint16(1000 + r) }, func(r int) uns.Value { return uns.Int(int64(1000 + r)) }},
	{"Step", func(r int) any { return int8(-r) }, func(r int) uns.Value { return uns.Int(int64(-r)) }},
	{"Running", func(r int) any { return r%2 == 1 }, func(r int) uns.Value { return uns.Bool(r%2 == 1) }},
	{"Recipe", func(r int) any { return fmt.Sprintf("recipe-%d", r) }, func(r int) uns.Value { return uns.String(fmt.Sprintf("recipe-%d", r)) }},
}

// badVar is a variable the Bad hook gives a Bad status.
const badVar = "Sensor"

func series(name string) string { return prefix + name }

// set puts round's value of every variable into the server.
func set(s *opcuatest.Server, round int) map[string]uns.Value {
	want := make(map[string]uns.Value, len(conformanceVars))
	for _, v := range conformanceVars {
		s.Set(v.name, v.raw(round))
		want[series(v.name)] = v.value(round)
	}
	return want
}

func newServer(t testing.TB, opts opcuatest.Options) *opcuatest.Server {
	t.Helper()
	s, err := opcuatest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	set(s, 0)
	s.Set(badVar, int32(0))
	return s
}

// fastConfig is a config for tests: it publishes, polls and backs off in
// milliseconds.
func fastConfig(s *opcuatest.Server, mode string) *opcua.Config {
	cfg := opcua.NewConfig()
	cfg.Endpoint = s.URL()
	cfg.SecurityMode = "None"
	cfg.Mode = mode
	cfg.PublishingInterval = 10 * time.Millisecond
	cfg.SamplingInterval = 0
	cfg.PollInterval = 10 * time.Millisecond
	cfg.Timeout = 2 * time.Second
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	for _, v := range conformanceVars {
		cfg.Nodes = append(cfg.Nodes, opcua.Node{ID: s.NodeID(v.name), Path: series(v.name)})
	}
	cfg.Nodes = append(cfg.Nodes, opcua.Node{ID: s.NodeID(badVar), Path: series(badVar)})
	return cfg
}

func build(t testing.TB, cfg *opcua.Config) connector.Input {
	t.Helper()
	spec, ok := connector.Lookup("opcua")
	if !ok {
		t.Fatal(`connector "opcua" is not registered`)
	}
	in, err := spec.Build(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func harness(mode string, opts opcuatest.Options) connectortest.Harness {
	return connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer { return newServer(t, opts) },
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			cfg := fastConfig(p.(*opcuatest.Server), mode)
			if slow {
				cfg.PollInterval = time.Hour
				cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
			}
			return build(t, cfg)
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return set(p.(*opcuatest.Server), round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			p.(*opcuatest.Server).SetStatus(badVar, nil, ua.StatusBadSensorFailure)
			return opcua.ReasonBadStatus
		},
		// Refused writes are retried with the same points, in both modes.
		Redelivery: connectortest.Retry,
		Wait:       wait,
	}
}

func TestConformanceSubscribe(t *testing.T) {
	connectortest.Run(t, harness(opcua.ModeSubscribe, opcuatest.Options{}))
}

func TestConformancePoll(t *testing.T) {
	connectortest.Run(t, harness(opcua.ModePoll, opcuatest.Options{}))
}

// TestConformanceFallback runs the suite against a server without the
// subscription service: the subscribing input polls.
func TestConformanceFallback(t *testing.T) {
	connectortest.Run(t, harness(opcua.ModeSubscribe, opcuatest.Options{NoSubscriptions: true}))
}
