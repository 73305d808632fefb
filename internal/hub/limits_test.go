package hub_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/uplink"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "molen test hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with a certificate the hub serves HTTPS only, with HSTS and a
// Secure __Host- session cookie.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	logs := &logtest.Buffer{}
	h, err := hub.Start(t.Context(), hub.Config{DataDir: dir, Listen: "127.0.0.1:0", Out: io.Discard, TLSCert: certFile, TLSKey: keyFile,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !strings.HasPrefix(h.URL(), "https://") {
		t.Fatalf("URL = %s", h.URL())
	}
	// The pin edges give as --hub-pin is in the log.
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if pin := uplink.CertPin(pair.Leaf.RawSubjectPublicKeyInfo); !strings.Contains(logs.String(), pin) {
		t.Errorf("hub log does not give the certificate's pin %s:\n%s", pin, logs.String())
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(h.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("healthz over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	u, err := h.Auth().CreateUser(t.Context(), "p@example.test", "P", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Auth().AddMember(t.Context(), u.ID, hub.DefaultOrg, api.RoleViewer); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Post(h.URL()+"/api/v1/auth/login", "application/json", strings.NewReader(`{"email":"p@example.test","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.HasPrefix(sc, api.SecureSessionCookie+"=") || !strings.Contains(sc, "Secure") ||
		!strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("session cookie over TLS: %d %q", resp.StatusCode, sc)
	}
	// Plain HTTP on the TLS port gets no answer of ours.
	if resp, err := http.Get("http://" + h.Addr() + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "ok") {
			t.Errorf("plain HTTP served: %d %s", resp.StatusCode, b)
		}
	}
	if _, err := hub.Start(t.Context(), hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard, TLSCert: certFile, TLSKey: certFile}); err == nil {
		t.Error("a hub started with a certificate as its key")
	}
}

// TestHeaders: every answer carries the security headers; API answers are
// not cached.
func TestHeaders(t *testing.T) {
	h := startAPIHub(t)
	for _, path := range []string{"/api/v1/whoami", "/healthz", "/api/v1/nothing"} {
		req, _ := http.NewRequest("GET", h.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Content-Security-Policy": "frame-ancestors 'none'"} {
			if !strings.Contains(resp.Header.Get(k), want) {
				t.Errorf("%s: %s = %q, want %q", path, k, resp.Header.Get(k), want)
			}
		}
		if strings.HasPrefix(path, "/api/v1/whoami") && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestRateLimits: a flood from one organisation gets 429 with Retry-After
// (counted), and another organisation is served meanwhile.
func TestRateLimits(t *testing.T) {
	ctx := t.Context()
	off := api.Rate{PerSecond: -1}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard, Now: func() time.Time { return now },
		Rates: hub.Rates{Address: off, Caller: off, Edge: off, SignIn: api.Rate{PerSecond: 1.0 / 60, Burst: 3}, Org: api.Rate{PerSecond: 1, Burst: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	admin, _ := h.AdminToken()
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: "other", Kind: auth.Company, Parent: auth.PlatformOrg}); err != nil {
		t.Fatal(err)
	}
	other, err := h.Auth().NewToken(ctx, "other", api.RoleViewer, "x")
	if err != nil {
		t.Fatal(err)
	}
	c := client{t: t, url: h.URL()}
	var limited int
	for range 8 {
		req, _ := http.NewRequest("GET", h.URL()+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			limited++
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
			}
		}
	}
	if limited != 3 {
		t.Errorf("%d of 8 requests in an instant refused, want 3 (burst 5)", limited)
	}
	if code, _ := c.do("GET", "/api/v1/whoami", other, ""); code != 200 {
		t.Errorf("the other organisation meanwhile: %d", code)
	}
	// Sign-ins per address: 3, then 429.
	for i := range 4 {
		code, _ := c.do("POST", "/api/v1/auth/login", "", `{"email":"x@example.test","password":"whatever it is"}`)
		if want := map[bool]int{true: 401, false: 429}[i < 3]; code != want {
			t.Errorf("sign-in %d: %d, want %d", i+1, code, want)
		}
	}
	resp, err := http.Get(h.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`molen_hub_rate_limited_total{by="org"} 3`, `molen_hub_logins_total{result="locked"} 1`, `molen_hub_logins_total{result="failed"} 3`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestBadBodies: oversized and deeply nested bodies are refused before
// they cost anything.
func TestBadBodies(t *testing.T) {
	h := startAPIHub(t)
	tests := []struct {
		name, path, body string
		code             int
	}{
		{"oversized", "/api/v1/edges", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413},
		{"oversized sign-in", "/api/v1/auth/login", `{"email":"` + strings.Repeat("x", 9000) + `"}`, 413},
		{"nested", "/api/v1/tokens", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 413},
		{"nested small", "/api/v1/tokens", strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000), 400},
		{"unknown field", "/api/v1/tokens", `{"name":"t","scopes":"read","admin":true}`, 400},
		{"not JSON", "/api/v1/tokens", "name=t", 400},
	}
	for _, tt := range tests {
		if code, body := h.do("POST", tt.path, h.admin, tt.body); code != tt.code {
			t.Errorf("%s: %d %v, want %d", tt.name, code, body, tt.code)
		}
	}
}
