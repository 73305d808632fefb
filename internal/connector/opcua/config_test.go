package opcua_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/opcua"
)

func nan() float64 { return math.NaN() }

// credentials are a PKI directory as `molen opcua cert` makes it (dir:
// cert, certDER, key), the key of another certificate, and a certificate
// of key without an application URI.
type credentials struct{ dir, cert, key, certDER, otherKey, noURI string }

func writeCredentials(t testing.TB) credentials {
	t.Helper()
	dir := t.TempDir()
	der, key, err := opcua.NewCertificate("urn:molen:edge:test", []string{"localhost", "127.0.0.1"}, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := opcua.WriteCredentials(dir, der, key, false); err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "no URI"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	noURI, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c := credentials{
		dir:      dir,
		cert:     filepath.Join(dir, opcua.CertFile),
		key:      filepath.Join(dir, opcua.KeyFile),
		certDER:  filepath.Join(dir, opcua.CertDERFile),
		otherKey: filepath.Join(dir, "other.pem"),
		noURI:    filepath.Join(dir, "no-uri.pem"),
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p8, err := x509.MarshalPKCS8PrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	write(c.otherKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	write(c.noURI, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: noURI}))
	return c
}

func validConfig() *opcua.Config {
	c := opcua.NewConfig()
	c.Endpoint = "opc.tcp://192.168.10.30:4840"
	c.SecurityMode = "None"
	c.Nodes = []opcua.Node{
		{ID: "ns=2;s=Machine1.Temp", Path: "s/a/l/m/temp"},
		{ID: "ns=3;i=1042", Path: "s/a/l/m/count"},
		{ID: "ns=2;s=Machine1.Speed", Path: "s/a/l/m/speed"},
	}
	return c
}

func rule() opcua.Browse {
	return opcua.Browse{Root: "ns=2;s=Line1", Pattern: "+/Temperature", Path: "s/a/l/{1}/temp_c", MaxDepth: 5}
}

// browse edits a config's only browse rule.
func browse(edit func(*opcua.Browse)) func(*opcua.Config) {
	return func(c *opcua.Config) {
		b := rule()
		edit(&b)
		c.Browse = []opcua.Browse{b}
	}
}

func TestValidate(t *testing.T) {
	creds := writeCredentials(t)
	secure := func(mode string) func(*opcua.Config) {
		return func(c *opcua.Config) {
			c.SecurityMode = mode
			c.Certificate, c.PrivateKey = creds.cert, creds.key
			c.TrustedServerCertificates = []string{creds.certDER}
		}
	}
	then := func(fs ...func(*opcua.Config)) func(*opcua.Config) {
		return func(c *opcua.Config) {
			for _, f := range fs {
				f(c)
			}
		}
	}
	tests := []struct {
		name string
		edit func(*opcua.Config)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*opcua.Config) {}, ""},
		{"poll", func(c *opcua.Config) { c.Mode = "poll" }, ""},
		{"endpoint path", func(c *opcua.Config) { c.Endpoint = "opc.tcp://plc:4840/UA/Server" }, ""},
		{"username", func(c *opcua.Config) { c.Username, c.Password = "edge", "s3cret" }, ""},
		{"sign", secure("Sign"), ""},
		{"sign and encrypt", then(secure("SignAndEncrypt"), func(c *opcua.Config) { c.SecurityPolicy = "Aes256Sha256RsaPss" }), ""},
		{"no endpoint", func(c *opcua.Config) { c.Endpoint = "" }, "endpoint: required"},
		{"http endpoint", func(c *opcua.Config) { c.Endpoint = "http://plc:4840" }, `endpoint: "http://plc:4840": want opc.tcp://host:port`},
		{"no port", func(c *opcua.Config) { c.Endpoint = "opc.tcp://plc" }, "endpoint: "},
		{"no security mode", func(c *opcua.Config) { c.SecurityMode = "" }, "security_mode: required: None, Sign or SignAndEncrypt (None must be chosen explicitly)"},
		{"bad security mode", func(c *opcua.Config) { c.SecurityMode = "none" }, `security_mode: "none": want None, Sign or SignAndEncrypt`},
		{"policy with None", func(c *opcua.Config) { c.SecurityPolicy = "Basic256Sha256" }, `security_policy: "Basic256Sha256" needs security_mode Sign or SignAndEncrypt`},
		{"certificate with None", func(c *opcua.Config) { c.Certificate = creds.cert }, "certificate: only used with security_mode Sign or SignAndEncrypt"},
		{"policy None with Sign", then(secure("Sign"), func(c *opcua.Config) { c.SecurityPolicy = "None" }), "security_policy: None cannot sign"},
		{"unknown policy", then(secure("Sign"), func(c *opcua.Config) { c.SecurityPolicy = "Basic512" }), `security_policy: "Basic512": want one of Basic256Sha256`},
		{"sign without files", func(c *opcua.Config) { c.SecurityMode = "Sign" }, "certificate: required with security_mode Sign (or pki_dir)\nprivate_key: required with security_mode Sign (or pki_dir)\ntrusted_server_certificates: at least one is required"},
		{"pki_dir alone", func(c *opcua.Config) { c.SecurityMode, c.PKIDir = "SignAndEncrypt", creds.dir }, ""},
		{"pki_dir and a trust list", then(secure("Sign"), func(c *opcua.Config) { c.PKIDir = creds.dir }), ""},
		{"pki_dir with None", func(c *opcua.Config) { c.PKIDir = creds.dir }, "pki_dir: only used with security_mode Sign or SignAndEncrypt"},
		{"pki_dir missing", func(c *opcua.Config) { c.SecurityMode, c.PKIDir = "Sign", "/nonexistent/pki" }, "pki_dir: stat /nonexistent/pki: no such file or directory (make it with: molen opcua cert --out /nonexistent/pki)"},
		{"pki_dir is a file", func(c *opcua.Config) { c.SecurityMode, c.PKIDir = "Sign", creds.cert }, "pki_dir: " + creds.cert + " is not a directory"},
		{"certificate without URI", then(secure("Sign"), func(c *opcua.Config) { c.Certificate = creds.noURI }), "certificate: " + creds.noURI + " has no application URI"},
		{"missing certificate file", then(secure("Sign"), func(c *opcua.Config) { c.Certificate = "/nonexistent/cert.pem" }), "certificate: open /nonexistent/cert.pem"},
		{"key is not a certificate", then(secure("Sign"), func(c *opcua.Config) { c.Certificate = creds.key }), "certificate: " + creds.key + ": no CERTIFICATE block"},
		{"key of another certificate", then(secure("Sign"), func(c *opcua.Config) { c.PrivateKey = creds.otherKey }), "private_key: " + creds.otherKey + " does not belong to certificate"},
		{"bad trusted file", then(secure("Sign"), func(c *opcua.Config) { c.TrustedServerCertificates = []string{creds.cert, "/nonexistent.der"} }), "trusted_server_certificates[1]: open /nonexistent.der"},
		{"password without username", func(c *opcua.Config) { c.Password = "x" }, "password: set without username"},
		{"mode", func(c *opcua.Config) { c.Mode = "push" }, `mode: "push": want subscribe or poll`},
		{"publishing interval", func(c *opcua.Config) { c.PublishingInterval = time.Microsecond }, "publishing_interval: must be >= 1ms"},
		{"sampling interval", func(c *opcua.Config) { c.SamplingInterval = -1 }, "sampling_interval: must be >= 0"},
		{"queue size", func(c *opcua.Config) { c.QueueSize = 0 }, "queue_size: must be 1..10000"},
		{"poll interval", func(c *opcua.Config) { c.PollInterval = 0 }, "poll_interval: must be > 0"},
		{"timeout", func(c *opcua.Config) { c.Timeout = 0 }, "timeout: must be > 0"},
		{"max nodes", func(c *opcua.Config) { c.MaxNodesPerRequest = 0 }, "max_nodes_per_request: must be >= 1"},
		{"backoff", func(c *opcua.Config) { c.BackoffMax = time.Millisecond }, "backoff_max: must be >= backoff_min"},
		{"no nodes", func(c *opcua.Config) { c.Nodes = nil }, "nodes: at least one node (or a browse rule) is required"},
		{"browse only", func(c *opcua.Config) { c.Nodes, c.Browse = nil, []opcua.Browse{rule()} }, ""},
		{"browse default root, #", browse(func(b *opcua.Browse) { b.Root, b.Pattern, b.Path = "", "Objects/#", "s/a/{2+}" }), ""},
		{"browse root", browse(func(b *opcua.Browse) { b.Root = "Line1" }), `browse[0].root: "Line1" is not a NodeID`},
		{"browse no pattern", browse(func(b *opcua.Browse) { b.Pattern = "" }), "browse[0].pattern: required"},
		{"browse # not last", browse(func(b *opcua.Browse) { b.Pattern = "#/Temperature" }), `browse[0].pattern: "#/Temperature": # must be the last level`},
		{"browse + in a name", browse(func(b *opcua.Browse) { b.Pattern = "Mill+/Temperature" }), "browse[0].pattern: \"Mill+/Temperature\": + and # must stand alone"},
		{"browse empty level", browse(func(b *opcua.Browse) { b.Pattern = "+//T" }), "browse[0].pattern: \"+//T\": empty level"},
		{"browse no path", browse(func(b *opcua.Browse) { b.Path = "" }), "browse[0].path: required"},
		{"browse level beyond pattern", browse(func(b *opcua.Browse) { b.Path = "s/a/{3}" }), `browse[0].path: "s/a/{3}": {3}: matches of "+/Temperature" have 2 names`},
		{"browse bad placeholder", browse(func(b *opcua.Browse) { b.Path = "s/a/{x}" }), "browse[0].path: \"s/a/{x}\": {x}: want {n} or {n+}"},
		{"browse unclosed", browse(func(b *opcua.Browse) { b.Path = "s/a/{1" }), "browse[0].path: \"s/a/{1\": { without }"},
		{"browse bad literal", browse(func(b *opcua.Browse) { b.Path = "s a/{1}" }), "browse[0].path: \"s a/{1}\": "},
		{"browse max depth", browse(func(b *opcua.Browse) { b.MaxDepth = 65 }), "browse[0].max_depth: must be 1..64"},
		{"browse depth below pattern", browse(func(b *opcua.Browse) { b.MaxDepth = 1 }), `browse[0].max_depth: 1, but pattern "+/Temperature" needs 2 levels`},
		{"max browse nodes", func(c *opcua.Config) { c.MaxBrowseNodes = 0 }, "max_browse_nodes: must be >= 1"},
		{"node id missing", func(c *opcua.Config) { c.Nodes[1].ID = "" }, `nodes[1].id: required (e.g. "ns=2;s=Machine1.Temp")`},
		{"bare word id", func(c *opcua.Config) { c.Nodes[2].ID = "Temp" }, `nodes[2].id: "Temp" is not a NodeID (want e.g. "ns=2;s=Temp" or "ns=3;i=1042")`},
		{"bad numeric id", func(c *opcua.Config) { c.Nodes[2].ID = "ns=2;i=x" }, `nodes[2].id: "ns=2;i=x" is not a NodeID`},
		{"duplicate id", func(c *opcua.Config) { c.Nodes[2].ID = "ns=2;s=Machine1.Temp" }, `nodes[2].id: "ns=2;s=Machine1.Temp" is already nodes[0].id`},
		{"path", func(c *opcua.Config) { c.Nodes[0].Path = "s/+/temp" }, "nodes[0].path: invalid UNS path"},
		{"one segment", func(c *opcua.Config) { c.Nodes[0].Path = "temp" }, "nodes[0].path: "},
		{"duplicate path", func(c *opcua.Config) { c.Nodes[1].Path = "s/a/l/m/temp" }, `nodes[1].path: "s/a/l/m/temp" is already nodes[0].path`},
		{"several errors", func(c *opcua.Config) { c.Mode = ""; c.Nodes[1].Path = "" }, "mode: \"\": want subscribe or poll\nnodes[1].path: "},
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
			if _, berr := opcua.New(c, nil); (berr == nil) != (err == nil) {
				t.Errorf("New = %v, Validate = %v: they must agree", berr, err)
			}
		})
	}
}

// TestPasswordHidden: the password does not show when a config is printed
// or logged.
func TestPasswordHidden(t *testing.T) {
	c := validConfig()
	c.Username, c.Password = "edge", "hunter2"
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, c); strings.Contains(got, "hunter2") {
			t.Errorf("%s shows the password: %s", format, got)
		}
	}
	if got := fmt.Sprint(c.Password); got != "[redacted]" {
		t.Errorf("Password prints as %q", got)
	}
}

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loads an input (defaults first, unknown fields are errors) and validates
// it.
func TestDocExample(t *testing.T) {
	cfg := connectortest.DecodeExample(t, "opcua", "testdata/example.yaml")
	c := cfg.(*opcua.Config)
	if c.SecurityMode != "None" || c.Mode != "subscribe" || len(c.Nodes) != 4 || len(c.Browse) != 1 || c.Browse[0].MaxDepth != 5 || c.SamplingInterval != 250*time.Millisecond {
		t.Errorf("decoded %+v", c)
	}
}
