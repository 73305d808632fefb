package httpin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/httpin"
	"github.com/molen-io/molen/internal/uns"
)

// start runs an input of c and returns it, its sink and its address.
func start(t *testing.T, c *httpin.Config) (*httpin.Input, *connectortest.Sink, string) {
	return startB(t, c)
}

func startB(t testing.TB, c *httpin.Config) (*httpin.Input, *connectortest.Sink, string) {
	t.Helper()
	c.Listen = "127.0.0.1:0"
	in, err := httpin.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := connectortest.NewSink()
	connectortest.Start(t, in, sink)
	connectortest.WaitFor(t, "the input listening", func() bool { return in.Addr() != nil })
	return in, sink, in.Addr().String()
}

func do(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestAnswers: each kind of request gets its status code and reason, the
// rejected ones are counted, and nothing of a rejected batch is stored.
func TestAnswers(t *testing.T) {
	c := httpin.NewConfig()
	c.MaxBody = 200
	in, sink, addr := start(t, c)
	base := "http://" + addr + "/points"
	tests := []struct {
		name, method, url, body string
		code                    int
		reason                  string // in the body and in rejected
		points                  int    // stored by the request
	}{
		{"one value", "POST", base + "/s/a/temp", "21.5", 204, "", 1},
		{"value with time", "POST", base + "/s/a/temp", `{"value": 22, "ts": 1772352000000, "q": "uncertain"}`, 204, "", 1},
		{"object", "POST", base + "/s/a", `{"temp": 1, "motor": {"rpm": 1200}}`, 204, "", 2},
		{"lines", "POST", base, "s/a/temp 1\n\ns/a/on true\n", 204, "", 2},
		{"bad line", "POST", base, "s/a/temp 1\ns/a/on\n", 400, httpin.ReasonBadRequest, 0},
		{"bad json", "POST", base + "/s/a/temp", "{", 400, uns.ReasonNotJSON, 0},
		{"bad path", "POST", base + "/s/a+/temp", "1", 400, uns.ReasonInvalidPath, 0},
		{"too large", "POST", base, strings.Repeat("s/a/temp 1\n", 30), 413, uns.ReasonOversized, 0},
		{"get", "GET", base + "/s/a/temp", "", 405, httpin.ReasonBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, rejBefore := sink.Len(), in.Status().Rejected[tt.reason]
			req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			code, body := do(t, http.DefaultClient, req)
			if code != tt.code {
				t.Errorf("status %d %q, want %d", code, body, tt.code)
			}
			if got := sink.Len() - before; got != tt.points {
				t.Errorf("%d points stored, want %d", got, tt.points)
			}
			if tt.reason != "" {
				if !strings.HasPrefix(body, tt.reason+":") {
					t.Errorf("body %q does not start with the reason %q", body, tt.reason)
				}
				if got := in.Status().Rejected[tt.reason] - rejBefore; got != 1 {
					t.Errorf("rejected[%s] rose by %d, want 1", tt.reason, got)
				}
			}
		})
	}
	if st := in.Status(); st.Points != int64(sink.Len()) {
		t.Errorf("status points %d, sink %d", st.Points, sink.Len())
	}
}

