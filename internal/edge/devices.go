package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/password"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uns"
)

// Devices at the MQTT listener (docs/edge.md, "Devices"): with a devices
// file, every client authenticates as a device (username and password, or
// a client certificate whose common name is the device's name), and each
// device publishes only under its UNS prefix. Without one the listener is
// open, as before devices files, and says so at start.

// DevicesFile is the devices file the edge reads from its data directory
// when Config.DevicesFile does not name one.
const DevicesFile = "devices.yaml"

// Device is one entry of the devices file.
type Device struct {
	// Name is the device's MQTT username, and the common name of its
	// client certificate.
	Name string `yaml:"name"`
	// Prefix is the UNS path under which the device may publish (and
	// subscribe, where subscriptions are allowed).
	Prefix string `yaml:"prefix"`
	// PasswordHash is the argon2id string of its password; "" for a
	// device that connects with a certificate only.
	PasswordHash string `yaml:"password_hash,omitempty"`
}

type devicesDoc struct {
	Devices []Device `yaml:"devices"`
}

// LoadDevices reads and checks a devices file.
func LoadDevices(path string) ([]Device, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devices file: %w", err)
	}
	return parseDevices(path, b)
}

func parseDevices(path string, b []byte) ([]Device, error) {
	var doc devicesDoc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) { // an empty file: no devices
		return nil, fmt.Errorf("devices file %s: %w", path, err)
	}
	seen := map[string]bool{}
	for i, d := range doc.Devices {
		at := fmt.Sprintf("devices file %s: devices[%d]", path, i)
		switch {
		case d.Name == "" || len(d.Name) > 256 || strings.ContainsAny(d.Name, "\x00/+#"):
			return nil, fmt.Errorf("%s.name: must be 1..256 characters without / + # or NUL", at)
		case seen[d.Name]:
			return nil, fmt.Errorf("%s.name: %q appears twice", at, d.Name)
		case d.PasswordHash != "" && !password.WellFormed(d.PasswordHash):
			return nil, fmt.Errorf("%s.password_hash: not an argon2id hash (molen edge device add makes one)", at)
		}
		if err := uns.ValidatePath(d.Prefix); err != nil {
			return nil, fmt.Errorf("%s.prefix: %w", at, err)
		}
		seen[d.Name] = true
	}
	return doc.Devices, nil
}

// Refusal reasons of the device listener, counted in
// molen_edge_mqtt_refused_total and the status.
const (
	refusedUnknownDevice = "unknown_device" // a username not in the devices file
	refusedBadPassword   = "bad_password"   // a known device, a wrong (or no) password
	refusedAnonymous     = "anonymous"      // no username and no certificate
	refusedCertificate   = "certificate"    // a certificate of no device
	refusedPublish       = "publish_outside_prefix"
	refusedSubscribe     = "subscribe"
)

var refusalReasons = []string{refusedUnknownDevice, refusedBadPassword, refusedAnonymous, refusedCertificate, refusedPublish, refusedSubscribe}

// deviceAuth is the listener's authentication and authorisation hook
// (the only one: mochi admits a client if any hook does).
type deviceAuth struct {
	mqtt.HookBase
	e    *Edge
	path string // the devices file; "" for an open listener
	hash *password.Hasher

	mu      sync.Mutex // guards devices, stamp
	devices map[string]Device
	stamp   string // the file's size and time when read

	// clients are the prefixes of connected clients by client: "" for an
	// anonymous client, who may publish anywhere.
	clients sync.Map // *mqtt.Client → string
}

func (h *deviceAuth) ID() string { return "molen-devices" }

func (h *deviceAuth) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnDisconnect
}

// lookup returns the device named name, reading the file again when it
// changed (an engineer added a device).
func (h *deviceAuth) lookup(name string) (Device, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fi, err := os.Stat(h.path); err == nil {
		stamp := fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
		if stamp != h.stamp {
			if ds, err := LoadDevices(h.path); err != nil {
				// Keep the devices known: a half-edited file must not lock
				// every device out.
				h.e.logLimit.log(h.e.log, slog.LevelError, "devices-file", "devices file not reloaded; the devices read before stay", "err", err)
			} else {
				h.devices = indexDevices(ds)
			}
			h.stamp = stamp
		}
	}
	d, ok := h.devices[name]
	return d, ok
}

