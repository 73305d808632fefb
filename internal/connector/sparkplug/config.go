package sparkplug

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// DefaultPath is the path template of a group that sets none.
const DefaultPath = "{group}/{edge_node}/{device}/{metric}"

// Config is one Sparkplug B host application on one broker.
type Config struct {
	// Broker is the connection, as for the mqtt input: url, client_id
	// (empty: one derived from the host name, the URL and the groups),
	// username, password, TLS and limits.
	mqtt.Broker `yaml:",inline"`
	// HostID, if set, makes this input a Sparkplug primary host
	// application: it publishes spBv1.0/STATE/<host_id> (retained, QoS 1,
	// {"online":true,…}) once connected and registers the offline state as
	// its will. Edge nodes configured with this primary host publish only
	// while it is online.
	HostID string `yaml:"host_id"`
	// ReorderTimeout is how long a gap in an edge node's seq may stay open
	// (the missing message may still arrive) before the host requests a
	// rebirth.
	ReorderTimeout time.Duration `yaml:"reorder_timeout"`
	// Rebirth makes the host request a rebirth (NCMD Node Control/Rebirth)
	// on a seq gap and on data it cannot decode without a birth. Default
	// true; false only counts.
	Rebirth *bool `yaml:"rebirth"`
	// Groups are the Sparkplug groups to subscribe to and how their
	// metrics map onto UNS paths.
	Groups []Group `yaml:"groups"`
}

