package vda5050

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/connector/mqtt"
	"github.com/molen-io/molen/internal/uns"
)

// Limits of the config.
const (
	MaxInflightLimit = 65535    // the MQTT packet identifier space
	MaxPayloadLimit  = 16 << 20 // bytes; max_payload may not exceed it
	MaxAGVsLimit     = 100000
	maxFilterAGVs    = 1000 // manufacturers × serial_numbers subscribed one by one
	maxClientIDLen   = 65535
)

// DefaultAsset is the asset template used when the config sets none.
const DefaultAsset = "{site}/{area}/agv/{manufacturer}-{serial_number}"

// Config is one broker that AGVs (or their fleet manager) speak VDA 5050
// on, and how their vehicles map onto UNS assets.
type Config struct {
	// URL is tcp://host:port (also mqtt://) or, with TLS, ssl://host:port
	// (also mqtts://, tls://). Credentials go in Username and Password.
	URL string `yaml:"url"`
	// ClientID identifies this input's session on the broker; stable and
	// unique. Empty means one derived from the host name, the URL and the
	// interface (see DefaultClientID).
	ClientID string `yaml:"client_id"`
	// Username and Password authenticate to the broker; the password is
	// never logged nor shown in the status.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CleanSession makes the broker forget this input's session on every
	// connection. Default false.
	CleanSession bool `yaml:"clean_session"`
	// KeepAlive is the MQTT keep-alive.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// ConnectTimeout bounds one connection attempt and the SUBACK.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// CAFile, CertFile, KeyFile, ServerName and InsecureSkipVerify are the
	// TLS settings, as for the mqtt input; they need a TLS URL.
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// MaxInflight bounds the messages received and not yet acknowledged.
	MaxInflight int `yaml:"max_inflight"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts and between retries of a write the edge's log refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`

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
		KeepAlive:      30 * time.Second,
		ConnectTimeout: 10 * time.Second,
		MaxInflight:    100,
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
		InterfaceName:  "uagv",
		MajorVersion:   "v2",
		Visualization:  true,
		QoS:            1,
		Asset:          DefaultAsset,
		MaxPayload:     1 << 20,
		MaxAGVs:        1000,
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
	secure := false
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		bad("url", "required (tcp://host:port, or ssl://host:port or mqtts://host:port for TLS)")
	case err != nil:
		bad("url", "does not parse as host:port behind a scheme")
	case u.User != nil:
		bad("url", "put credentials in username and password, not in the URL")
	default:
		switch u.Scheme {
		case "tcp", "mqtt":
		case "ssl", "mqtts", "tls":
			secure = true
		default:
			bad("url", "scheme %q: want tcp, mqtt, ssl, mqtts or tls", u.Scheme)
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Path != "" && u.Path != "/" {
			bad("url", "%q: want scheme://host:port", u.Redacted())
		}
	}
	if len(c.ClientID) > maxClientIDLen || strings.ContainsRune(c.ClientID, 0) {
		bad("client_id", "must be at most %d bytes without NUL", maxClientIDLen)
	}
	if c.Password != "" && c.Username == "" {
		bad("password", "needs a username (MQTT 3.1.1 sends no password without one)")
	}
	if c.KeepAlive < time.Second || c.KeepAlive > 18*time.Hour {
		bad("keep_alive", "must be 1s..18h")
	}
	if c.ConnectTimeout <= 0 {
		bad("connect_timeout", "must be > 0")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("cert_file", "cert_file and key_file go together")
	}
	if !secure && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify) {
		bad("url", "TLS settings (ca_file, cert_file, key_file, server_name, insecure_skip_verify) need an ssl:// or mqtts:// URL")
	}
	if c.MaxInflight < 1 || c.MaxInflight > MaxInflightLimit {
		bad("max_inflight", "must be 1..%d", MaxInflightLimit)
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}
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

// tlsConfig loads the TLS files of c; nil for a plain URL.
func tlsConfig(c *Config) (*tls.Config, error) {
	return mqtt.TLSConfig(c.URL, c.ServerName, c.CAFile, c.CertFile, c.KeyFile, c.InsecureSkipVerify)
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
