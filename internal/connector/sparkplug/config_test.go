package sparkplug_test

import (
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/sparkplug"
)

func validConfig() *sparkplug.Config {
	c := sparkplug.NewConfig()
	c.URL = "tcp://127.0.0.1:18830"
	c.Groups = []sparkplug.Group{{Group: "plant-1", Path: "site/{edge_node}/{device}/{metric}"}, {Group: "+"}}
	return c
}

func TestValidate(t *testing.T) {
	three := 3
	tests := []struct {
		name string
		edit func(*sparkplug.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*sparkplug.Config) {}, ""},
		{"no url", func(c *sparkplug.Config) { c.URL = "" }, "url: required"},
		{"credentials in url", func(c *sparkplug.Config) { c.URL = "tcp://u:secret@b:1883" }, "url: put credentials"},
		{"tls on tcp", func(c *sparkplug.Config) { c.CAFile = "ca.pem" }, "url: TLS settings"},
		{"reorder", func(c *sparkplug.Config) { c.ReorderTimeout = 0 }, "reorder_timeout: must be 1ms..1h"},
		{"host id", func(c *sparkplug.Config) { c.HostID = "a/b" }, `host_id: "a/b"`},
		{"no groups", func(c *sparkplug.Config) { c.Groups = nil }, "groups: at least one"},
		{"empty group", func(c *sparkplug.Config) { c.Groups[0].Group = "" }, "groups[0].group: required"},
		{"wildcard group", func(c *sparkplug.Config) { c.Groups[0].Group = "pl#" }, `groups[0].group: "pl#"`},
		{"duplicate", func(c *sparkplug.Config) { c.Groups[1].Group = "plant-1" }, "groups[1].group: \"plant-1\" is already groups[0].group"},
		{"plus first", func(c *sparkplug.Config) { c.Groups[0], c.Groups[1] = c.Groups[1], c.Groups[0] }, "groups[0].group: + matches every group"},
		{"qos", func(c *sparkplug.Config) { c.Groups[0].QoS = &three }, "groups[0].qos: must be 0, 1 or 2"},
		{"no metric", func(c *sparkplug.Config) { c.Groups[0].Path = "site/{edge_node}" }, "groups[0].path: \"site/{edge_node}\": must end with /{metric}"},
		{"metric inside", func(c *sparkplug.Config) { c.Groups[0].Path = "s/{metric}/x" }, "{metric} must be the last segment"},
		{"device in text", func(c *sparkplug.Config) { c.Groups[0].Path = "s/d-{device}/{metric}" }, "{device} must be a whole segment"},
		{"unknown placeholder", func(c *sparkplug.Config) { c.Groups[0].Path = "s/{node}/{metric}" }, "{node}: want {group}"},
		{"bad literal", func(c *sparkplug.Config) { c.Groups[0].Path = "my site/{metric}" }, "groups[0].path: "},
		{"one segment", func(c *sparkplug.Config) { c.Groups[0].Path = "{metric}" }, "groups[0].path: "},
		{"several", func(c *sparkplug.Config) { c.MaxInflight = 0; c.Groups[0].Group = "" }, "max_inflight: must be 1..65535\ngroups[0].group: required"},
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
			if _, berr := sparkplug.New(c, nil); (berr == nil) != (err == nil) {
				t.Errorf("New = %v, Validate = %v: they must agree", berr, err)
			}
		})
	}
}

// TestDocExample decodes the example of docs/connectors.md the way the
// edge loader does and validates it.
func TestDocExample(t *testing.T) {
	spec, _ := connector.Lookup("sparkplug")
	cfg := connectortest.DecodeExample(t, "sparkplug", "testdata/example.yaml")
	c := cfg.(*sparkplug.Config)
	if c.ReorderTimeout != 2*time.Second || len(c.Groups) != 2 || c.HostID != "molen-plant-1" || !*c.Rebirth {
		t.Errorf("decoded %+v", c)
	}
	if _, err := spec.Build(cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "ca_file: ") {
		t.Errorf("Build = %v, want a ca_file error", err)
	}
}