func indexDevices(ds []Device) map[string]Device {
	m := make(map[string]Device, len(ds))
	for _, d := range ds {
		m[d.Name] = d
	}
	return m
}

// OnConnectAuthenticate admits a device by its certificate or password,
// an anonymous client only where configured. mochi answers a refusal with
// CONNACK "bad username or password" (MQTT 5 0x86, 3.1.1 0x04).
func (h *deviceAuth) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	cn, cert := peerName(cl.Net.Conn)
	prefix, reason, args := h.admit(cn, cert, pk.Connect.Username, pk.Connect.Password)
	if reason != "" {
		h.refuse(deviceOf(cl), reason, args...)
		return false
	}
	h.clients.Store(cl, prefix)
	return true
}

// admit decides whether a client may connect: with the certificate named
// cn (cert: it presented one), or the user name and password. It returns
// the prefix the client may publish under ("": anywhere), or the reason it
// is refused and what to log with it.
func (h *deviceAuth) admit(cn string, cert bool, user, pass []byte) (prefix, reason string, args []any) {
	if h.path == "" {
		return "", "", nil
	}
	if cert {
		d, known := h.lookup(cn)
		if !known || len(user) != 0 && string(user) != cn {
			return "", refusedCertificate, []any{"name", cn}
		}
		return d.Prefix, "", nil
	}
	if len(user) == 0 {
		if h.e.cfg.MQTTAnonymous {
			return "", "", nil
		}
		return "", refusedAnonymous, nil
	}
	d, known := h.lookup(string(user))
	// An unknown name costs a hash too, so that timing does not tell
	// which names exist.
	ok, _, err := h.hash.Check(context.Background(), d.PasswordHash, string(pass))
	switch {
	case !known:
		return "", refusedUnknownDevice, []any{"device", string(user)}
	case err != nil || !ok:
		return "", refusedBadPassword, []any{"device", string(user)}
	}
	return d.Prefix, "", nil
}

// peerName is the common name of the client certificate presented on c
// (verified against the client CA by the TLS listener).
func peerName(c net.Conn) (string, bool) {
	if dc, ok := c.(*deviceConn); ok {
		c = dc.Conn
	}
	if rc, ok := c.(*replayConn); ok {
		c = rc.Conn
	}
	tc, ok := c.(*tls.Conn)
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return "", false
	}
	return st.PeerCertificates[0].Subject.CommonName, true
}

// OnACLCheck lets a device publish under its prefix only, and subscribe
// (where subscriptions are allowed) to filters under it. A refused QoS 1
// or 2 publish is answered by mochi as MQTT requires: PUBACK 0x87 (not
// authorized) on MQTT 5, the connection closed on 3.1.1 (which has no
// negative acknowledgement); a QoS 0 one is dropped.
func (h *deviceAuth) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	v, ok := h.clients.Load(cl)
	prefix, _ := v.(string)
	if !ok {
		return false
	}
	switch {
	case write && !within(prefix, topic):
		h.refusePublish(deviceOf(cl), topic, prefix)
		return false
	case !write && (!h.e.cfg.MQTTAllowSubscribe || !within(prefix, topic)):
		h.refuse(deviceOf(cl), refusedSubscribe, "filter", keptText(topic, 2*uns.MaxPathLen))
		return false
	}
	return true
}

// within reports whether a client admitted with prefix may use topic.
func within(prefix, topic string) bool {
	return prefix == "" || topic == prefix || strings.HasPrefix(topic, prefix+"/")
}

// refusePublish counts a publish outside the device's prefix.
func (h *deviceAuth) refusePublish(dev device, topic, prefix string) {
	h.refuse(dev, refusedPublish, "topic", keptText(topic, 2*uns.MaxPathLen), "prefix", prefix)
}

// OnDisconnect forgets the client.
func (h *deviceAuth) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.clients.Delete(cl)
}

