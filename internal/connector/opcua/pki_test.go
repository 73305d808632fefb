package opcua

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

func TestNewCertificate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	der, key, err := NewCertificate("urn:plant-1:molen:edge", []string{"edge-1.plant.local", "192.168.10.5"}, 365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "urn:plant-1:molen:edge" {
		t.Errorf("URIs %v, want the application URI", c.URIs)
	}
	if len(c.DNSNames) != 1 || c.DNSNames[0] != "edge-1.plant.local" || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("192.168.10.5")) {
		t.Errorf("DNS names %v, IPs %v", c.DNSNames, c.IPAddresses)
	}
	if !c.NotBefore.Equal(now.Add(-backdate)) || !c.NotAfter.Equal(now.Add(365*24*time.Hour)) {
		t.Errorf("valid %v to %v", c.NotBefore, c.NotAfter)
	}
	wantUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	if c.KeyUsage != wantUsage || len(c.ExtKeyUsage) != 2 {
		t.Errorf("key usage %b, ext %v", c.KeyUsage, c.ExtKeyUsage)
	}
	if err := c.CheckSignatureFrom(c); err == nil {
		t.Error("a non-CA certificate checks as its own issuer") // self-signed, not a CA
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil || c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature %v: %v", c.SignatureAlgorithm, err)
	}
	if key.N.BitLen() != 2048 || !key.PublicKey.Equal(c.PublicKey) {
		t.Errorf("key of %d bits, matches the certificate: %v", key.N.BitLen(), key.PublicKey.Equal(c.PublicKey))
	}
	if _, _, err := NewCertificate("edge", nil, time.Hour, now); err == nil {
		t.Error("an application URI without a scheme was accepted")
	}
}

func TestWriteCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	der, key, err := NewCertificate("urn:x:molen:edge", nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCredentials(dir, der, key, false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{KeyFile, CertFile, CertDERFile, TrustedDir, RejectedDir} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if dir := name == TrustedDir || name == RejectedDir; fi.IsDir() != dir {
			t.Errorf("%s: mode %v", name, fi.Mode())
		}
		if name == KeyFile && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600: only the edge may read its key", name, fi.Mode())
		}
	}
	certs, err := readCertificates(filepath.Join(dir, CertFile))
	if err != nil || string(certs[0].Raw) != string(der) {
		t.Errorf("%s: %v", CertFile, err)
	}
	k, err := readKey(filepath.Join(dir, KeyFile))
	if err != nil || !k.Equal(key) {
		t.Errorf("%s: %v", KeyFile, err)
	}
	if err := WriteCredentials(dir, der, key, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second write: %v, want a refusal to replace the key", err)
	}
	if err := WriteCredentials(dir, der, key, true); err != nil {
		t.Errorf("replace: %v", err)
	}
}

// TestConnectError: when a server refuses the edge's certificate, the error
// names it (thumbprint, URI) and the usual causes; other errors stay as
// they are.
func TestConnectError(t *testing.T) {
	dir := t.TempDir()
	der, key, err := NewCertificate("urn:x:molen:edge", nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCredentials(dir, der, key, false); err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Endpoint, cfg.SecurityMode, cfg.PKIDir = "opc.tcp://plc:4840", "SignAndEncrypt", dir
	cfg.Nodes = []Node{{ID: "ns=2;s=T", Path: "a/b"}}
	in, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := in.connectError(fmt.Errorf("activate session: %w", ua.StatusBadSecurityChecksFailed)).Error()
	for _, want := range []string{"BadSecurityChecksFailed", Thumbprint(der), "urn:x:molen:edge", "trusted certificates", "clocks", "Basic256Sha256"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
	if got := in.connectError(ua.StatusBadTimeout).Error(); strings.Contains(got, Thumbprint(der)) {
		t.Errorf("a timeout is explained as a refused certificate: %q", got)
	}
}

func TestSanitizeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"mill-2":                 "mill-2",
		"Siemens S7-1500 OPC UA": "Siemens_S7-1500_OPC_UA",
		"../../etc/passwd":       "etcpasswd",
		"a/b\\c\x00d;rm -rf":     "abcdrm_-rf",
		"":                       "",
	} {
		if got := sanitizeFileName(in); got != want {
			t.Errorf("sanitizeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
