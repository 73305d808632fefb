package opcua

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/connector"
)

// The files of a PKI directory (pki_dir), as `molen opcua cert` makes them
// and the input reads them. The edge's own certificate and key are the
// defaults of certificate and private_key; trusted/ and rejected/ follow
// the convention of OPC UA applications.
const (
	CertFile    = "edge-cert.pem" // the edge's application instance certificate, PEM
	CertDERFile = "edge-cert.der" // the same in DER, the form servers' trust lists take
	KeyFile     = "edge-key.pem"  // its RSA key, PKCS #8 PEM, mode 0600
	TrustedDir  = "trusted"       // server certificates (or CAs) the edge trusts
	RejectedDir = "rejected"      // server certificates offered and not trusted (yet)
)

// CertificateValidity is how long a certificate NewCertificate makes is
// valid by default.
const CertificateValidity = 5 * 365 * 24 * time.Hour

// backdate is how long before it is made a new certificate is valid from,
// so that a server whose clock is behind the edge's accepts it at once.
const backdate = 24 * time.Hour

// NewCertificate makes a self-signed OPC UA application instance
// certificate for the application URI uri and its RSA key (2048 bits, which
// every security policy accepts): signed with SHA-256, uri as its URI
// subject alternative name (servers check that it is the application URI
// the client announces), hosts as DNS names or IP addresses, the key
// usages OPC UA asks for, valid from a day before now for validFor.
func NewCertificate(uri string, hosts []string, validFor time.Duration, now time.Time) (der []byte, key *rsa.PrivateKey, err error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return nil, nil, fmt.Errorf("application URI %q: want a URI such as urn:plant-1:molen:edge", uri)
	}
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("serial number: %w", err)
	}
	name := "molen edge"
	if len(hosts) > 0 {
		name += " " + hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"molen"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	return der, key, nil
}

// ErrExists is WriteCredentials' answer when the directory holds a key
// already.
var ErrExists = errors.New("the edge has a certificate already")

// WriteCredentials writes the certificate der and its key into dir as
// CertFile, CertDERFile and KeyFile, and makes TrustedDir and RejectedDir:
// a PKI directory the input takes as pki_dir. It does not replace an
// existing key unless replace: a new key is a new certificate, which every
// server that trusted the old one must be told of again.
func WriteCredentials(dir string, der []byte, key *rsa.PrivateKey, replace bool) error {
	keyFile := filepath.Join(dir, KeyFile)
	if _, err := os.Stat(keyFile); err == nil && !replace {
		return fmt.Errorf("%s exists: %w (replacing it means every server must trust the new one)", keyFile, ErrExists)
	}
	for _, d := range []string{dir, filepath.Join(dir, TrustedDir), filepath.Join(dir, RejectedDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600},
		{CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		{CertDERFile, der, 0o644},
	} {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes data to name through a temporary file, so that a reader
// never sees half a certificate or key.
func writeFile(name string, data []byte, mode os.FileMode) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile keeps an existing file's mode
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Thumbprint is the SHA-1 of a DER certificate in upper-case hex: the
// thumbprint OPC UA uses and its tools (server trust lists, UaExpert)
// show.
func Thumbprint(der []byte) string {
	s := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// fingerprint256 is the SHA-256 of a DER certificate in upper-case hex.
func fingerprint256(der []byte) string {
	s := sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// describe is what the status shows of a server's certificate.
func describe(c *x509.Certificate) *connector.Certificate {
	return &connector.Certificate{
		Subject:   c.Subject.String(),
		SHA1:      Thumbprint(c.Raw),
		SHA256:    fingerprint256(c.Raw),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
	}
}

// readTrusted reads the certificates of the files in dir (PEM or DER);
// a missing dir trusts nothing. A file that does not parse is an error
// naming it: the operator put it there to be trusted.
func readTrusted(dir string) ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trusted certificates: %w", err)
	}
	var out []*x509.Certificate
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		certs, err := readCertificates(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("trusted certificate %v", err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// reject saves a server certificate the edge does not trust into the
// rejected directory of pki, for an operator to check and move to trusted/,
// and returns the file. The name holds the thumbprint, so the same
// certificate is saved once.
func reject(pki string, c *x509.Certificate) (string, error) {
	dir := filepath.Join(pki, RejectedDir)
	name := sanitizeFileName(c.Subject.CommonName)
	if name != "" {
		name += "-"
	}
	file := filepath.Join(dir, name+Thumbprint(c.Raw)+".der")
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save the server's certificate: %w", err)
	}
	if err := writeFile(file, c.Raw, 0o644); err != nil {
		return "", fmt.Errorf("save the server's certificate: %w", err)
	}
	return file, nil
}

// sanitizeFileName keeps the bytes of s that are safe in a file name and a
// shell command, up to 64 of them.
func sanitizeFileName(s string) string {
	b := make([]byte, 0, min(len(s), 64))
	for i := 0; i < len(s) && len(b) < 64; i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b = append(b, c)
		case c == ' ':
			b = append(b, '_')
		}
	}
	return strings.TrimLeft(string(b), ".")
}
