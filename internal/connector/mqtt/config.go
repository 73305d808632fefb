package mqtt

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Limits of the config.
const (
	MaxInflightLimit = 65535 // the MQTT packet identifier space
	maxClientIDLen   = 65535
)

// Config is one connection to an existing MQTT broker and what to subscribe
// to on it.
type Config struct {
	// URL is tcp://host:port (also mqtt://) or, with TLS, ssl://host:port
	// (also mqtts://, tls://). Credentials go in Username and Password,
	// never in the URL.
	URL string `yaml:"url"`
	// Version is the MQTT protocol version: 3 (3.1.1, the default) or 5.
	Version int `yaml:"version"`
	// ClientID identifies this input's session on the broker. It must be
	// stable across restarts (so that the broker keeps the session and the
	// QoS 1 messages queued while the edge was away) and unique on the
	// broker. Empty means one derived from the host name, the URL and the
	// topics (see DefaultClientID).
	ClientID string `yaml:"client_id"`
	// Username and Password authenticate to the broker. The password is
	// never logged nor shown in the status.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CleanSession makes the broker forget this input's session on every
	// connection: messages published while the edge was away are lost.
	// Default false; with MQTT 5 that is Clean Start false and a session
	// that never expires.
	CleanSession bool `yaml:"clean_session"`
	// KeepAlive is the MQTT keep-alive: the broker drops the connection
	// after 1.5 times this without a packet, and the input does the same
	// when a ping goes unanswered.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// ConnectTimeout bounds one connection attempt (TCP, TLS, CONNECT and
	// SUBSCRIBE).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// CAFile is a PEM file of the CAs the broker's certificate must chain
	// to; empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key, for
	// brokers that authenticate clients by certificate. Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name the broker's certificate is checked
	// against (default: the URL's host).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it allows a man in the middle.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// MaxInflight bounds the messages received and not yet acknowledged
	// (being decoded or written to the edge's log). While it is reached,
	// QoS 1 and 2 messages wait in the broker and QoS 0 messages are
	// dropped and counted. With MQTT 5 it is also the receive maximum the
	// broker is told.
	MaxInflight int `yaml:"max_inflight"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, which doubles from min to max while the broker is away. The
	// same back-off applies to retries of a write the edge's log refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
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
	return &Config{
		Version:        3,
		KeepAlive:      30 * time.Second,
		ConnectTimeout: 10 * time.Second,
		MaxInflight:    100,
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	}
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
	secure := false
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		bad("url", "required (tcp://host:port, or ssl://host:port or mqtts://host:port for TLS)")
	case err != nil:
		// url.Parse quotes the URL in its error, which may hold a password.
		bad("url", "does not parse as host:port behind a scheme")
	case u.User != nil:
		bad("url", "put credentials in username and password, not in the URL")
	default:
		switch u.Scheme {
		case "tcp", "mqtt":
		case "ssl", "mqtts", "tls":
			secure = true
		default:
			bad("url", "scheme %q: want tcp, mqtt, ssl, mqtts or tls (websockets are not supported)", u.Scheme)
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Path != "" && u.Path != "/" {
			bad("url", "%q: want scheme://host:port", u.Redacted())
		}
	}
	switch c.Version {
	case 3, 5:
	default:
		bad("version", "%d: want 3 (MQTT 3.1.1) or 5 (MQTT 5)", c.Version)
	}
	if len(c.ClientID) > maxClientIDLen || strings.ContainsRune(c.ClientID, 0) {
		bad("client_id", "must be at most %d bytes without NUL", maxClientIDLen)
	}
	if c.Version == 3 && c.Password != "" && c.Username == "" {
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

// tlsConfig loads the TLS files of c; nil for a plain URL.
func tlsConfig(c *Config) (*tls.Config, error) {
	return TLSConfig(c.URL, c.ServerName, c.CAFile, c.CertFile, c.KeyFile, c.InsecureSkipVerify)
}

// TLSConfig makes the TLS configuration of a broker URL: nil for a plain
// tcp:// or mqtt:// URL; for ssl://, mqtts:// or tls:// TLS 1.2 or newer with
// the CA file, client certificate and server name given. Every MQTT-based
// input (mqtt, sparkplug, vda5050) uses it; errors name the config field.
func TLSConfig(rawURL, serverName, caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("url: does not parse")
	}
	switch u.Scheme {
	case "ssl", "mqtts", "tls":
	default:
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         serverName,
		InsecureSkipVerify: insecureSkipVerify,
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
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
