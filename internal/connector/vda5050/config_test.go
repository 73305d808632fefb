package vda5050_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/vda5050"
)

func validConfig() *vda5050.Config {
	c := vda5050.NewConfig()
	c.URL = "tcp://127.0.0.1:18830"
	c.Site, c.Area = "plant-1", "hall-a"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*vda5050.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*vda5050.Config) {}, ""},
		{"own template", func(c *vda5050.Config) { c.Asset = "p/agv/{serial_number}"; c.Site = "" }, ""},
		{"filters", func(c *vda5050.Config) { c.Manufacturers = []string{"a", "b"}; c.SerialNumbers = []string{"x"} }, ""},
		{"no url", func(c *vda5050.Config) { c.URL = "" }, "url: required"},
		{"credentials in url", func(c *vda5050.Config) { c.URL = "tcp://u:secret@b:1883" }, "url: put credentials"},
		{"tls on tcp", func(c *vda5050.Config) { c.CAFile = "ca.pem" }, "url: TLS settings"},
		{"no site", func(c *vda5050.Config) { c.Site = "" }, "site: required"},
		{"bad area", func(c *vda5050.Config) { c.Area = "hall a" }, `area: "hall a" is not a UNS path`},
		{"no serial in asset", func(c *vda5050.Config) { c.Asset = "{site}/agv/{manufacturer}" }, "asset: \"{site}/agv/{manufacturer}\": must hold {serial_number}"},
		{"unknown placeholder", func(c *vda5050.Config) { c.Asset = "{site}/{line}/{serial_number}" }, "{line}: want"},
		{"asset too long", func(c *vda5050.Config) { c.Asset = strings.Repeat("x/", 15) + "{serial_number}" }, "asset: "},
		{"interface", func(c *vda5050.Config) { c.InterfaceName = "u/agv" }, "interface_name: "},
		{"version", func(c *vda5050.Config) { c.MajorVersion = "v1" }, "major_version: \"v1\": want v2"},
		{"manufacturer wildcard", func(c *vda5050.Config) { c.Manufacturers = []string{"+"} }, "manufacturers[0]: "},
		{"serial twice", func(c *vda5050.Config) { c.SerialNumbers = []string{"a", "a"} }, "serial_numbers[1]: \"a\" listed twice"},
		{"qos", func(c *vda5050.Config) { c.QoS = 2 }, "qos: must be 0 or 1"},
		{"payload", func(c *vda5050.Config) { c.MaxPayload = 1 }, "max_payload: "},
		{"agvs", func(c *vda5050.Config) { c.MaxAGVs = 0 }, "max_agvs: "},
		{"backoff", func(c *vda5050.Config) { c.BackoffMax = 1 }, "backoff_max: must be >= backoff_min"},
		{"several", func(c *vda5050.Config) { c.QoS = 5; c.MaxAGVs = 0 }, "qos: must be 0 or 1\nmax_agvs"},
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
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate = %q shows the password", err)
			}
			if _, berr := vda5050.New(c, nil); (berr == nil) != (err == nil) {
				t.Errorf("New = %v, Validate = %v: they must agree", berr, err)
			}
		})
	}
}

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	spec, _ := connector.Lookup("vda5050")
	cfg := connectortest.DecodeExample(t, "vda5050", "testdata/example.yaml")
	if c := cfg.(*vda5050.Config); c.Area != "intralogistics" || len(c.Manufacturers) != 1 || !c.Visualization {
		t.Errorf("decoded %+v", c)
	}
	if _, err := spec.Build(cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "ca_file: ") {
		t.Errorf("Build = %v, want a ca_file error", err)
	}
	dec := yaml.NewDecoder(strings.NewReader("url: tcp://x:1\ntopic: a/b\n"))
	dec.KnownFields(true)
	if err := dec.Decode(spec.New()); err == nil {
		t.Error("unknown field topic: no error")
	}
}
