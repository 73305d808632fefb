package mtconnect_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mtconnect"
	"github.com/molen-io/molen/internal/connector/mtconnect/mtconnecttest"
	"github.com/molen-io/molen/internal/uns"
)

const prefix = "test-site/hall/line-1/vmc/"

// testItems are the data items of the test agent's device: samples and
// events of each value type, and a condition.
var testItems = []mtconnecttest.DataItem{
	{ID: "Stemp", Name: "spindle_temp", Category: mtconnecttest.Sample, Type: "Temperature", Component: "spindle"},
	{ID: "Srpm", Category: mtconnecttest.Sample, Type: "RotaryVelocity", Component: "spindle"},
	{ID: "prog", Name: "program", Category: mtconnecttest.Event, Type: "Program", Component: "controller"},
	{ID: "pc", Name: "part_count", Category: mtconnecttest.Event, Type: "PartCount", Component: "controller"},
	{ID: "sys", Name: "system", Category: mtconnecttest.Condition, Type: "SYSTEM", Component: "controller"},
}

// testMapping maps them: one by name, the others by id.
var testMapping = []mtconnect.Item{
	{Name: "spindle_temp", Path: prefix + "spindle_temp_c"},
	{ID: "Srpm", Path: prefix + "spindle_speed_rpm"},
	{ID: "prog", Path: prefix + "program"},
	{ID: "pc", Path: prefix + "part_count", Type: "int"},
	{ID: "sys", Path: prefix + "system"},
}

func newAgent(t testing.TB, bufferSize int) *mtconnecttest.Agent {
	t.Helper()
	a := mtconnecttest.NewAgent("VMC-3Axis", bufferSize, testItems...)
	if _, err := a.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	return a
}

// fastConfig polls and backs off in milliseconds.
func fastConfig(a *mtconnecttest.Agent) *mtconnect.Config {
	cfg := mtconnect.NewConfig()
	cfg.URL = a.URL()
	cfg.Device = a.Device()
	cfg.PollInterval = 5 * time.Millisecond
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.Items = testMapping
	return cfg
}

// produce sets round's values and returns them as the input delivers them.
func produce(a *mtconnecttest.Agent, round int) map[string]uns.Value {
	temp := 40 + float64(round) + 0.25
	a.Set("Stemp", fmt.Sprint(temp))
	a.Set("Srpm", fmt.Sprint(1000*round))
	a.Set("prog", fmt.Sprintf("O%04d", round))
	a.Set("pc", fmt.Sprint(10*round))
	return map[string]uns.Value{
		prefix + "spindle_temp_c":    uns.Float(temp),
		prefix + "spindle_speed_rpm": uns.Float(float64(1000 * round)),
		prefix + "program":           uns.String(fmt.Sprintf("O%04d", round)),
		prefix + "part_count":        uns.Int(int64(10 * round)),
	}
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			a := newAgent(t, 1024)
			produce(a, 0) // so that current has values, as a running machine's agent does
			return a
		},
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			spec, ok := connector.Lookup("mtconnect")
			if !ok {
				t.Fatal(`connector "mtconnect" is not registered`)
			}
			cfg := fastConfig(p.(*mtconnecttest.Agent))
			if slow {
				cfg.PollInterval = time.Hour
				cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
			}
			in, err := spec.Build(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return in
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return produce(p.(*mtconnecttest.Agent), round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			p.(*mtconnecttest.Agent).Garble(1)
			return mtconnect.ReasonBadDocument
		},
		Redelivery: connectortest.Retry,
	})
}
