package opcua

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

// The reading modes.
const (
	ModeSubscribe = "subscribe"
	ModePoll      = "poll"
)

// Config is one OPC UA server and the variables read from it.
type Config struct {
	// Endpoint is the server's opc.tcp://host:port[/path] URL. The input
	// always connects to this address, whatever endpoint URL the server
	// advertises (servers often advertise a host name the edge cannot
	// resolve).
	Endpoint string `yaml:"endpoint"`
	// SecurityMode is None, Sign or SignAndEncrypt. It has no default: an
	// unencrypted connection must be asked for.
	SecurityMode string `yaml:"security_mode"`
	// SecurityPolicy is None with SecurityMode None (the default there),
	// and one of Basic256Sha256 (the default), Aes128Sha256RsaOaep,
	// Aes256Sha256RsaPss, Basic256 or Basic128Rsa15 otherwise.
	SecurityPolicy string `yaml:"security_policy"`
	// Certificate and PrivateKey are the edge's application instance
	// certificate (PEM or DER; its URI is the application URI) and RSA key
	// (PEM, PKCS #1 or #8) for Sign and SignAndEncrypt; the server must
	// trust the certificate. With PKIDir they default to its edge-cert.pem
	// and edge-key.pem.
	Certificate string `yaml:"certificate"`
	PrivateKey  string `yaml:"private_key"`
	// TrustedServerCertificates lists certificate files (PEM, possibly
	// several per file, or DER): the server's certificate must be one of
	// them or be signed by one of them.
	TrustedServerCertificates []string `yaml:"trusted_server_certificates"`
	// PKIDir is a directory as `molen opcua cert` makes it: the edge's
	// certificate and key, trusted/ (server certificates the edge trusts
	// besides TrustedServerCertificates, read at every connection) and
	// rejected/ (where the input saves a server certificate it does not
	// trust, for an operator to check and move to trusted/). Sign and
	// SignAndEncrypt need it or TrustedServerCertificates.
	PKIDir string `yaml:"pki_dir"`
	// Username and Password authenticate the session; without a username
	// the session is anonymous.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// Mode is subscribe (monitored items; the default) or poll (a Read of
	// every node each PollInterval).
	Mode string `yaml:"mode"`
	// PublishingInterval is how often the server sends the changes it
	// collected (subscribe).
	PublishingInterval time.Duration `yaml:"publishing_interval"`
	// SamplingInterval is how often the server samples each node
	// (subscribe); 0 asks for the fastest rate the server supports.
	SamplingInterval time.Duration `yaml:"sampling_interval"`
	// QueueSize is how many samples per node the server keeps between two
	// publishes (subscribe); when it overflows the oldest are dropped and
	// the input counts them in Status.Dropped.
	QueueSize int `yaml:"queue_size"`
	// PollInterval is the time between two reads in poll mode, and of the
	// nodes a server refused to monitor in subscribe mode.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds connecting, one request, and closing.
	Timeout time.Duration `yaml:"timeout"`
	// MaxNodesPerRequest caps the nodes of one Read or
	// CreateMonitoredItems request; lower it for servers with small
	// operation limits.
	MaxNodesPerRequest int `yaml:"max_nodes_per_request"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, which doubles from min to max while the server is away. The
	// same back-off applies to retries of a write the sink refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// Nodes maps server variables onto UNS series.
	Nodes []Node `yaml:"nodes"`
	// Browse maps the variables found by browsing the server's address
	// space onto UNS series, by browse-name patterns; every connection
	// browses anew.
	Browse []Browse `yaml:"browse"`
	// MaxBrowseNodes caps the variables all browse rules together add to
	// a connection; matches beyond it are left out and counted.
	MaxBrowseNodes int `yaml:"max_browse_nodes"`
}

// Node maps one variable of the server onto a UNS series.
type Node struct {
	// ID is the variable's NodeID, e.g. ns=2;s=Machine1.Temp or ns=3;i=1042.
	ID string `yaml:"id"`
	// Path is the UNS series path, e.g. site/area/line/machine/temp.
	Path string `yaml:"path"`
}

// Secret is a string that does not show itself when printed or logged.
type Secret string

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Mode:               ModeSubscribe,
		PublishingInterval: time.Second,
		SamplingInterval:   500 * time.Millisecond,
		QueueSize:          10,
		PollInterval:       time.Second,
		Timeout:            5 * time.Second,
		MaxNodesPerRequest: 1000,
		BackoffMin:         500 * time.Millisecond,
		BackoffMax:         30 * time.Second,
		MaxBrowseNodes:     10000,
	}
}

// Validate checks c, reading the certificate and key files it names; its
// errors name the field, e.g. `nodes[2].id: "Temp" is not a NodeID (want
// e.g. "ns=2;s=Temp")`.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// node is a compiled Node.
type node struct {
	id     *ua.NodeID
	series string
}

// plan is a compiled Config: what connecting and reading need.
type plan struct {
	nodes     []node
	browse    []rule
	mode      ua.MessageSecurityMode
	policy    string // security policy URI
	cert      []byte // DER; nil with None
	certURI   string // its application URI
	key       *rsa.PrivateKey
	trusted   []*x509.Certificate // trusted_server_certificates
	pki       string              // pki_dir; "" for none
	subscribe bool
}

// policies are the security policies the client library implements, by the
// names the config uses.
var policies = []string{"Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss", "Basic256", "Basic128Rsa15"}

// compile checks c and turns it into a plan. It is the single place that
// interprets a Config, so that Validate and New agree.
func compile(c *Config) (*plan, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	p := &plan{}
	switch rest, ok := strings.CutPrefix(c.Endpoint, "opc.tcp://"); {
	case c.Endpoint == "":
		bad("endpoint", "required (opc.tcp://host:port)")
	case !ok:
		bad("endpoint", "%q: want opc.tcp://host:port", c.Endpoint)
	default:
		hostport, _, _ := strings.Cut(rest, "/")
		if host, port, err := net.SplitHostPort(hostport); err != nil || host == "" || port == "" {
			bad("endpoint", "%q: want host:port after opc.tcp://", c.Endpoint)
		}
	}

	secure := false
	switch c.SecurityMode {
	case "":
		bad("security_mode", "required: None, Sign or SignAndEncrypt (None must be chosen explicitly)")
	case "None":
		p.mode = ua.MessageSecurityModeNone
		p.policy = ua.SecurityPolicyURINone
		if c.SecurityPolicy != "" && c.SecurityPolicy != "None" {
			bad("security_policy", "%q needs security_mode Sign or SignAndEncrypt; with None it is None", c.SecurityPolicy)
		}
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"certificate", c.Certificate != ""},
			{"private_key", c.PrivateKey != ""},
			{"trusted_server_certificates", len(c.TrustedServerCertificates) > 0},
			{"pki_dir", c.PKIDir != ""},
		} {
			if f.set {
				bad(f.name, "only used with security_mode Sign or SignAndEncrypt")
			}
		}
	case "Sign", "SignAndEncrypt":
		secure = true
		p.mode = ua.MessageSecurityModeFromString(c.SecurityMode)
		switch pol := c.SecurityPolicy; {
		case pol == "":
			p.policy = ua.SecurityPolicyURIBasic256Sha256
		case slices.Contains(policies, pol):
			p.policy = ua.FormatSecurityPolicyURI(pol)
		case pol == "None":
			bad("security_policy", "None cannot sign; use security_mode None or a policy: %s", strings.Join(policies, ", "))
		default:
			bad("security_policy", "%q: want one of %s", pol, strings.Join(policies, ", "))
		}
	default:
		bad("security_mode", "%q: want None, Sign or SignAndEncrypt", c.SecurityMode)
	}
	if secure {
		loadCredentials(c, p, bad)
	}
	if c.Password != "" && c.Username == "" {
		bad("password", "set without username")
	}

	switch c.Mode {
	case ModeSubscribe:
		p.subscribe = true
	case ModePoll:
	default:
		bad("mode", "%q: want subscribe or poll", c.Mode)
	}
	if c.PublishingInterval < time.Millisecond {
		bad("publishing_interval", "must be >= 1ms")
	}
	if c.SamplingInterval < 0 {
		bad("sampling_interval", "must be >= 0")
	}
	if c.QueueSize < 1 || c.QueueSize > 10000 {
		bad("queue_size", "must be 1..10000")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be > 0")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be > 0")
	}
	if c.MaxNodesPerRequest < 1 {
		bad("max_nodes_per_request", "must be >= 1")
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}

	if c.MaxBrowseNodes < 1 {
		bad("max_browse_nodes", "must be >= 1")
	}

	if len(c.Nodes) == 0 && len(c.Browse) == 0 {
		bad("nodes", "at least one node (or a browse rule) is required")
	}
	paths := make(map[string]int, len(c.Nodes))
	ids := make(map[string]int, len(c.Nodes))
	for i, n := range c.Nodes {
		at := fmt.Sprintf("nodes[%d]", i)
		ok := true
		id, err := ua.ParseNodeID(n.ID)
		switch {
		case n.ID == "":
			bad(at+".id", "required (e.g. \"ns=2;s=Machine1.Temp\")")
			ok = false
		case err != nil || !strings.Contains(n.ID, "="):
			// ParseNodeID takes a bare word as a string id in namespace
			// 0, which is never what a config means.
			bad(at+".id", "%q is not a NodeID (want e.g. \"ns=2;s=Temp\" or \"ns=3;i=1042\")", n.ID)
			ok = false
		default:
			key := id.String()
			if j, dup := ids[key]; dup {
				bad(at+".id", "%q is already nodes[%d].id", n.ID, j)
				ok = false
			} else {
				ids[key] = i
			}
		}
		if err := uns.ValidatePath(n.Path); err != nil {
			bad(at+".path", "%v", err)
			ok = false
		} else if j, dup := paths[n.Path]; dup {
			bad(at+".path", "%q is already nodes[%d].path", n.Path, j)
			ok = false
		} else {
			paths[n.Path] = i
		}
		if ok {
			p.nodes = append(p.nodes, node{id: id, series: n.Path})
		}
	}
	for i, b := range c.Browse {
		if r, ok := compileRule(fmt.Sprintf("browse[%d]", i), b, bad); ok {
			p.browse = append(p.browse, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// loadCredentials reads the certificate, key and trust list of a Sign or
// SignAndEncrypt config into p.
func loadCredentials(c *Config, p *plan, bad func(path, format string, args ...any)) {
	certFile, keyFile := c.Certificate, c.PrivateKey
	if c.PKIDir != "" {
		if fi, err := os.Stat(c.PKIDir); err != nil {
			bad("pki_dir", "%v (make it with: molen opcua cert --out %s)", err, c.PKIDir)
		} else if !fi.IsDir() {
			bad("pki_dir", "%s is not a directory", c.PKIDir)
		}
		p.pki = c.PKIDir
		if certFile == "" {
			certFile = filepath.Join(c.PKIDir, CertFile)
		}
		if keyFile == "" {
			keyFile = filepath.Join(c.PKIDir, KeyFile)
		}
	}
	var leaf *x509.Certificate
	if certFile == "" {
		bad("certificate", "required with security_mode %s (or pki_dir)", c.SecurityMode)
	} else if certs, err := readCertificates(certFile); err != nil {
		bad("certificate", "%v", err)
	} else if leaf = certs[0]; len(leaf.URIs) == 0 {
		bad("certificate", "%s has no application URI (a URI subject alternative name), which OPC UA servers check; make one with: molen opcua cert", certFile)
	} else {
		p.cert, p.certURI = leaf.Raw, leaf.URIs[0].String()
	}
	if keyFile == "" {
		bad("private_key", "required with security_mode %s (or pki_dir)", c.SecurityMode)
	} else if key, err := readKey(keyFile); err != nil {
		bad("private_key", "%v", err)
	} else if pub, ok := leafKey(leaf); leaf != nil && (!ok || !pub.Equal(&key.PublicKey)) {
		bad("private_key", "%s does not belong to certificate %s", keyFile, certFile)
	} else {
		p.key = key
	}
	if len(c.TrustedServerCertificates) == 0 && c.PKIDir == "" {
		bad("trusted_server_certificates", "at least one is required with security_mode %s, unless pki_dir is set", c.SecurityMode)
	}
	for i, f := range c.TrustedServerCertificates {
		certs, err := readCertificates(f)
		if err != nil {
			bad(fmt.Sprintf("trusted_server_certificates[%d]", i), "%v", err)
			continue
		}
		p.trusted = append(p.trusted, certs...)
	}
}

func leafKey(c *x509.Certificate) (*rsa.PublicKey, bool) {
	if c == nil {
		return nil, false
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	return k, ok
}

// readCertificates reads the certificates of a PEM file (one or more
// CERTIFICATE blocks) or a DER file (one certificate or a chain).
func readCertificates(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		certs, err := x509.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("%s: no certificate", file)
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE block", file)
	}
	return certs, nil
}

// readKey reads an RSA private key from a PEM file (PKCS #1 or #8).
func readKey(file string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not PEM", file)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS #1 or #8 private key", file)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key; OPC UA security policies need RSA", file, k)
	}
	return rk, nil
}

// errUntrusted is trust's answer for a certificate that is neither in the
// trust list nor signed by a certificate in it.
var errUntrusted = errors.New("not trusted")

// serverCertificate parses the certificate a server presents in its
// endpoint (DER, possibly followed by its chain) and returns its leaf.
func serverCertificate(presented []byte) (*x509.Certificate, error) {
	if len(presented) == 0 {
		return nil, errors.New("the server presents no certificate")
	}
	certs, err := x509.ParseCertificates(presented)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("the server's certificate does not parse: %v", err)
	}
	return certs[0], nil
}

// trust checks a server's certificate leaf against the trust list: it must
// be one of the trusted certificates or be signed by one of them
// (errUntrusted otherwise), and be within its validity period. Errors name
// the certificate by its subject and SHA-1 thumbprint.
func trust(trusted []*x509.Certificate, leaf *x509.Certificate, now time.Time) error {
	name := fmt.Sprintf("the server's certificate %q (SHA-1 %s)", leaf.Subject.CommonName, Thumbprint(leaf.Raw))
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("%s is valid from %v to %v only (is the clock of the edge or the server wrong?)", name, leaf.NotBefore.UTC(), leaf.NotAfter.UTC())
	}
	for _, t := range trusted {
		if bytes.Equal(t.Raw, leaf.Raw) || leaf.CheckSignatureFrom(t) == nil {
			return nil
		}
	}
	return fmt.Errorf("%s, issued by %q, is %w", name, leaf.Issuer.CommonName, errUntrusted)
}