// TestSinkFails: when the edge cannot store the points the client gets
// 503 with Retry-After, and its retry is stored.
func TestSinkFails(t *testing.T) {
	in, sink, addr := start(t, httpin.NewConfig())
	sink.FailNext(1)
	url := "http://" + addr + "/points/s/a/temp"
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"value":1,"ts":1772352000000}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st := in.Status(); st.LastError == "" || st.Points != 0 {
		t.Errorf("status %+v: want last_error and no points", st)
	}
	resp, err = http.Post(url, "application/json", strings.NewReader(`{"value":1,"ts":1772352000000}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || sink.Len() != 1 {
		t.Errorf("retry: status %d, %d points stored; want 204 and 1", resp.StatusCode, sink.Len())
	}
}

// TestAuth: with a token and basic credentials set, either is enough,
// anything else is 401 and counted; the secrets are not in the status.
func TestAuth(t *testing.T) {
	c := httpin.NewConfig()
	c.Token, c.Username, c.Password = "s3cret-token", "line3", "pa55word"
	in, sink, addr := start(t, c)
	url := "http://" + addr + "/points/s/a/temp"
	tests := []struct {
		name string
		set  func(r *http.Request)
		code int
	}{
		{"none", func(r *http.Request) {}, 401},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token") }, 204},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-tokeN") }, 401},
		{"basic", func(r *http.Request) { r.SetBasicAuth("line3", "pa55word") }, 204},
		{"wrong basic", func(r *http.Request) { r.SetBasicAuth("line3", "password") }, 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", url, strings.NewReader("1"))
		tt.set(req)
		if code, body := do(t, http.DefaultClient, req); code != tt.code {
			t.Errorf("%s: status %d %q, want %d", tt.name, code, body, tt.code)
		}
	}
	st := in.Status()
	if st.Rejected[httpin.ReasonUnauthorized] != 3 || sink.Len() != 2 {
		t.Errorf("rejected %v, %d points; want 3 unauthorized, 2 points", st.Rejected, sink.Len())
	}
	if strings.Contains(st.LastError, "s3cret") || strings.Contains(st.LastError, "pa55") {
		t.Errorf("last_error %q holds a secret", st.LastError)
	}
}

// TestTLS: with cert_file and key_file the input speaks HTTPS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	c := httpin.NewConfig()
	c.CertFile, c.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(c.CertFile, certPEM, 0o600)
	os.WriteFile(c.KeyFile, keyPEM, 0o600)
	_, sink, addr := start(t, c)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("POST", "https://"+addr+"/points/s/a/temp", strings.NewReader("7"))
	if code, body := do(t, client, req); code != 204 {
		t.Fatalf("status %d %q", code, body)
	}
	if pts := sink.Points(); len(pts) != 1 || pts[0].Value != uns.Int(7) {
		t.Errorf("points %v", pts)
	}
	if _, err := http.Post("http://"+addr+"/points/s/a/temp", "", strings.NewReader("8")); err == nil && sink.Len() != 1 {
		t.Error("plain HTTP stored a point")
	}
}

// TestAddressTaken: an input whose address is taken is disconnected and
// listens once the address is free.
func TestAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := httpin.NewConfig()
	c.Listen = ln.Addr().String()
	c.BackoffMin, c.BackoffMax = time.Millisecond, 10*time.Millisecond
	in, err := httpin.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	connectortest.Start(t, in, connectortest.NewSink())
	waitState := func(want string) {
		connectortest.WaitFor(t, "state "+want, func() bool { return string(in.Status().State) == want })
	}
	waitState("disconnected")
	if st := in.Status(); !strings.Contains(st.LastError, "address already in use") {
		t.Errorf("last_error %q", st.LastError)
	}
	ln.Close()
	waitState("connected")
}

// TestRootPath: with path "/" a series is posted to /<series> and a batch
// to /.
func TestRootPath(t *testing.T) {
	c := httpin.NewConfig()
	c.Path = "/"
	_, sink, addr := start(t, c)
	for _, post := range []struct{ url, body string }{{"/s/a/temp", "1"}, {"/", "s/a/temp 2\n"}} {
		resp, err := http.Post("http://"+addr+post.url, "text/plain", strings.NewReader(post.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("POST %s: status %d", post.url, resp.StatusCode)
		}
	}
	if n := sink.Len(); n != 2 {
		t.Errorf("%d points, want 2", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		set  func(c *httpin.Config)
		want string
	}{
		{func(c *httpin.Config) { c.Listen = "8089" }, "listen:"},
		{func(c *httpin.Config) { c.Path = "points" }, "path:"},
		{func(c *httpin.Config) { c.Username = "u" }, "password: set username and password together"},
		{func(c *httpin.Config) { c.CertFile = "c.pem" }, "key_file:"},
		{func(c *httpin.Config) { c.MaxBody = 0 }, "max_body:"},
	} {
		c := httpin.NewConfig()
		tt.set(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edge"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
