package mqtt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Limits of the config.
const (
	MaxInflightLimit = 65535 // the MQTT packet identifier space
	maxClientIDLen   = 65535
)

// Config is one connection to an existing MQTT broker and what to subscribe
// to on it.
type Config struct {
	// Broker is the connection: url, client_id (empty: see
	// DefaultClientID), username, password, TLS and limits.
	Broker `yaml:",inline"`
	// Version is the MQTT protocol version: 3 (3.1.1, the default) or 5.
	Version int `yaml:"version"`
	// Subscriptions are the topic filters to subscribe to and how their
	// topics map onto UNS paths. A message is mapped by the first
	// subscription whose filter matches its topic.
	Subscriptions []Subscription `yaml:"subscriptions"`
}

// Subscription is one topic filter and its mapping.
type Subscription struct {
	// Topic is an MQTT topic filter; + and # are wildcards.
	Topic string `yaml:"topic"`
	// QoS is the maximum QoS the broker delivers with: 0, 1 or 2. Nil (not
	// set) means 1: only QoS 1 and 2 survive the edge being away or slow.
	QoS *int `yaml:"qos"`
	// Path maps the topic onto a UNS path: literal text with {n} for the
	// n-th topic level (from 1) and {n+} for levels n to the end. Empty
	// means the topic itself.
	Path string `yaml:"path"`
	// Format is how payloads are decoded: auto (default: a bare JSON value,
	// {"value","ts","q"}, or a JSON object that flattens into tags).
	// sparkplug is not available yet.
	Format string `yaml:"format"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{Broker: DefaultBroker(), Version: 3}
}

// Validate checks c; its errors name the field, e.g.
// "subscriptions[1].qos: must be 0, 1 or 2". It reads no files: New loads
// the TLS files and reports their errors under the same field names.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// sub is a compiled Subscription.
type sub struct {
	filter string // as subscribed, $share prefix included
	match  string // the filter that topics are matched against
	qos    byte
	path   template
}

// compile checks c and compiles its subscriptions. It is the single place
// that interprets a Config, so that Validate and New agree.
func compile(c *Config) ([]sub, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	c.Broker.Check(bad, c.Version == 3)
	switch c.Version {
	case 3, 5:
	default:
		bad("version", "%d: want 3 (MQTT 3.1.1) or 5 (MQTT 5)", c.Version)
	}
	if len(c.Subscriptions) == 0 {
		bad("subscriptions", "at least one subscription is required")
	}
	subs := make([]sub, 0, len(c.Subscriptions))
	seen := make(map[string]int, len(c.Subscriptions))
	for i, s := range c.Subscriptions {
		at := fmt.Sprintf("subscriptions[%d]", i)
		n := len(errs)
		cs := sub{filter: s.Topic, qos: 1}
		if s.QoS != nil {
			if *s.QoS < 0 || *s.QoS > 2 {
				bad(at+".qos", "must be 0, 1 or 2")
			} else {
				cs.qos = byte(*s.QoS)
			}
		}
		var err error
		if cs.match, err = parseFilter(s.Topic); err != nil {
			bad(at+".topic", "%v", err)
		} else if j, dup := seen[s.Topic]; dup {
			bad(at+".topic", "%q is already subscriptions[%d].topic", s.Topic, j)
		} else {
			seen[s.Topic] = i
			if cs.path, err = parseTemplate(s.Path, cs.match); err != nil {
				bad(at+".path", "%v", err)
			}
		}
		switch s.Format {
		case "", "auto":
		case "sparkplug":
			bad(at+".format", "sparkplug is not yet available here; use auto")
		default:
			bad(at+".format", "%q: want auto", s.Format)
		}
		if len(errs) == n {
			subs = append(subs, cs)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return subs, nil
}

// DefaultClientID is the client id of an input whose config sets none:
// "molen-" and 12 hex digits of a hash of the host name, the URL and the
// topic filters. It stays the same across restarts of the edge with the same
// config, so the broker keeps the session, and it fits the 23 bytes every
// MQTT 3.1.1 broker must accept.
func DefaultClientID(c *Config) string {
	host, _ := os.Hostname()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", host, c.URL)
	for _, s := range c.Subscriptions {
		fmt.Fprintf(h, "\x00%s", s.Topic)
	}
	return "molen-" + hex.EncodeToString(h.Sum(nil))[:12]
}
