package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Broker is the connection to an MQTT broker: the part of the config that
// every MQTT-based input (mqtt, sparkplug, vda5050) shares. Inputs embed it
// inline, so its keys sit beside their own in the YAML.
type Broker struct {
	// URL is tcp://host:port (also mqtt://) or, with TLS, ssl://host:port
	// (also mqtts://, tls://). Credentials go in Username and Password,
	// never in the URL.
	URL string `yaml:"url"`
	// ClientID identifies this input's session on the broker. It must be
	// stable across restarts (so that the broker keeps the session and the
	// QoS 1 messages queued while the edge was away) and unique on the
	// broker. Empty means one derived from the host name, the URL and what
	// the input subscribes to.
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
	// the input reads no further and messages of every QoS wait in the
	// broker. With MQTT 5 it is also the receive maximum the
	// broker is told.
	MaxInflight int `yaml:"max_inflight"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, which doubles from min to max while the broker is away. The
	// same back-off applies to retries of a write the edge's log refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// DefaultBroker returns the defaults of a Broker (no URL).
func DefaultBroker() Broker {
	return Broker{
		KeepAlive:      30 * time.Second,
		ConnectTimeout: 10 * time.Second,
		MaxInflight:    100,
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	}
}

// Check reports each problem of b to bad, by YAML key. v3 says the
// connection speaks MQTT 3.1.1, which sends no password without a user
// name. It reads no files: TLS loads them.
func (b *Broker) Check(bad func(field, format string, args ...any), v3 bool) {
	secure := false
	switch u, err := url.Parse(b.URL); {
	case b.URL == "":
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
	if len(b.ClientID) > maxClientIDLen || strings.ContainsRune(b.ClientID, 0) {
		bad("client_id", "must be at most %d bytes without NUL", maxClientIDLen)
	}
	if v3 && b.Password != "" && b.Username == "" {
		bad("password", "needs a username (MQTT 3.1.1 sends no password without one)")
	}
	if b.KeepAlive < time.Second || b.KeepAlive > 18*time.Hour {
		bad("keep_alive", "must be 1s..18h")
	}
	if b.ConnectTimeout <= 0 {
		bad("connect_timeout", "must be > 0")
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		bad("cert_file", "cert_file and key_file go together")
	}
	if !secure && (b.CAFile != "" || b.CertFile != "" || b.KeyFile != "" || b.ServerName != "" || b.InsecureSkipVerify) {
		bad("url", "TLS settings (ca_file, cert_file, key_file, server_name, insecure_skip_verify) need an ssl:// or mqtts:// URL")
	}
	if b.MaxInflight < 1 || b.MaxInflight > MaxInflightLimit {
		bad("max_inflight", "must be 1..%d", MaxInflightLimit)
	}
	if b.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if b.BackoffMax < b.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}
}

// Peer is the URL without credentials, as status and logs show it.
func (b *Broker) Peer() string {
	if u, err := url.Parse(b.URL); err == nil {
		return u.Redacted()
	}
	return b.URL
}

// TLS makes the TLS configuration of the broker URL: nil for a plain
// tcp:// or mqtt:// URL; for ssl://, mqtts:// or tls:// TLS 1.2 or newer with
// the CA file, client certificate and server name given. Errors name the
// config field.
func (b *Broker) TLS() (*tls.Config, error) {
	u, err := url.Parse(b.URL)
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
		ServerName:         b.ServerName,
		InsecureSkipVerify: b.InsecureSkipVerify,
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	if b.CAFile != "" {
		pem, err := os.ReadFile(b.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", b.CAFile)
		}
	}
	if b.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(b.CertFile, b.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ClientOptions are the options of an MQTT 3.1.1 client
// (eclipse/paho.mqtt.golang) for b: the input runs its own reconnection
// loop, acknowledges a message only once the edge stored it, and takes
// every message, in order, on the client's receive goroutine through
// handle (which so holds the broker back while the input is full). lost
// receives the error of a lost connection.
func (b *Broker) ClientOptions(clientID string, tc *tls.Config, handle func(paho.Message), lost chan<- error) *paho.ClientOptions {
	opts := paho.NewClientOptions().
		AddBroker(b.URL).
		SetClientID(clientID).
		SetUsername(b.Username).
		SetPassword(b.Password).
		SetCleanSession(b.CleanSession).
		SetKeepAlive(b.KeepAlive).
		SetPingTimeout(min(b.KeepAlive, 10*time.Second)).
		SetConnectTimeout(b.ConnectTimeout).
		SetWriteTimeout(b.ConnectTimeout).
		// The input's loop reconnects, with its own back-off and status.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		// Acknowledge only once the sink has the points.
		SetAutoAckDisabled(true).
		// One message after the other on the receive goroutine: blocks
		// the socket (and so the broker) when the input is full, and keeps
		// the order.
		SetOrderMatters(true).
		// All messages go to the default handler, including those a
		// persistent session delivers before SUBSCRIBE is sent again.
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { handle(m) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	opts.SetCustomOpenConnectionFn(openConnection)
	return opts
}

// openConnection dials the broker as paho.mqtt.golang does for the
// schemes Check allows, and reads a plain TCP connection through a buffer:
// paho reads each packet with several small reads (the fixed header byte,
// each length byte, the rest), which on a bare socket is a system call
// each, 37 % of the edge's CPU at 30,000 messages/s from Mosquitto. A TLS
// connection reads whole records already.
func openConnection(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	switch u.Scheme {
	case "ssl", "mqtts", "tls":
		return tls.DialWithDialer(d, "tcp", u.Host, o.TLSConfig)
	}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10)}, nil
}

// bufferedConn is a connection whose reads go through r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Subscribe subscribes cl to filters (topic filter → QoS) and fails if the
// broker refuses one.
func (b *Broker) Subscribe(ctx context.Context, cl paho.Client, filters map[string]byte) error {
	st := cl.SubscribeMultiple(filters, nil)
	if err := Wait(ctx, st, b.ConnectTimeout); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for f, granted := range st.(*paho.SubscribeToken).Result() {
		if granted == 0x80 {
			return fmt.Errorf("subscribe %q: the broker refused it (not authorised?)", f)
		}
	}
	return nil
}