// refuse counts a refusal and logs it, one line per reason every
// logEvery.
func (h *deviceAuth) refuse(dev device, reason string, args ...any) {
	h.e.metrics.mqttRefused.WithLabelValues(reason).Inc()
	args = append([]any{"reason", reason, "client", keptText(dev.client, keptTextPrefix), "remote", dev.remote}, args...)
	h.e.logLimit.log(h.e.log, slog.LevelWarn, "mqtt-refused:"+reason, "device refused", args...)
}

// newDeviceAuth returns the hook for cfg: with the devices file it names
// (it must exist), or the one in the data directory if there is one, or
// an open listener.
func newDeviceAuth(e *Edge) (*deviceAuth, error) {
	h := &deviceAuth{e: e}
	path := e.cfg.DevicesFile
	if path == "" {
		p := filepath.Join(e.cfg.DataDir, DevicesFile)
		if _, err := os.Stat(p); err == nil {
			path = p
		}
	}
	if path == "" {
		if e.cfg.MQTTClientCA != "" {
			return nil, fmt.Errorf("edge.mqtt_client_ca: needs a devices file (%s in the data directory, or --devices) naming the devices", DevicesFile)
		}
		e.log.Warn("device authentication is off: any client that reaches the MQTT listener may publish anywhere; add devices with molen edge device add", "mqtt", e.cfg.MQTTListen)
		return h, nil
	}
	ds, err := LoadDevices(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("devices file: %w", err)
	}
	// The hasher only where passwords are checked: making one hashes a
	// dummy password, which takes argon2id's memory (19 MiB) at once.
	h.path, h.devices, h.stamp = path, indexDevices(ds), fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
	h.hash = password.New(password.Default, 1)
	if e.cfg.MQTTAnonymous {
		e.log.Warn("anonymous MQTT clients are allowed beside the devices of the devices file (--mqtt-anonymous)", "devices", len(ds))
	}
	return h, nil
}

// deviceTLS is the TLS configuration of the device listener: the edge's
// certificate, and client certificates checked against the client CA
// when given (a device may still use a password instead).
func deviceTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.MQTTTLSCert, cfg.MQTTTLSKey)
	if err != nil {
		return nil, fmt.Errorf("edge.mqtt_tls_cert: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.MQTTClientCA != "" {
		pem, err := os.ReadFile(cfg.MQTTClientCA)
		if err != nil {
			return nil, fmt.Errorf("edge.mqtt_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("edge.mqtt_client_ca %s: no PEM certificate in it", cfg.MQTTClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// listenDevices opens the device socket at addr, with TLS if tc is set.
func listenDevices(addr string, tc *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || tc == nil {
		return ln, err
	}
	return tls.NewListener(ln, tc), nil
}

// AddDevice adds a device to the devices file at path (made if missing,
// 0600), with a new random password that it returns: the file keeps its
// argon2id hash only. A running edge reads the file again at the next
// connection. Comments and other entries of the file stay.
func AddDevice(ctx context.Context, path, name, prefix string) (string, error) {
	var doc yaml.Node
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		b = nil
	case err != nil:
		return "", fmt.Errorf("devices file: %w", err)
	}
	existing, err := parseDevices(path, b)
	if err != nil {
		return "", err
	}
	pw := secret.New("")
	hash, err := password.New(password.Default, 1).Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	d := Device{Name: name, Prefix: prefix, PasswordHash: hash}
	if _, err := parseDevices("(new entry)", mustYAML(devicesDoc{Devices: append(existing, d)})); err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("# Devices that may connect to the edge's MQTT listener (docs/edge.md).\ndevices: []\n")
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("devices file %s: %w", path, err)
	}
	var entry yaml.Node
	if err := entry.Encode(d); err != nil {
		return "", err
	}
	root := doc.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "devices" {
			list = root.Content[i+1]
		}
	}
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "devices"}, list)
	}
	list.Style = 0 // block style, also for the "[]" of a new file
	list.Content = append(list.Content, &entry)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, out.Bytes()); err != nil {
		return "", fmt.Errorf("devices file: %w", err)
	}
	return pw, nil
}

func mustYAML(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
