package edge

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uplink"
)

func TestHubPin(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	good := uplink.CertPin(srv.Certificate().RawSubjectPublicKeyInfo)
	other := sha256.Sum256([]byte("another key"))
	wrong := "sha256/" + base64.StdEncoding.EncodeToString(other[:])
	get := func(pins []string) error {
		resp, err := hubClient(roots, pins, 10e9).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, tt := range []struct {
		name string
		pins []string
		ok   bool
	}{
		{"no pin", nil, true},
		{"the hub's pin", []string{good}, true},
		{"the hub's pin among others", []string{wrong, good}, true},
		{"another pin", []string{wrong}, false},
	} {
		err := get(tt.pins)
		if tt.ok != (err == nil) {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "does not match --hub-pin") || !strings.Contains(err.Error(), good)) {
			t.Errorf("%s: error %q does not say which key the hub presents", tt.name, err)
		}
	}
	// The pin in base64url, as some tools print it, is the same pin.
	sum, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(good, "sha256/"))
	if pins, err := parsePins([]string{"sha256/" + base64.RawURLEncoding.EncodeToString(sum)}); err != nil || pins[0] != good {
		t.Errorf("base64url pin parsed as %v, %v; want %s", pins, err, good)
	}

	base := Config{DataDir: t.TempDir(), HubURL: "https://hub.example", HubPins: []string{good}}
	if err := base.Validate(); err != nil {
		t.Errorf("valid pin: %v", err)
	}
	for name, c := range map[string]Config{
		"plain http": {DataDir: base.DataDir, HubURL: "http://hub.example", HubPins: []string{good}},
		"not a pin":  {DataDir: base.DataDir, HubURL: "https://hub.example", HubPins: []string{"sha1/abc"}},
		"short pin":  {DataDir: base.DataDir, HubURL: "https://hub.example", HubPins: []string{"sha256/AAAA"}},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "hub_pin") {
			t.Errorf("%s: Validate = %v, want an error naming edge.hub_pin", name, err)
		}
	}
}
