package vda5050

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// Limits of the config.
const (
	MaxPayloadLimit = 16 << 20 // bytes; max_payload may not exceed it
	MaxAGVsLimit    = 100000
	maxFilterAGVs   = 1000 // manufacturers × serial_numbers subscribed one by one
)

// DefaultAsset is the asset template used when the config sets none.
const DefaultAsset = "{site}/{area}/agv/{manufacturer}-{serial_number}"

// Config is one broker that AGVs (or their fleet manager) speak VDA 5050
// on, and how their vehicles map onto UNS assets.
type Config struct {
	// Broker is the connection, as for the mqtt input: url, client_id
	// (empty: see DefaultClientID), username, password, TLS and limits.
	mqtt.Broker `yaml:",inline"`

	// InterfaceName is the first topic level (VDA 5050: "uagv").
	InterfaceName string `yaml:"interface_name"`
	// MajorVersion is the second topic level ("v2"); only v2 payloads are
	// understood.
	MajorVersion string `yaml:"major_version"`
	// Manufacturers and SerialNumbers, when set, restrict the input to
	// those vehicles: it subscribes to their topics only.
	Manufacturers []string `yaml:"manufacturers"`
	SerialNumbers []string `yaml:"serial_numbers"`
	// Visualization subscribes to the visualization topic (position and
	// velocity at a higher rate) as well as state and connection.
	Visualization bool `yaml:"visualization"`
	// QoS is the highest QoS the broker delivers with (0 or 1; VDA 5050
	// publishes state and visualization with 0, connection with 1).
	QoS int `yaml:"qos"`

	// Site and Area fill {site} and {area} of Asset.
	Site string `yaml:"site"`
	Area string `yaml:"area"`
	// Asset is the UNS asset path of a vehicle: literal text with
	// {site}, {area}, {manufacturer} and {serial_number}. The vehicle's
	// names are sanitised into path segments. It must hold
	// {serial_number}, so that vehicles get their own assets.
	Asset string `yaml:"asset"`

	// MaxPayload bounds a message; larger ones are rejected as oversized.
	MaxPayload int `yaml:"max_payload"`
	// MaxAGVs bounds the vehicles the input keeps track of; messages of
	// further vehicles are rejected as too_many_agvs.
	MaxAGVs int `yaml:"max_agvs"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Broker:        mqtt.DefaultBroker(),
		InterfaceName: "uagv",
		MajorVersion:  "v2",
		Visualization: true,
		QoS:           1,
		Asset:         DefaultAsset,
		MaxPayload:    1 << 20,
		MaxAGVs:       1000,
	}
}

// Validate checks c; its errors name the field, e.g. "qos: must be 0 or 1".
// It reads no files: New loads the TLS files.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// compiled is a checked Config.
type compiled struct {
	filters map[string]byte // topic filter → QoS
	asset   template
	mfrs    map[string]bool // nil: any
	serials map[string]bool // nil: any
}

// compile checks c; the single place that interprets a Config, so that
// Validate and New agree.
func compile(c *Config) (*compiled, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	c.Broker.Check(bad, true)
	if err := topicLevel(c.InterfaceName); err != nil {
		bad("interface_name", "%v", err)
	}
	if c.MajorVersion != "v2" {
		bad("major_version", "%q: want v2 (only VDA 5050 v2 payloads are understood)", c.MajorVersion)
	}
	if c.QoS < 0 || c.QoS > 1 {
		bad("qos", "must be 0 or 1")
	}
	cc := &compiled{filters: map[string]byte{}}
	cc.mfrs = levelSet(c.Manufacturers, "manufacturers", bad)
	cc.serials = levelSet(c.SerialNumbers, "serial_numbers", bad)
	if n := max(len(c.Manufacturers), 1) * max(len(c.SerialNumbers), 1); n > maxFilterAGVs {
		bad("serial_numbers", "%d manufacturer and serial number pairs, limit %d: list fewer", n, maxFilterAGVs)
	}
	for _, f := range [...]struct{ name, v string }{{"site", c.Site}, {"area", c.Area}} {
		name, v := f.name, f.v
		if strings.Contains(c.Asset, "{"+name+"}") {
			if v == "" {
				bad(name, "required: asset %q uses {%s}", c.Asset, name)
			} else if err := uns.ValidatePrefix(v); err != nil || strings.HasSuffix(v, "/") {
				bad(name, "%q is not a UNS path (segments of A-Z a-z 0-9 _ - .)", v)
			}
		}
	}
	var err error
	if cc.asset, err = parseTemplate(c.Asset, c.Site, c.Area); err != nil {
		bad("asset", "%v", err)
	}
	if c.MaxPayload < 1<<10 || c.MaxPayload > MaxPayloadLimit {
		bad("max_payload", "must be %d..%d bytes", 1<<10, MaxPayloadLimit)
	}
	if c.MaxAGVs < 1 || c.MaxAGVs > MaxAGVsLimit {
		bad("max_agvs", "must be 1..%d", MaxAGVsLimit)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	topics := []string{TopicState, TopicConnection}
	if c.Visualization {
		topics = append(topics, TopicVisualization)
	}
	mfrs, serials := c.Manufacturers, c.SerialNumbers
	if len(mfrs) == 0 {
		mfrs = []string{"+"}
	}
	if len(serials) == 0 {
		serials = []string{"+"}
	}
	for _, m := range mfrs {
		for _, s := range serials {
			for _, t := range topics {
				cc.filters[strings.Join([]string{c.InterfaceName, c.MajorVersion, m, s, t}, "/")] = byte(c.QoS)
			}
		}
	}
	return cc, nil
}

// topicLevel checks a literal MQTT topic level.
func topicLevel(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if len(s) > 256 || strings.ContainsAny(s, "/+#\x00") {
		return fmt.Errorf("%.64q: want one topic level of at most 256 bytes without / + # or NUL", s)
	}
	return nil
}

// levelSet checks a list of literal topic levels and returns it as a set;
// nil for an empty list.
func levelSet(list []string, field string, bad func(path, format string, args ...any)) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	set := make(map[string]bool, len(list))
	for i, s := range list {
		if err := topicLevel(s); err != nil {
			bad(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		} else if set[s] {
			bad(fmt.Sprintf("%s[%d]", field, i), "%q listed twice", s)
		}
		set[s] = true
	}
	return set
}

// DefaultClientID is the client id of an input whose config sets none:
// "molen-vda-" and 12 hex digits of a hash of the host name, the URL and
// the interface name, stable across restarts and within the 23 bytes every
// MQTT 3.1.1 broker accepts.
func DefaultClientID(c *Config) string {
	host, _ := os.Hostname()
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s", host, c.URL, c.InterfaceName, c.MajorVersion))
	return "molen-vda-" + hex.EncodeToString(h[:])[:12]
}
