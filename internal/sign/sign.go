package sign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
)

// InTotoPayload is the payload type of an in-toto Statement.
const InTotoPayload = "application/vnd.in-toto+json"

// StatementType is the _type of an in-toto Statement v1.
const StatementType = "https://in-toto.io/Statement/v1"

// Sentinels of Verify's refusals.
var (
	// ErrSignature: no signature of the envelope verifies with a trusted
	// key (a wrong key, a changed payload or payload type, garbage).
	ErrSignature = errors.New("signature does not verify")
	// ErrEnvelope: the envelope is not a DSSE envelope.
	ErrEnvelope = errors.New("not a DSSE envelope")
)

// Envelope is a DSSE envelope; its JSON is the standard one (payload and
// signatures in standard base64).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope, by the key KeyID names.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// PAE is DSSE's pre-authentication encoding of a payload and its type:
// what is signed.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// KeyID names a public key: "sha256:" and the hex SHA-256 of its PKIX
// encoding.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Sign returns an envelope of payload signed with key.
func Sign(key ed25519.PrivateKey, payloadType string, payload []byte) Envelope {
	return Envelope{PayloadType: payloadType, Payload: payload, Signatures: []Signature{{
		KeyID: KeyID(key.Public().(ed25519.PublicKey)),
		Sig:   ed25519.Sign(key, PAE(payloadType, payload)),
	}}}
}

// Verify checks that a signature of env verifies with one of trusted and
// returns that key's ID. A signature's keyid is a hint only: every
// trusted key is tried against every signature, so a signature with a
// wrong or missing keyid still verifies, and a right keyid on a wrong
// signature does not.
func Verify(env Envelope, trusted []ed25519.PublicKey) (string, error) {
	if env.PayloadType == "" || len(env.Signatures) == 0 {
		return "", fmt.Errorf("%w: it needs a payloadType and a signature", ErrEnvelope)
	}
	msg := PAE(env.PayloadType, env.Payload)
	for _, s := range env.Signatures {
		for _, k := range trusted {
			if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, s.Sig) {
				return KeyID(k), nil
			}
		}
	}
	if len(trusted) == 0 {
		return "", fmt.Errorf("%w: no key is trusted", ErrSignature)
	}
	return "", fmt.Errorf("%w with any of the %d trusted keys", ErrSignature, len(trusted))
}

// Parse decodes an envelope from its JSON.
func Parse(b []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	if env.PayloadType == "" || len(env.Signatures) == 0 {
		return env, fmt.Errorf("%w: it needs a payloadType and a signature", ErrEnvelope)
	}
	return env, nil
}

// Statement is an in-toto Statement v1: the artifacts it is about
// (Subject) and what it says of them (Predicate).
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is an artifact of a Statement, by name and digests
// ({"sha256": "<hex>"}).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SignStatement signs an in-toto Statement about one artifact (name, its
// sha256 in hex) with predicate, of predicateType.
func SignStatement(key ed25519.PrivateKey, name, sha256Hex, predicateType string, predicate any) (Envelope, error) {
	p, err := json.Marshal(predicate)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode predicate: %w", err)
	}
	payload, err := json.Marshal(Statement{Type: StatementType, Subject: []Subject{{Name: name, Digest: map[string]string{"sha256": sha256Hex}}},
		PredicateType: predicateType, Predicate: p})
	if err != nil {
		return Envelope{}, fmt.Errorf("encode statement: %w", err)
	}
	return Sign(key, InTotoPayload, payload), nil
}

// VerifyStatement verifies env with trusted (Verify), and checks that it
// is an in-toto Statement of predicateType about the artifact whose
// sha256 is sha256Hex. It returns the statement and the signer's key ID.
func VerifyStatement(env Envelope, trusted []ed25519.PublicKey, sha256Hex, predicateType string) (Statement, string, error) {
	signer, err := Verify(env, trusted)
	if err != nil {
		return Statement{}, "", err
	}
	var st Statement
	if env.PayloadType != InTotoPayload {
		return st, signer, fmt.Errorf("%w: payload type %q, want %q", ErrEnvelope, env.PayloadType, InTotoPayload)
	}
	if err := json.Unmarshal(env.Payload, &st); err != nil || st.Type != StatementType {
		return st, signer, fmt.Errorf("%w: the payload is not an in-toto Statement v1", ErrEnvelope)
	}
	if st.PredicateType != predicateType {
		return st, signer, fmt.Errorf("%w: predicate type %q, want %q", ErrEnvelope, st.PredicateType, predicateType)
	}
	for _, s := range st.Subject {
		if s.Digest["sha256"] == sha256Hex {
			return st, signer, nil
		}
	}
	return st, signer, fmt.Errorf("%w: the statement is not about this file (sha256 %s)", ErrSignature, sha256Hex)
}

// GenerateKey makes a new key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// EncodePrivateKey is key as PEM (PKCS #8).
func EncodePrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKey is key as PEM (PKIX).
func EncodePublicKey(key ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads an Ed25519 private key from PEM (PKCS #8).
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM private key (PKCS #8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T, want Ed25519", k)
	}
	return ek, nil
}

// ParsePublicKeys reads every Ed25519 public key of a PEM file (PKIX).
func ParsePublicKeys(b []byte) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T, want Ed25519", k)
		}
		out = append(out, ek)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key (PKIX) in it")
	}
	return out, nil
}
