package modbus_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/modbus"
)

func validConfig() *modbus.Config {
	c := modbus.NewConfig()
	c.URL = "tcp://127.0.0.1:15020"
	c.Registers = []modbus.Register{
		{Path: "s/a/temp", Address: 0, Type: "float32"},
		{Path: "s/a/run", Table: "coil", Address: 0},
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*modbus.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*modbus.Config) {}, ""},
		{"rtu over tcp", func(c *modbus.Config) { c.URL = "rtuovertcp://gw:4001" }, ""},
		{"no url", func(c *modbus.Config) { c.URL = "" }, "url: required"},
		{"serial", func(c *modbus.Config) { c.URL = "rtu:///dev/ttyUSB0"; c.Parity = "none"; c.StopBits = 2 }, ""},
		{"serial relative", func(c *modbus.Config) { c.URL = "rtu://ttyUSB0" }, "url: "},
		{"udp", func(c *modbus.Config) { c.URL = "rtuoverudp://gw:4001" }, "url: "},
		{"parity", func(c *modbus.Config) { c.Parity = "mark" }, `parity: "mark": want none, even or odd`},
		{"data bits", func(c *modbus.Config) { c.DataBits = 9 }, "data_bits: must be 7 or 8"},
		{"stop bits", func(c *modbus.Config) { c.StopBits = 3 }, "stop_bits: must be 1 or 2"},
		{"no port", func(c *modbus.Config) { c.URL = "tcp://plc" }, "url: "},
		{"unit 0", func(c *modbus.Config) { c.UnitID = 0 }, "unit_id: must be 1..247"},
		{"unit 248", func(c *modbus.Config) { c.UnitID = 248 }, "unit_id: must be 1..247"},
		{"poll 0", func(c *modbus.Config) { c.PollInterval = 0 }, "poll_interval: must be > 0"},
		{"timeout 0", func(c *modbus.Config) { c.Timeout = 0 }, "timeout: must be > 0"},
		{"max_registers 126", func(c *modbus.Config) { c.MaxRegisters = 126 }, "max_registers: must be 1..125"},
		{"max_gap -1", func(c *modbus.Config) { c.MaxGap = -1 }, "max_gap: must be 0..124"},
		{"byte order", func(c *modbus.Config) { c.ByteOrder = "middle" }, `byte_order: "middle"`},
		{"word order", func(c *modbus.Config) { c.WordOrder = "swapped" }, `word_order: "swapped"`},
		{"backoff", func(c *modbus.Config) { c.BackoffMax = time.Millisecond }, "backoff_max: must be >= backoff_min"},
		{"no registers", func(c *modbus.Config) { c.Registers = nil }, "registers: at least one"},
		{"address", func(c *modbus.Config) { c.Registers[1].Address = 70000 }, "registers[1].address: must be 0..65535"},
		{"address end", func(c *modbus.Config) { c.Registers[0].Address = 65535 }, "registers[0].address: 65535: a float32 ends at 65536"},
		{"path", func(c *modbus.Config) { c.Registers[0].Path = "s/+/temp" }, "registers[0].path: invalid UNS path"},
		{"one segment", func(c *modbus.Config) { c.Registers[0].Path = "temp" }, "registers[0].path: "},
		{"duplicate path", func(c *modbus.Config) { c.Registers[1].Path = "s/a/temp" }, `registers[1].path: "s/a/temp" is already registers[0].path`},
		{"table", func(c *modbus.Config) { c.Registers[0].Table = "holdings" }, `registers[0].table: "holdings"`},
		{"type", func(c *modbus.Config) { c.Registers[0].Type = "int64" }, `registers[0].type: unknown type "int64"`},
		{"bool register", func(c *modbus.Config) { c.Registers[0].Type = "bool" }, "registers[0].type: bool is for coils"},
		{"typed coil", func(c *modbus.Config) { c.Registers[1].Type = "uint16" }, `registers[1].type: "uint16": a coil is bool`},
		{"scaled coil", func(c *modbus.Config) { c.Registers[1].Scale = 2 }, "registers[1]: a coil takes no scale"},
		{"register order", func(c *modbus.Config) { c.Registers[0].WordOrder = "low" }, `registers[0].word_order: "low"`},
		{"several errors", func(c *modbus.Config) { c.UnitID = 0; c.Registers[1].Address = -1 }, "unit_id: must be 1..247\nregisters[1].address: must be 0..65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate = nil, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate = %q, want it to contain %q", err, tt.want)
			}
			if _, berr := modbus.New(c, nil); (berr == nil) != (err == nil) {
				t.Errorf("New = %v, Validate = %v: they must agree", berr, err)
			}
		})
	}
}

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	spec, _ := connector.Lookup("modbus")
	cfg := connectortest.DecodeExample(t, "modbus", "testdata/example.yaml")
	c := cfg.(*modbus.Config)
	if c.Timeout != 500*time.Millisecond || c.BaudRate != 19200 || len(c.Registers) != 7 {
		t.Errorf("decoded %+v", c)
	}
	if _, err := spec.Build(cfg, nil); err != nil {
		t.Fatal(err)
	}

	dec := yaml.NewDecoder(strings.NewReader("url: tcp://x:1\nunit: 3\n"))
	dec.KnownFields(true)
	if err := dec.Decode(spec.New()); err == nil {
		t.Error("unknown field unit: no error")
	}
}