// Group is one subscription: spBv1.0/<group>/#.
type Group struct {
	// Group is a Sparkplug group id, or + for every group.
	Group string `yaml:"group"`
	// QoS is the maximum QoS the broker delivers with (default 1).
	QoS *int `yaml:"qos"`
	// Path maps a metric onto a UNS path: literal text with {group},
	// {edge_node}, {device} (a whole segment, left out for node metrics)
	// and {metric} (the last segment; the name's '/' make more segments).
	// Empty means DefaultPath.
	Path string `yaml:"path"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{Broker: mqtt.DefaultBroker(), ReorderTimeout: 2 * time.Second}
}

// Validate checks c; its errors name the field ("groups[1].path: …").
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// group is a compiled Group.
type group struct {
	name   string // "+" for all
	filter string
	qos    byte
	path   template
}

// compile checks c and compiles its groups: the one place that
// interprets a Config, so that Validate and New agree.
func compile(c *Config) ([]group, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	c.Broker.Check(bad, true)
	if c.HostID != "" && !validID(c.HostID) {
		bad("host_id", "%q: must not contain /, +, # or NUL", c.HostID)
	}
	if c.ReorderTimeout < time.Millisecond || c.ReorderTimeout > time.Hour {
		bad("reorder_timeout", "must be 1ms..1h")
	}
	if len(c.Groups) == 0 {
		bad("groups", "at least one group is required (group: + for all)")
	}
	groups := make([]group, 0, len(c.Groups))
	seen := make(map[string]int, len(c.Groups))
	for i, g := range c.Groups {
		at := fmt.Sprintf("groups[%d]", i)
		n := len(errs)
		cg := group{name: g.Group, filter: Namespace + "/" + g.Group + "/#", qos: 1}
		switch j, dup := seen[g.Group]; {
		case g.Group == "":
			bad(at+".group", "required (a group id, or + for every group)")
		case g.Group != "+" && !validID(g.Group):
			bad(at+".group", "%q: must be + or a group id without /, +, # or NUL", g.Group)
		case dup:
			bad(at+".group", "%q is already groups[%d].group", g.Group, j)
		default:
			seen[g.Group] = i
		}
		if g.QoS != nil {
			if *g.QoS < 0 || *g.QoS > 2 {
				bad(at+".qos", "must be 0, 1 or 2")
			} else {
				cg.qos = byte(*g.QoS)
			}
		}
		p := g.Path
		if p == "" {
			p = DefaultPath
		}
		var err error
		if cg.path, err = parseTemplate(p); err != nil {
			bad(at+".path", "%v", err)
		}
		if len(errs) == n {
			groups = append(groups, cg)
		}
	}
	if j, ok := seen["+"]; ok && j != len(c.Groups)-1 {
		bad(fmt.Sprintf("groups[%d].group", j), "+ matches every group, so it must be the last")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return groups, nil
}

// validID reports whether s can be a topic level of its own.
func validID(s string) bool {
	return s != "" && len(s) <= 65535 && !strings.ContainsAny(s, "/+#\x00")
}

// defaultClientID derives a stable client id, as mqtt.DefaultClientID
// does, from the URL and the groups.
func defaultClientID(c *Config) string {
	mc := mqtt.NewConfig()
	mc.URL = c.URL
	for _, g := range c.Groups {
		mc.Subscriptions = append(mc.Subscriptions, mqtt.Subscription{Topic: Namespace + "/" + g.Group + "/#"})
	}
	return mqtt.DefaultClientID(mc)
}

// template maps a metric onto a UNS path; see Group.Path.
type template struct {
	segs []tseg
}

// tseg is one segment of a template: literal text and placeholders, or
// the whole-segment {device} or {metric}.
type tseg struct {
	parts  []tpart
	device bool
	metric bool
}

type tpart struct {
	lit string
	ref string // "group" or "edge_node"; "" for a literal
}

// parseTemplate parses a path template (see Group.Path).
func parseTemplate(s string) (template, error) {
	var t template
	var probe []string
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		switch seg {
		case "{device}":
			t.segs = append(t.segs, tseg{device: true})
			probe = append(probe, "x")
			continue
		case "{metric}":
			if i != len(segs)-1 {
				return template{}, fmt.Errorf("%q: {metric} must be the last segment", s)
			}
			t.segs = append(t.segs, tseg{metric: true})
			probe = append(probe, "x")
			continue
		}
		var ts tseg
		var p strings.Builder
		for rest := seg; rest != ""; {
			i := strings.IndexAny(rest, "{}")
			if i < 0 {
				ts.parts = append(ts.parts, tpart{lit: rest})
				p.WriteString(rest)
				break
			}
			if rest[i] == '}' {
				return template{}, fmt.Errorf("%q: } without {", s)
			}
			if i > 0 {
				ts.parts = append(ts.parts, tpart{lit: rest[:i]})
				p.WriteString(rest[:i])
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				return template{}, fmt.Errorf("%q: { without }", s)
			}
			switch ref := rest[i+1 : i+j]; ref {
			case "group", "edge_node":
				ts.parts = append(ts.parts, tpart{ref: ref})
				p.WriteString("x")
			case "device", "metric":
				return template{}, fmt.Errorf("%q: {%s} must be a whole segment", s, ref)
			default:
				return template{}, fmt.Errorf("%q: {%s}: want {group}, {edge_node}, {device} or {metric}", s, ref)
			}
			rest = rest[i+j+1:]
		}
		t.segs = append(t.segs, ts)
		probe = append(probe, p.String())
	}
	if len(t.segs) == 0 || !t.segs[len(t.segs)-1].metric {
		return template{}, fmt.Errorf("%q: must end with /{metric}", s)
	}
	if err := uns.ValidatePath(strings.Join(probe, "/")); err != nil {
		return template{}, fmt.Errorf("%q: %v", s, err)
	}
	return t, nil
}

// apply maps a metric of node (and device, empty for a node metric) of
// group onto a path, sanitising the names (see sanitize) and validating
// the result.
func (t template) apply(group, node, device, metric string) (string, error) {
	var b strings.Builder
	for _, s := range t.segs {
		switch {
		case s.device:
			if device == "" {
				continue
			}
			sanitize(&b, device)
		case s.metric:
			for i, seg := range strings.Split(metric, "/") {
				if i > 0 {
					b.WriteByte('/')
				}
				sanitize(&b, seg)
			}
			continue
		default:
			for _, p := range s.parts {
				switch p.ref {
				case "group":
					sanitize(&b, group)
				case "edge_node":
					sanitize(&b, node)
				default:
					b.WriteString(p.lit)
				}
			}
		}
		b.WriteByte('/')
	}
	p := b.String()
	if err := uns.ValidatePath(p); err != nil {
		return "", err
	}
	return p, nil
}

// sanitize writes name as path text: every character outside
// [A-Za-z0-9_.-] becomes '_', as does a leading '.', and an empty name is
// "_". It keeps no '/': callers split metric names first.
func sanitize(b *strings.Builder, name string) {
	if name == "" {
		b.WriteByte('_')
		return
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') || i == 0 && c == '.' {
			c = '_'
		}
		b.WriteByte(c)
	}
}
