package mtconnect

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Config is one MTConnect agent, or one device of it.
type Config struct {
	// URL is the agent's base URL, http://host:port (with a path prefix if
	// the agent is behind one).
	URL string `yaml:"url"`
	// Device, if set, is the name or uuid of the one device to read
	// (<url>/<device>/current); otherwise every device of the agent.
	Device string `yaml:"device"`
	// PollInterval is the time between two sample requests while the
	// agent has nothing more to give.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Count is the most observations one sample request asks for; a
	// larger backlog is read in several requests, one after the other.
	Count int `yaml:"count"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, and between retries of a write the sink refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// Items maps the agent's data items onto UNS series (samples and
	// events) or assets (conditions).
	Items []Item `yaml:"items"`
}

// Item maps one data item of the agent.
type Item struct {
	// ID is the data item's dataItemId; Name its name. One of the two
	// identifies the data item; the id wins when both are given.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Path is the UNS series of a sample or event; for a condition, the
	// asset of its condition events.
	Path string `yaml:"path"`
	// Type is the value's type: float (the default for samples), int, or
	// string (the default for events). Conditions take no type.
	Type string `yaml:"type"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		PollInterval: time.Second,
		Count:        1000,
		Timeout:      10 * time.Second,
		BackoffMin:   500 * time.Millisecond,
		BackoffMax:   30 * time.Second,
	}
}

// Validate checks c; its errors name the field, e.g. "items[2].path: …".
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// valueType is what an item's values become.
type valueType uint8

const (
	auto valueType = iota // float for samples, string for events
	typeFloat
	typeInt
	typeString
)

// mapping is a compiled Items list: the items by data item id and by name.
type mapping struct {
	byID, byName map[string]*item
}

type item struct {
	path string
	typ  valueType
}

// compile checks c and builds its mapping; Validate and New share it.
func compile(c *Config) (*mapping, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.URL); c.URL == "" {
		bad("url", "required (http://host:port of the agent)")
	} else if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		bad("url", "%q: want http://host:port or https://host:port, without a query", c.URL)
	}
	if strings.ContainsAny(c.Device, "/?#") {
		bad("device", "%q: a device name or uuid has no / ? or #", c.Device)
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be > 0")
	}
	if c.Count < 1 || c.Count > 100_000 {
		bad("count", "must be 1..100000")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be > 0")
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}
	if len(c.Items) == 0 {
		bad("items", "at least one item is required")
	}
	m := &mapping{byID: map[string]*item{}, byName: map[string]*item{}}
	paths := map[string]int{}
	for i, it := range c.Items {
		at := fmt.Sprintf("items[%d]", i)
		n := len(errs)
		compiled := &item{path: it.Path}
		switch {
		case it.ID == "" && it.Name == "":
			bad(at, "give the data item's id or name")
		case it.ID != "" && m.byID[it.ID] != nil:
			bad(at+".id", "%q is mapped twice", it.ID)
		case it.ID == "" && m.byName[it.Name] != nil:
			bad(at+".name", "%q is mapped twice", it.Name)
		}
		if err := uns.ValidatePath(it.Path); err != nil {
			bad(at+".path", "%v", err)
		} else if j, dup := paths[it.Path]; dup {
			bad(at+".path", "%q is already items[%d].path", it.Path, j)
		} else {
			paths[it.Path] = i
		}
		switch it.Type {
		case "":
		case "float":
			compiled.typ = typeFloat
		case "int":
			compiled.typ = typeInt
		case "string":
			compiled.typ = typeString
		default:
			bad(at+".type", "%q: want float, int or string", it.Type)
		}
		if len(errs) > n {
			continue
		}
		if it.ID != "" {
			m.byID[it.ID] = compiled
		} else {
			m.byName[it.Name] = compiled
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// lookup returns the item a data item maps to, by id first, then by name.
func (m *mapping) lookup(id, name string) *item {
	if it := m.byID[id]; it != nil {
		return it
	}
	if name != "" {
		return m.byName[name]
	}
	return nil
}
