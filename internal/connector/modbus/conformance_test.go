package modbus_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/modbus"
	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/uns"
)

// testRegister is one register of the conformance device and how its value
// changes per round.
type testRegister struct {
	reg   modbus.Register
	value func(round int) uns.Value // as the input must deliver it
	raw   func(round int) uns.Value // as the device holds it, if it differs
}

const prefix = "test-site/modbus/dev/"

// conformanceRegisters covers every table, every register type and every
// byte and word order, with scale and offset.
var conformanceRegisters = []testRegister{
	{reg: modbus.Register{Path: prefix + "i16", Address: 0, Type: "int16"},
		value: func(r int) uns.Value { return uns.Int(int64(-7 * r)) }},
	{reg: modbus.Register{Path: prefix + "u16", Address: 1, Type: "uint16"},
		value: func(r int) uns.Value { return uns.Int(int64(60000 + r)) }},
	{reg: modbus.Register{Path: prefix + "i32_cdab", Address: 2, Type: "int32", WordOrder: "low_first"},
		value: func(r int) uns.Value { return uns.Int(int64(-100000 * r)) }},
	{reg: modbus.Register{Path: prefix + "u32", Address: 4, Type: "uint32"},
		value: func(r int) uns.Value { return uns.Int(int64(3_000_000_000 + r)) }},
	{reg: modbus.Register{Path: prefix + "f32_badc", Address: 6, Type: "float32", ByteOrder: "little"},
		value: func(r int) uns.Value { return uns.Float(float64(r) + 0.5) }},
	{reg: modbus.Register{Path: prefix + "f64_dcba", Address: 10, Type: "float64", ByteOrder: "little", WordOrder: "low_first"},
		value: func(r int) uns.Value { return uns.Float(1.25 * float64(r)) }},
	{reg: modbus.Register{Path: prefix + "scaled", Table: "input", Address: 0, Type: "uint16", Scale: 0.1, Offset: -5},
		raw:   func(r int) uns.Value { return uns.Int(int64(200 + r)) },
		value: func(r int) uns.Value { return uns.Float(float64(200+r)*0.1 + -5) }},
	{reg: modbus.Register{Path: prefix + "coil", Table: "coil", Address: 0},
		value: func(r int) uns.Value { return uns.Bool(r%2 == 1) }},
	{reg: modbus.Register{Path: prefix + "di", Table: "discrete", Address: 3},
		value: func(r int) uns.Value { return uns.Bool(r%2 == 0) }},
}

// set puts round's value of every register into the device.
func set(t testing.TB, s *modbustest.Server, regs []testRegister, round int) map[string]uns.Value {
	t.Helper()
	want := make(map[string]uns.Value, len(regs))
	for _, tr := range regs {
		r := tr.reg
		v := tr.value(round)
		want[r.Path] = v
		switch r.Table {
		case "coil":
			s.SetCoils(uint16(r.Address), v.Bool())
			continue
		case "discrete":
			s.SetDiscrete(uint16(r.Address), v.Bool())
			continue
		}
		raw := v
		if tr.raw != nil {
			raw = tr.raw(round)
		}
		typ, err := modbus.ParseType(r.Type)
		if err != nil {
			t.Fatal(err)
		}
		words, err := modbus.Encode(raw, typ, modbus.Order{ByteSwap: r.ByteOrder == "little", LowWordFirst: r.WordOrder == "low_first"})
		if err != nil {
			t.Fatalf("%s: %v", r.Path, err)
		}
		if r.Table == "input" {
			s.SetInput(uint16(r.Address), words...)
		} else {
			s.SetHolding(uint16(r.Address), words...)
		}
	}
	return want
}

// fastConfig is a config for tests: it polls and backs off in milliseconds.
func fastConfig(s *modbustest.Server, regs []testRegister) *modbus.Config {
	cfg := modbus.NewConfig()
	cfg.URL = s.URL()
	cfg.PollInterval = 5 * time.Millisecond
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.BaudRate = 115200
	cfg.MaxGap = 4
	for _, tr := range regs {
		cfg.Registers = append(cfg.Registers, tr.reg)
	}
	return cfg
}

func newServer(t testing.TB, f modbustest.Framing) *modbustest.Server {
	t.Helper()
	s, err := modbustest.NewServer(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func harness(f modbustest.Framing) connectortest.Harness {
	return connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			s := newServer(t, f)
			set(t, s, conformanceRegisters, 0)
			return s
		},
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			return buildInput(t, fastConfig(p.(*modbustest.Server), conformanceRegisters), slow)
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return set(t, p.(*modbustest.Server), conformanceRegisters, round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			p.(*modbustest.Server).GarbleNext(1)
			if f == modbustest.RTUOverTCP {
				return modbus.ReasonBadCRC
			}
			return modbus.ReasonBadFrame // a TCP response whose byte count disagrees with its length
		},
		Redelivery: connectortest.Retry,
	}
}

// buildInput builds a modbus input from cfg through the registry; slow
// makes every wait an hour.
func buildInput(t *testing.T, cfg *modbus.Config, slow bool) connector.Input {
	t.Helper()
	spec, ok := connector.Lookup("modbus")
	if !ok {
		t.Fatal(`connector "modbus" is not registered`)
	}
	if slow {
		cfg.PollInterval = time.Hour
		cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
	}
	in, err := spec.Build(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestConformanceTCP(t *testing.T) { connectortest.Run(t, harness(modbustest.TCP)) }

func TestConformanceRTUOverTCP(t *testing.T) { connectortest.Run(t, harness(modbustest.RTUOverTCP)) }
