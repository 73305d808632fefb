package s7_test

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/s7"
)

func validConfig() *s7.Config {
	c := s7.NewConfig()
	c.Address = "192.168.10.50"
	c.Items = []s7.Item{
		{Path: "s/a/run", DB: 1, Byte: 0, Bit: 2, Type: "bool"},
		{Path: "s/a/temp", DB: 1, Byte: 2, Type: "real"},
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*s7.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*s7.Config) {}, ""},
		{"with port", func(c *s7.Config) { c.Address = "plc:1102" }, ""},
		{"no address", func(c *s7.Config) { c.Address = "" }, "address: required"},
		{"bad address", func(c *s7.Config) { c.Address = "a:b:c" }, "address: "},
		{"rack", func(c *s7.Config) { c.Rack = 8 }, "rack: must be 0..7"},
		{"slot", func(c *s7.Config) { c.Slot = 32 }, "slot: must be 0..31"},
		{"connection type", func(c *s7.Config) { c.ConnectionType = "hmi" }, `connection_type: "hmi": want pg, op or basic`},
		{"pdu", func(c *s7.Config) { c.PDUSize = 100 }, "pdu_size: must be 240..960"},
		{"gap", func(c *s7.Config) { c.MaxGap = -1 }, "max_gap: "},
		{"poll", func(c *s7.Config) { c.PollInterval = 0 }, "poll_interval: must be > 0"},
		{"timeout", func(c *s7.Config) { c.Timeout = 0 }, "timeout: must be > 0"},
		{"no items", func(c *s7.Config) { c.Items = nil }, "items: at least one"},
		{"type", func(c *s7.Config) { c.Items[1].Type = "float" }, `items[1].type: "float": want one of [bool byte dint dword int lreal real word]`},
		{"db 0", func(c *s7.Config) { c.Items[0].DB = 0 }, "items[0].db: must be 1..65535"},
		{"byte", func(c *s7.Config) { c.Items[0].Byte = -1 }, "items[0].byte: must be 0..2097151"},
		{"bit 8", func(c *s7.Config) { c.Items[0].Bit = 8 }, "items[0].bit: must be 0..7"},
		{"bit of a real", func(c *s7.Config) { c.Items[1].Bit = 1 }, "items[1].bit: only a bool has a bit"},
		{"path twice", func(c *s7.Config) { c.Items[1].Path = "s/a/run" }, `items[1].path: "s/a/run" is already items[0].path`},
		{"bad path", func(c *s7.Config) { c.Items[1].Path = "/x" }, "items[1].path: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExample(t *testing.T) {
	spec, _ := connector.Lookup("s7")
	cfg := connectortest.DecodeExample(t, "s7", "testdata/example.yaml")
	c := cfg.(*s7.Config)
	if c.Address != "192.168.10.50" || c.Slot != 1 || len(c.Items) != 6 || c.Items[5].Type != "lreal" {
		t.Errorf("decoded %+v", c)
	}
	if _, err := spec.Build(cfg, nil); err != nil {
		t.Fatal(err)
	}
}
