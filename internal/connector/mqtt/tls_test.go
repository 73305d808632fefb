package mqtt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/uns"
)

// issue makes a certificate signed by parent (self-signed if nil) and
// returns it with its key.
func issue(t *testing.T, name string, parent *tls.Certificate, ca bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		IsCA:                  ca,
		BasicConstraintsValid: true,
	}
	signer, signerKey := tpl, any(key)
	if parent != nil {
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTLSClientCertificate: the input connects over TLS to a broker that
// requires a client certificate, and does not without one.
func TestTLSClientCertificate(t *testing.T) {
	eachVersion(t, func(t *testing.T, version int) {
		ca := issue(t, "test ca", nil, true)
		server := issue(t, "broker", &ca, false)
		client := issue(t, "edge", &ca, false)
		pool := x509.NewCertPool()
		pool.AddCert(ca.Leaf)
		b := newBroker(t, &tls.Config{
			Certificates: []tls.Certificate{server},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		})
		dir := t.TempDir()
		keyDER, err := x509.MarshalPKCS8PrivateKey(client.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}

		cfg := oneSub(b, "tls/#", version)
		cfg.CAFile = writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Leaf.Raw)
		cfg.CertFile = writePEM(t, filepath.Join(dir, "edge.pem"), "CERTIFICATE", client.Leaf.Raw)
		cfg.KeyFile = writePEM(t, filepath.Join(dir, "edge.key"), "PRIVATE KEY", keyDER)
		sink := connectortest.NewSink()
		r := runInput(t, cfg, sink)
		waitFor(t, "connected", func() bool { return r.in.Status().State == connector.Connected })
		b.Publish(t, "tls/a/v", []byte("1"), false, 1)
		waitFor(t, "the value", func() bool { return has(sink, "tls/a/v", uns.Int(1)) })
		r.stop()

		cfg.CertFile, cfg.KeyFile = "", ""
		r = runInput(t, cfg, connectortest.NewSink())
		waitFor(t, "refused", func() bool { return r.in.Status().State == connector.Disconnected })
		if st := r.in.Status(); st.Connects != 0 || st.LastError == "" {
			t.Errorf("without a client certificate: status %+v", st)
		}
	})
}
