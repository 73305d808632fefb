package sign

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
)

// The PAE example of the DSSE specification (protocol.md).
func TestPAE(t *testing.T) {
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestSignVerify(t *testing.T) {
	pub, key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, _ := GenerateKey()
	sha := "3f1c0a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170605f4e3"
	env, err := SignStatement(key, "molen", sha, "https://molen.io/release/v1", map[string]string{"version": "1.5.0"})
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as it travels.
	b, _ := json.Marshal(env)
	env, err = Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	st, signer, err := VerifyStatement(env, []ed25519.PublicKey{other, pub}, sha, "https://molen.io/release/v1")
	if err != nil || signer != KeyID(pub) || st.Subject[0].Name != "molen" {
		t.Fatalf("VerifyStatement = %+v, %q, %v; want the statement by %s", st, signer, err, KeyID(pub))
	}

	tampered := env
	tampered.Payload = append([]byte(nil), env.Payload...)
	tampered.Payload[len(tampered.Payload)-3] ^= 1
	retyped := env
	retyped.PayloadType = "text/plain"
	wrongKeyID := env
	wrongKeyID.Signatures = []Signature{{KeyID: "sha256:00", Sig: env.Signatures[0].Sig}}
	byOther, _ := SignStatement(otherKey, "molen", sha, "https://molen.io/release/v1", map[string]string{})
	forgedKeyID := byOther
	forgedKeyID.Signatures = []Signature{{KeyID: KeyID(pub), Sig: byOther.Signatures[0].Sig}}

	for _, tt := range []struct {
		name    string
		env     Envelope
		trusted []ed25519.PublicKey
		sha     string
		want    error
	}{
		{"payload changed", tampered, []ed25519.PublicKey{pub}, sha, ErrSignature},
		{"payload type changed", retyped, []ed25519.PublicKey{pub}, sha, ErrSignature},
		{"another key", env, []ed25519.PublicKey{other}, sha, ErrSignature},
		{"no trusted key", env, nil, sha, ErrSignature},
		{"another key claiming the trusted key's ID", forgedKeyID, []ed25519.PublicKey{pub}, sha, ErrSignature},
		{"another file", env, []ed25519.PublicKey{pub}, "00" + sha[2:], ErrSignature},
		{"a wrong keyid is only a hint", wrongKeyID, []ed25519.PublicKey{pub}, sha, nil},
	} {
		_, _, err := VerifyStatement(tt.env, tt.trusted, tt.sha, "https://molen.io/release/v1")
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := VerifyStatement(env, []ed25519.PublicKey{pub}, sha, "https://example.com/other"); !errors.Is(err, ErrEnvelope) {
		t.Errorf("another predicate type: err = %v, want ErrEnvelope", err)
	}
}

func TestKeysPEM(t *testing.T) {
	pub, key, _ := GenerateKey()
	kb, err := EncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := EncodePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(kb)
	if err != nil || !k2.Equal(key) {
		t.Fatalf("private key round trip: %v", err)
	}
	p2, err := ParsePublicKeys(append(pb, pb...))
	if err != nil || len(p2) != 2 || !p2[0].Equal(pub) {
		t.Fatalf("public keys round trip: %v, %d keys", err, len(p2))
	}
	if _, err := ParsePublicKeys(kb); err == nil {
		t.Error("a private key read as public keys")
	}
	if _, err := ParsePrivateKey(pb); err == nil {
		t.Error("a public key read as a private key")
	}
}

func FuzzParseVerify(f *testing.F) {
	pub, key, _ := GenerateKey()
	env, _ := SignStatement(key, "molen", "ab", "p", map[string]string{})
	b, _ := json.Marshal(env)
	f.Add(b)
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Parse(b)
		if err != nil {
			return
		}
		_, _, _ = VerifyStatement(env, []ed25519.PublicKey{pub}, "ab", "p")
	})
}

// BenchmarkVerifyStatement is the check an edge makes of a release's
// envelope once it has the binary's sha256: independent of the binary's
// size.
func BenchmarkVerifyStatement(b *testing.B) {
	pub, key, _ := GenerateKey()
	sha := "3f1c0a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170605f4e3"
	env, _ := SignStatement(key, "molen", sha, "https://molen.io/release/v1", map[string]string{"version": "1.5.0", "os": "linux", "arch": "arm64"})
	trusted := []ed25519.PublicKey{pub}
	for b.Loop() {
		if _, _, err := VerifyStatement(env, trusted, sha, "https://molen.io/release/v1"); err != nil {
			b.Fatal(err)
		}
	}
}
