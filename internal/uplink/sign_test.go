package uplink

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var signedAt = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func TestSignatureRoundTrip(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	body := []byte("MLNB batch")
	r := httptest.NewRequest("POST", "/api/v1/uplink", bytes.NewReader(body))
	(&Signer{KeyID: "edge-1", Key: key}).Sign(r, body, signedAt)
	sig, err := ParseSignature(r)
	if err != nil {
		t.Fatal(err)
	}
	if sig.KeyID != "edge-1" || !sig.Created.Equal(signedAt) || sig.Nonce == "" {
		t.Errorf("parsed %+v", sig)
	}
	if !sig.Verify(pub) || sig.Verify(otherPub) {
		t.Errorf("Verify: own key %v, other key %v; want true, false", sig.Verify(pub), sig.Verify(otherPub))
	}
	if err := sig.CheckBody(body); err != nil {
		t.Errorf("CheckBody of the signed body: %v", err)
	}
	if err := sig.CheckBody([]byte("MLNB other")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("CheckBody of another body: %v", err)
	}
	// Each part the signature covers, changed, fails it.
	for name, change := range map[string]func(h map[string]string){
		"method": func(h map[string]string) { h["method"] = "PUT" },
		"path":   func(h map[string]string) { h["path"] = "/api/v1/edge/key" },
		"digest": func(h map[string]string) { h[HeaderContentDigest] = ContentDigest([]byte("x")) },
		"created": func(h map[string]string) {
			h[HeaderSignatureInput] = strings.Replace(h[HeaderSignatureInput], "created=", "created=1", 1)
		},
		"keyid": func(h map[string]string) {
			h[HeaderSignatureInput] = strings.Replace(h[HeaderSignatureInput], `"edge-1"`, `"edge-2"`, 1)
		},
	} {
		h := map[string]string{"method": "POST", "path": "/api/v1/uplink"}
		for _, k := range []string{HeaderContentDigest, HeaderSignatureInput, HeaderSignature} {
			h[k] = r.Header.Get(k)
		}
		change(h)
		r2 := httptest.NewRequest(h["method"], h["path"], nil)
		for _, k := range []string{HeaderContentDigest, HeaderSignatureInput, HeaderSignature} {
			r2.Header.Set(k, h[k])
		}
		sig, err := ParseSignature(r2)
		if err == nil && sig.Verify(pub) {
			t.Errorf("changed %s: signature still verifies", name)
		}
	}
}

func TestParseSignatureRefusesOtherForms(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	good := httptest.NewRequest("POST", "/api/v1/uplink", nil)
	(&Signer{KeyID: "edge-1", Key: key}).Sign(good, nil, signedAt)
	if _, err := ParseSignature(httptest.NewRequest("POST", "/", nil)); !errors.Is(err, ErrNotSigned) {
		t.Errorf("unsigned request: %v, want ErrNotSigned", err)
	}
	for name, hdr := range map[string][2]string{
		"fewer components": {HeaderSignatureInput, `molen=("@method" "@path");created=1;keyid="e";nonce="n";alg="ed25519"`},
		"other label":      {HeaderSignatureInput, strings.Replace(good.Header.Get(HeaderSignatureInput), "molen=", "sig1=", 1)},
		"other algorithm":  {HeaderSignatureInput, strings.Replace(good.Header.Get(HeaderSignatureInput), `"ed25519"`, `"rsa-pss-sha512"`, 1)},
		"unknown param":    {HeaderSignatureInput, good.Header.Get(HeaderSignatureInput) + `;expires=9`},
		"no nonce":         {HeaderSignatureInput, `molen=("@method" "@path" "content-digest");created=1;keyid="e";alg="ed25519"`},
		"short signature":  {HeaderSignature, "molen=:AAAA:"},
		"other digest":     {HeaderContentDigest, "sha-512=:AAAA:"},
	} {
		r := good.Clone(t.Context())
		r.Header.Set(hdr[0], hdr[1])
		if _, err := ParseSignature(r); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

// BenchmarkSignVerify is the cost a signature adds to one uplink: the
// edge signs, the hub parses, verifies and checks the digest of the body
// (compressed batches: 1 KiB for a few points, 64 KiB typical under load,
// 1 MiB the edge's largest).
func BenchmarkSignVerify(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(nil)
	s := &Signer{KeyID: "edge-abcdefabcdef", Key: key}
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		body := bytes.Repeat([]byte("x"), size)
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest("POST", "/api/v1/uplink", nil)
				s.Sign(r, body, signedAt)
				sig, err := ParseSignature(r)
				if err != nil || !sig.Verify(pub) || sig.CheckBody(body) != nil {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// FuzzParseSignature feeds arbitrary signature headers to the parser: it
// must not panic, and what it accepts must not verify under a key that
// did not sign it.
func FuzzParseSignature(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	r := httptest.NewRequest("POST", "/api/v1/uplink", nil)
	(&Signer{KeyID: "edge-1", Key: key}).Sign(r, []byte("body"), signedAt)
	f.Add(r.Header.Get(HeaderSignatureInput), r.Header.Get(HeaderSignature), r.Header.Get(HeaderContentDigest))
	f.Add(`molen=("@method" "@path" "content-digest");created=;keyid=";nonce="";alg=`, "molen=::", "sha-256=::")
	f.Fuzz(func(t *testing.T, input, sig, digest string) {
		r := httptest.NewRequest("POST", "/api/v1/uplink", nil)
		r.Header.Set(HeaderSignatureInput, input)
		r.Header.Set(HeaderSignature, sig)
		r.Header.Set(HeaderContentDigest, digest)
		s, err := ParseSignature(r)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrNotSigned) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if s.Verify(other) {
			t.Fatal("a signature verifies under a key that did not make it")
		}
	})
}
