package edge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/edge"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue makes a certificate for cn (a server's for 127.0.0.1 if server).
func (ca *testCA) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDevicesLogInWithClientCertificates(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	ca, other := newTestCA(t), newTestCA(t)
	dir := t.TempDir()
	srv := ca.issue(t, "edge", true)
	writePEM(t, filepath.Join(dir, "edge.crt"), "CERTIFICATE", srv.Certificate[0])
	keyDER, _ := x509.MarshalECPrivateKey(srv.PrivateKey.(*ecdsa.PrivateKey))
	writePEM(t, filepath.Join(dir, "edge.key"), "EC PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.cert.Raw)
	pw, err := edge.AddDevice(t.Context(), filepath.Join(v.cfg.DataDir, edge.DevicesFile), "press-1", "f/press1")
	if err != nil {
		t.Fatal(err)
	}
	v.cfg.MQTTTLSCert, v.cfg.MQTTTLSKey, v.cfg.MQTTClientCA = filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key"), filepath.Join(dir, "ca.crt")
	v.startEdge()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	connect := func(cert *tls.Certificate, user, pass string) (paho.Client, error) {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		opts := paho.NewClientOptions().AddBroker("ssl://" + v.edge.MQTTAddr()).SetTLSConfig(tc).
			SetClientID(fmt.Sprintf("tls-%d", time.Now().UnixNano())).SetProtocolVersion(4).
			SetUsername(user).SetPassword(pass).SetAutoReconnect(false)
		c := paho.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(patience) {
			t.Fatal("MQTT connect over TLS: no answer")
		}
		if tok.Error() == nil {
			t.Cleanup(func() { c.Disconnect(100) })
		}
		return c, tok.Error()
	}
	good := ca.issue(t, "press-1", false)
	dev, err := connect(&good, "", "")
	if err != nil {
		t.Fatalf("device with its certificate: %v", err)
	}
	publish(t, dev, "f/press1/n", []byte("1"))
	// A password works over TLS too.
	byPassword, err := connect(nil, "press-1", pw)
	if err != nil {
		t.Fatalf("device with its password over TLS: %v", err)
	}
	publish(t, byPassword, "f/press1/n", []byte("2"))

	unknown := ca.issue(t, "nobody", false)
	if _, err := connect(&unknown, "", ""); err == nil {
		t.Error("a certificate of no device connected")
	}
	foreign := other.issue(t, "press-1", false)
	if _, err := connect(&foreign, "", ""); err == nil {
		t.Error("a certificate of another CA connected")
	}
	eventually(t, "both values at the hub", func() bool { return v.count("f/press1/n") == 2 })
	if n := v.edge.Status().MQTT.Refused["certificate"]; n != 1 {
		t.Errorf("refused certificate count %d, want 1 (the other CA's is refused in the TLS handshake)", n)
	}
}
