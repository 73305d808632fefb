package uplink

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signed requests (docs/adr/0008-edge-identity.md): an edge proves who it
// is by signing each request with its Ed25519 key, in a fixed subset of
// HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530):
//
//	Content-Digest: sha-256=:<base64 SHA-256 of the body>:
//	Signature-Input: molen=("@method" "@path" "content-digest");created=<unix s>;keyid="<edge id>";nonce="<random>";alg="ed25519"
//	Signature: molen=:<base64 Ed25519 signature of the signature base>:
//
// The signature base is RFC 9421's: one line per covered component and the
// @signature-params line, joined by newlines. Nothing else is accepted: a
// verifier need not negotiate components or algorithms, and a signature
// that covers less than this cannot pass.

// Header names of a signed request.
const (
	HeaderSignature      = "Signature"
	HeaderSignatureInput = "Signature-Input"
	HeaderContentDigest  = "Content-Digest"
)

const (
	sigLabel      = "molen"
	sigComponents = `("@method" "@path" "content-digest")`
	sigAlg        = "ed25519"
)

// ErrNotSigned means a request carries no signature.
var ErrNotSigned = errors.New("request not signed")

// ErrBadSignature is wrapped by every reason a signed request is refused
// for: malformed signature headers, a wrong key, a body that does not
// match its digest, a time outside the allowed skew, a nonce seen before.
var ErrBadSignature = errors.New("request signature refused")

func badSignature(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSignature, fmt.Sprintf(format, args...))
}

// Signer signs requests with an edge's key. KeyID is the edge's ID at
// the hub.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
}

// Sign adds the signature headers to req for body (its whole content),
// made at now with a fresh random nonce.
func (s *Signer) Sign(req *http.Request, body []byte, now time.Time) {
	var n [12]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	digest := ContentDigest(body)
	params := fmt.Sprintf(`%s;created=%d;keyid=%q;nonce=%q;alg=%q`, sigComponents, now.Unix(), s.KeyID,
		base64.RawURLEncoding.EncodeToString(n[:]), sigAlg)
	sig := ed25519.Sign(s.Key, signatureBase(req.Method, req.URL.EscapedPath(), digest, params))
	req.Header.Set(HeaderContentDigest, digest)
	req.Header.Set(HeaderSignatureInput, sigLabel+"="+params)
	req.Header.Set(HeaderSignature, sigLabel+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
}

// ContentDigest is the Content-Digest header value of body.
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

func signatureBase(method, path, digest, params string) []byte {
	var b strings.Builder
	b.Grow(len(method) + len(path) + len(digest) + len(params) + 80)
	b.WriteString(`"@method": `)
	b.WriteString(method)
	b.WriteString("\n\"@path\": ")
	b.WriteString(path)
	b.WriteString("\n\"content-digest\": ")
	b.WriteString(digest)
	b.WriteString("\n\"@signature-params\": ")
	b.WriteString(params)
	return []byte(b.String())
}

// Signature is a parsed request signature, not yet verified.
type Signature struct {
	KeyID   string
	Created time.Time
	Nonce   string
	Digest  string // the Content-Digest header, which the signature covers
	base    []byte
	sig     []byte
}

// ParseSignature reads the signature headers of r: ErrNotSigned if it has
// none, an error wrapping ErrBadSignature if they are malformed.
func ParseSignature(r *http.Request) (Signature, error) {
	input := r.Header.Get(HeaderSignatureInput)
	sigHdr := r.Header.Get(HeaderSignature)
	if input == "" && sigHdr == "" {
		return Signature{}, ErrNotSigned
	}
	params, ok := strings.CutPrefix(input, sigLabel+"=")
	if !ok || !strings.HasPrefix(params, sigComponents+";") {
		return Signature{}, badSignature(`Signature-Input must be molen=%s;created=…;keyid="…";nonce="…";alg="ed25519"`, sigComponents)
	}
	var s Signature
	var alg string
	for _, p := range strings.Split(params[len(sigComponents)+1:], ";") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "created":
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Signature{}, badSignature("created %q: not a unix time", v)
			}
			s.Created = time.Unix(sec, 0)
		case "keyid":
			s.KeyID = unquote(v)
		case "nonce":
			s.Nonce = unquote(v)
		case "alg":
			alg = unquote(v)
		default:
			return Signature{}, badSignature("unknown signature parameter %q", k)
		}
	}
	if alg != sigAlg || s.KeyID == "" || s.Nonce == "" || len(s.Nonce) > 64 || s.Created.IsZero() {
		return Signature{}, badSignature(`Signature-Input needs created, keyid, nonce (at most 64 characters) and alg="ed25519"`)
	}
	b64, prefixed := strings.CutPrefix(sigHdr, sigLabel+"=:")
	b64, suffixed := strings.CutSuffix(b64, ":")
	if !prefixed || !suffixed {
		return Signature{}, badSignature("Signature must be molen=:<base64>:")
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Signature{}, badSignature("Signature: not a base64 Ed25519 signature")
	}
	s.sig = sig
	s.Digest = r.Header.Get(HeaderContentDigest)
	if !strings.HasPrefix(s.Digest, "sha-256=:") {
		return Signature{}, badSignature("Content-Digest must be sha-256=:<base64>:")
	}
	s.base = signatureBase(r.Method, r.URL.EscapedPath(), s.Digest, params)
	return s, nil
}

// unquote removes the quotes of a structured-field string; a value
// without them stays as it is (and then fails the signature).
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// Verify reports whether pub made the signature.
func (s Signature) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, s.base, s.sig)
}

// CheckBody checks that body is the content the signature's digest
// covers.
func (s Signature) CheckBody(body []byte) error {
	if ContentDigest(body) != s.Digest {
		return badSignature("body does not match its Content-Digest")
	}
	return nil
}

// Key proofs: where a public key is proposed (at enrollment, in a key
// change), the request carries a signature of the matching private key
// over a statement naming what it is for, so that nobody registers a key
// they do not hold.

// EnrollProof is the statement signed at enrollment with token.
func EnrollProof(token string) []byte { return []byte("molen enroll\n" + token) }

// KeyProof is the statement an edge's new key signs when the edge
// registers it.
func KeyProof(edgeID string, pub ed25519.PublicKey) []byte {
	return []byte("molen edge key\n" + edgeID + "\n" + EncodeKey(pub))
}

// EncodeKey is the text form of a public key or signature on the wire:
// base64url without padding.
func EncodeKey(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodePublicKey parses EncodeKey's form of an Ed25519 public key.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: want %d bytes in base64url", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// CheckProof reports whether proof (EncodeKey's form) is pub's signature
// of statement.
func CheckProof(pub ed25519.PublicKey, statement []byte, proof string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(proof)
	return err == nil && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, statement, sig)
}

// Fingerprint names a public key (EncodeKey's form) in logs, the audit
// log, status and answers: "sha256/" and the first 16 base64url
// characters of the SHA-256 of the key's bytes.
func Fingerprint(key string) string {
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		b = []byte(key)
	}
	sum := sha256.Sum256(b)
	return "sha256/" + base64.RawURLEncoding.EncodeToString(sum[:])[:16]
}

// CertPin is the pin of a TLS certificate's public key, as an edge's
// --hub-pin gives it: "sha256/" and the base64 SHA-256 of the
// certificate's SubjectPublicKeyInfo (HPKP's and curl's form). It stays
// the same across a renewed certificate that keeps its key.
func CertPin(spki []byte) string {
	sum := sha256.Sum256(spki)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}
