package s7_test

import (
	"encoding/binary"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/s7"
	"github.com/molen-io/molen/internal/connector/s7/s7test"
	"github.com/molen-io/molen/internal/uns"
)

const prefix = "test-site/hall/line-1/plc/"

// testItem is one item of the conformance PLC and its value per round.
type testItem struct {
	item  s7.Item
	value func(round int) uns.Value
	raw   func(round int) []byte // the bytes the PLC holds
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// testItems cover every type, two data blocks and a hole.
var testItems = []testItem{
	{s7.Item{Path: prefix + "running", DB: 1, Byte: 0, Bit: 3, Type: "bool"},
		func(r int) uns.Value { return uns.Bool(r%2 == 1) },
		func(r int) []byte { return []byte{byte(r%2) << 3} }},
	{s7.Item{Path: prefix + "mode", DB: 1, Byte: 1, Type: "byte"},
		func(r int) uns.Value { return uns.Int(int64(200 + r)) },
		func(r int) []byte { return []byte{byte(200 + r)} }},
	{s7.Item{Path: prefix + "temp_offset", DB: 1, Byte: 2, Type: "int"},
		func(r int) uns.Value { return uns.Int(int64(-300 * r)) },
		func(r int) []byte { return be16(uint16(int16(-300 * r))) }},
	{s7.Item{Path: prefix + "status_word", DB: 1, Byte: 4, Type: "word"},
		func(r int) uns.Value { return uns.Int(int64(60000 + r)) },
		func(r int) []byte { return be16(uint16(60000 + r)) }},
	{s7.Item{Path: prefix + "position", DB: 1, Byte: 6, Type: "dint"},
		func(r int) uns.Value { return uns.Int(int64(-100000 * r)) },
		func(r int) []byte { return be32(uint32(int32(-100000 * r))) }},
	{s7.Item{Path: prefix + "good_count", DB: 1, Byte: 40, Type: "dword"},
		func(r int) uns.Value { return uns.Int(int64(3_000_000_000 + r)) },
		func(r int) []byte { return be32(uint32(3_000_000_000 + r)) }},
	{s7.Item{Path: prefix + "pressure_bar", DB: 7, Byte: 0, Type: "real"},
		func(r int) uns.Value { return uns.Float(float64(r) + 0.5) },
		func(r int) []byte { return be32(math.Float32bits(float32(r) + 0.5)) }},
	{s7.Item{Path: prefix + "energy_kwh", DB: 7, Byte: 4, Type: "lreal"},
		func(r int) uns.Value { return uns.Float(1234.125 * float64(r)) },
		func(r int) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(1234.125*float64(r))) }},
}

// set puts round's values into the PLC.
func set(s *s7test.Server, round int) map[string]uns.Value {
	want := map[string]uns.Value{}
	for _, ti := range testItems {
		s.Set(uint16(ti.item.DB), ti.item.Byte, ti.raw(round)...)
		want[ti.item.Path] = ti.value(round)
	}
	return want
}

func newServer(t testing.TB, pdu int) *s7test.Server {
	t.Helper()
	s, err := s7test.NewServer(pdu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fastConfig polls and backs off in milliseconds.
func fastConfig(s *s7test.Server) *s7.Config {
	cfg := s7.NewConfig()
	cfg.Address = s.Addr()
	cfg.PollInterval = 5 * time.Millisecond
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	for _, ti := range testItems {
		cfg.Items = append(cfg.Items, ti.item)
	}
	return cfg
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			s := newServer(t, 240)
			set(s, 0)
			return s
		},
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			spec, ok := connector.Lookup("s7")
			if !ok {
				t.Fatal(`connector "s7" is not registered`)
			}
			cfg := fastConfig(p.(*s7test.Server))
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
			return set(p.(*s7test.Server), round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			p.(*s7test.Server).GarbleNext(1)
			return s7.ReasonBadFrame
		},
		Redelivery: connectortest.Retry,
	})
}
