package uplink_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uplink"
)

// A secret sealed for one edge's key opens with that key only; the
// hub's keyring opens only what it sealed.
func TestSealed(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	sealed, err := uplink.SealFor(pub, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") {
		t.Fatal("sealed holds the value")
	}
	if got, err := uplink.OpenSealed(key, sealed); err != nil || string(got) != "s3cret" {
		t.Errorf("the edge's key opens %q, %v", got, err)
	}
	if _, err := uplink.OpenSealed(other, sealed); err == nil {
		t.Error("another key opens the secret")
	}
	ring, _ := uplink.NewKeyring()
	again, err := uplink.ParseKeyring(ring.String())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ring.Seal([]byte("at rest"))
	if got, err := again.Open(s); err != nil || string(got) != "at rest" {
		t.Errorf("keyring read back opens %q, %v", got, err)
	}
	otherRing, _ := uplink.NewKeyring()
	if _, err := otherRing.Open(s); err == nil {
		t.Error("another keyring opens the value")
	}
}

func TestResolveSecrets(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`{"mqtt":{"password":"${secret:pw}","port":1883}}`, `{"mqtt":{"password":"p\"w","port":1883}}`, ""},
		{`{"a":["${secret:pw}","x ${secret:pw}"]}`, `{"a":["p\"w","x ${secret:pw}"]}`, ""},
		{`{"a":"${secret:nope}"}`, "", "secret nope is not in the manifest"},
		{`{"a":"plain"}`, `{"a":"plain"}`, ""},
	} {
		got, err := uplink.ResolveSecrets([]byte(c.in), map[string]string{"pw": `p"w`})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %s %v, want %s", c.in, got, err, c.want)
		}
	}
	if got := uplink.SecretRefs([]byte(`{"a":"${secret:b}","c":{"d":"${secret:a}","e":"${secret:b}"}}`)); strings.Join(got, ",") != "a,b" {
		t.Errorf("refs %v", got)
	}
}

// BenchmarkSealFor measures sealing a 32-byte secret for an edge's key
// (done once per secret and edge key) and reports the bytes it adds.
func BenchmarkSealFor(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	value := []byte(strings.Repeat("x", 32))
	var sealed string
	for b.Loop() {
		sealed, _ = uplink.SealFor(pub, value)
	}
	b.ReportMetric(float64(len(sealed)-len(value)), "bytes-added")
	if _, err := uplink.OpenSealed(key, sealed); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenSealed measures the edge opening one sealed secret.
func BenchmarkOpenSealed(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	sealed, _ := uplink.SealFor(pub, []byte(strings.Repeat("x", 32)))
	for b.Loop() {
		if _, err := uplink.OpenSealed(key, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
