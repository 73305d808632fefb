package mqtt_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mqtt"
)

func validConfig() *mqtt.Config {
	c := mqtt.NewConfig()
	c.URL = "tcp://127.0.0.1:18830"
	c.Subscriptions = []mqtt.Subscription{
		{Topic: "plant/+/line1/#", Path: "s/{2}/l1/{4+}"},
		{Topic: "s/a/temp"},
	}
	return c
}

func TestValidate(t *testing.T) {
	three := 3
	tests := []struct {
		name string
		edit func(*mqtt.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*mqtt.Config) {}, ""},
		{"mqtts", func(c *mqtt.Config) { c.URL = "mqtts://broker:8883"; c.InsecureSkipVerify = true }, ""},
		{"shared", func(c *mqtt.Config) { c.Subscriptions[1].Topic = "$share/edge/s/a/temp" }, ""},
		{"no url", func(c *mqtt.Config) { c.URL = "" }, "url: required"},
		{"ws", func(c *mqtt.Config) { c.URL = "ws://broker:80" }, `url: scheme "ws"`},
		{"no port", func(c *mqtt.Config) { c.URL = "tcp://broker" }, "url: "},
		{"credentials in url", func(c *mqtt.Config) { c.URL = "tcp://u:secret@broker:1883" }, "url: put credentials in username"},
		{"tls on tcp", func(c *mqtt.Config) { c.CAFile = "ca.pem" }, "url: TLS settings"},
		{"cert without key", func(c *mqtt.Config) { c.URL = "ssl://b:8883"; c.CertFile = "c.pem" }, "cert_file: cert_file and key_file go together"},
		{"v5", func(c *mqtt.Config) { c.Version = 5 }, ""},
		{"v5 password alone", func(c *mqtt.Config) { c.Version = 5; c.Password = "secret" }, ""},
		{"v4", func(c *mqtt.Config) { c.Version = 4 }, "version: 4"},
		{"password alone", func(c *mqtt.Config) { c.Password = "x" }, "password: needs a username"},
		{"keep alive", func(c *mqtt.Config) { c.KeepAlive = time.Millisecond }, "keep_alive: must be 1s..18h"},
		{"inflight", func(c *mqtt.Config) { c.MaxInflight = 0 }, "max_inflight: must be 1..65535"},
		{"backoff", func(c *mqtt.Config) { c.BackoffMax = time.Millisecond }, "backoff_max: must be >= backoff_min"},
		{"no subscriptions", func(c *mqtt.Config) { c.Subscriptions = nil }, "subscriptions: at least one"},
		{"qos", func(c *mqtt.Config) { c.Subscriptions[1].QoS = &three }, "subscriptions[1].qos: must be 0, 1 or 2"},
		{"hash inside", func(c *mqtt.Config) { c.Subscriptions[1].Topic = "a/#/b" }, "subscriptions[1].topic: \"a/#/b\": # must be the last level"},
		{"plus in level", func(c *mqtt.Config) { c.Subscriptions[1].Topic = "a/b+/c" }, "subscriptions[1].topic: "},
		{"duplicate topic", func(c *mqtt.Config) { c.Subscriptions[1].Topic = "plant/+/line1/#" }, "is already subscriptions[0].topic"},
		{"level beyond filter", func(c *mqtt.Config) { c.Subscriptions[1].Path = "s/{4}" }, "subscriptions[1].path: \"s/{4}\": {4}: topics matching \"s/a/temp\" have 3 levels"},
		{"level 0", func(c *mqtt.Config) { c.Subscriptions[0].Path = "s/{0}" }, "subscriptions[0].path: "},
		{"unclosed", func(c *mqtt.Config) { c.Subscriptions[0].Path = "s/{2" }, "{ without }"},
		{"bad literal", func(c *mqtt.Config) { c.Subscriptions[0].Path = "s p/{2}" }, "subscriptions[0].path: "},
		{"topic not a path", func(c *mqtt.Config) { c.Subscriptions[1].Topic = "Plant Floor/#" }, "set a path template"},
		{"sparkplug", func(c *mqtt.Config) { c.Subscriptions[1].Format = "sparkplug" }, "subscriptions[1].format: sparkplug is not yet available"},
		{"format", func(c *mqtt.Config) { c.Subscriptions[1].Format = "csv" }, `subscriptions[1].format: "csv"`},
		{"several errors", func(c *mqtt.Config) { c.MaxInflight = 0; c.Subscriptions[0].Topic = "" }, "max_inflight: must be 1..65535\nsubscriptions[0].topic: required"},
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
			if _, berr := mqtt.New(c, nil); (berr == nil) != (err == nil) {
				t.Errorf("New = %v, Validate = %v: they must agree", berr, err)
			}
		})
	}
}

func TestPasswordNotInStatus(t *testing.T) {
	c := validConfig()
	c.Username, c.Password = "edge", "s3cret-pw"
	in, err := mqtt.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := in.Status(); strings.Contains(st.Peer+st.LastError, "s3cret") {
		t.Errorf("status %+v shows the password", st)
	}
}

func TestDefaultClientID(t *testing.T) {
	a, b := validConfig(), validConfig()
	if x, y := mqtt.DefaultClientID(a), mqtt.DefaultClientID(b); x != y || len(x) > 23 {
		t.Errorf("DefaultClientID = %q and %q: want equal, at most 23 bytes", x, y)
	}
	b.Subscriptions[1].Topic = "s/b/temp"
	if mqtt.DefaultClientID(a) == mqtt.DefaultClientID(b) {
		t.Error("DefaultClientID ignores the topics")
	}
}

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	spec, _ := connector.Lookup("mqtt")
	cfg := connectortest.DecodeExample(t, "mqtt", "testdata/example.yaml")
	c := cfg.(*mqtt.Config)
	if c.MaxInflight != 100 || len(c.Subscriptions) != 3 || *c.Subscriptions[2].QoS != 0 || c.Subscriptions[1].QoS == nil {
		t.Errorf("decoded %+v", c)
	}
	// Build loads the CA file, which the example names but testdata does
	// not hold: that error must name the field.
	if _, err := spec.Build(cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "ca_file: ") {
		t.Errorf("Build = %v, want a ca_file error", err)
	}

	dec := yaml.NewDecoder(strings.NewReader("url: tcp://x:1\ntopic: a/b\n"))
	dec.KnownFields(true)
	if err := dec.Decode(spec.New()); err == nil {
		t.Error("unknown field topic: no error")
	}
}
