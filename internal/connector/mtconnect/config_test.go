package mtconnect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mtconnect"
)

func validConfig() *mtconnect.Config {
	c := mtconnect.NewConfig()
	c.URL = "http://agent.local:5000"
	c.Items = []mtconnect.Item{{ID: "Stemp", Path: "s/a/temp"}, {Name: "execution", Path: "s/a/exec"}}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*mtconnect.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*mtconnect.Config) {}, ""},
		{"https with prefix", func(c *mtconnect.Config) { c.URL = "https://gw/agents/vmc/" }, ""},
		{"no url", func(c *mtconnect.Config) { c.URL = "" }, "url: required"},
		{"ftp", func(c *mtconnect.Config) { c.URL = "ftp://agent:21" }, "url: "},
		{"query", func(c *mtconnect.Config) { c.URL = "http://agent:5000/?x=1" }, "url: "},
		{"device with slash", func(c *mtconnect.Config) { c.Device = "a/b" }, "device: "},
		{"poll 0", func(c *mtconnect.Config) { c.PollInterval = 0 }, "poll_interval: must be > 0"},
		{"count 0", func(c *mtconnect.Config) { c.Count = 0 }, "count: must be 1..100000"},
		{"timeout 0", func(c *mtconnect.Config) { c.Timeout = 0 }, "timeout: must be > 0"},
		{"backoff", func(c *mtconnect.Config) { c.BackoffMax = time.Millisecond }, "backoff_max: must be >= backoff_min"},
		{"no items", func(c *mtconnect.Config) { c.Items = nil }, "items: at least one"},
		{"no id or name", func(c *mtconnect.Config) { c.Items[1].Name = "" }, "items[1]: give the data item's id or name"},
		{"id twice", func(c *mtconnect.Config) { c.Items[1].ID = "Stemp" }, `items[1].id: "Stemp" is mapped twice`},
		{"bad path", func(c *mtconnect.Config) { c.Items[0].Path = "a//b" }, "items[0].path: "},
		{"path twice", func(c *mtconnect.Config) { c.Items[1].Path = "s/a/temp" }, `items[1].path: "s/a/temp" is already items[0].path`},
		{"type", func(c *mtconnect.Config) { c.Items[0].Type = "double" }, `items[0].type: "double": want float, int or string`},
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

func TestParseInputs(t *testing.T) {
	ins, err := connector.ParseInputs([]byte(`inputs:
  - mtconnect:
      url: http://10.0.0.7:5000
      device: VMC-3Axis
      poll_interval: 500ms
      items:
        - {id: Stemp, path: plant/hall/vmc/spindle_temp_c}
        - {name: part_count, path: plant/hall/vmc/part_count, type: int}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := ins[0].Config.(*mtconnect.Config)
	if c.Device != "VMC-3Axis" || c.PollInterval != 500*time.Millisecond || c.Count != 1000 || len(c.Items) != 2 || c.Items[1].Type != "int" {
		t.Errorf("config %+v", c)
	}
	_, err = connector.ParseInputs([]byte("inputs:\n  - mtconnect: {url: http://a:5000, items: [{id: x, path: a/b}], intervall: 1s}\n"))
	if err == nil || !strings.Contains(err.Error(), "inputs[0].mtconnect") || !strings.Contains(err.Error(), "intervall") {
		t.Errorf("unknown field: error %v", err)
	}
}

func TestExample(t *testing.T) {
	spec, _ := connector.Lookup("mtconnect")
	cfg := connectortest.DecodeExample(t, "mtconnect", "testdata/example.yaml")
	c := cfg.(*mtconnect.Config)
	if c.Device != "VMC-3Axis" || c.Count != 1000 || len(c.Items) != 6 || c.Items[4].Type != "int" {
		t.Errorf("decoded %+v", c)
	}
	if _, err := spec.Build(cfg, nil); err != nil {
		t.Fatal(err)
	}
}
