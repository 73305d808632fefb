package programme

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/meta"
)

// A completion is issued as a W3C Verifiable Credential 2.0 of Open Badges
// 3.0's type OpenBadgeCredential, secured with JOSE as VC-JOSE-COSE
// defines it: a compact JWS (typ vc+jwt, alg EdDSA, Ed25519) whose payload
// is the credential itself. The issuing hub signs; its public key is
// published as a JWKS, so that anyone verifies a credential offline with
// the credential and the key (ADR "academy credentials").

// Contexts are the credential's JSON-LD contexts.
var Contexts = []string{"https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"}

// JWK is an Ed25519 public key (RFC 8037).
type JWK struct {
	Kty string `json:"kty"` // OKP
	Crv string `json:"crv"` // Ed25519
	X   string `json:"x"`   // the key, base64url
	Kid string `json:"kid"` // RFC 7638 thumbprint
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a set of public keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

func jwkOf(pub ed25519.PublicKey) JWK {
	x := b64.EncodeToString(pub)
	// RFC 7638: the required members in lexicographic order, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return JWK{Kty: "OKP", Crv: "Ed25519", X: x, Kid: b64.EncodeToString(sum[:]), Use: "sig", Alg: "EdDSA"}
}

// signingKey returns hub's signing key, made on first use.
func (s *Service) signingKey(ctx context.Context, hub string) (ed25519.PrivateKey, JWK, error) {
	if hub == "" || !meta.Text(hub) {
		return nil, JWK{}, fmt.Errorf("signing key: no hub: %w", meta.ErrNotFound)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, JWK{}, err
	}
	j := jwkOf(pub)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO acad_keys (hub, kid, private, public, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		hub, j.Kid, base64.StdEncoding.EncodeToString(priv.Seed()), j.X, meta.Nanos(s.now())); err != nil {
		return nil, JWK{}, fmt.Errorf("signing key of %s: %w", hub, err)
	}
	var seed string
	if err := s.db.QueryRowContext(ctx, `SELECT private FROM acad_keys WHERE hub = $1`, hub).Scan(&seed); err != nil {
		return nil, JWK{}, fmt.Errorf("signing key of %s: %w", hub, err)
	}
	raw, err := base64.StdEncoding.DecodeString(seed)
	if err != nil || len(raw) != ed25519.SeedSize {
		return nil, JWK{}, fmt.Errorf("signing key of %s: stored seed is malformed", hub)
	}
	priv = ed25519.NewKeyFromSeed(raw)
	return priv, jwkOf(priv.Public().(ed25519.PublicKey)), nil
}

// Keys returns hub's public keys, to publish: empty until it issued a
// credential.
func (s *Service) Keys(ctx context.Context, hub string) (JWKS, error) {
	ks := JWKS{Keys: []JWK{}}
	err := s.scan(ctx, `SELECT public FROM acad_keys WHERE hub = $1 AND hub <> ''`, []any{hub}, func(sc func(...any) error) error {
		var x string
		if err := sc(&x); err != nil {
			return err
		}
		pub, err := b64.DecodeString(x)
		if err != nil {
			return err
		}
		ks.Keys = append(ks.Keys, jwkOf(pub))
		return nil
	})
	if err != nil {
		return JWKS{}, fmt.Errorf("keys of %s: %w", hub, err)
	}
	return ks, nil
}

// IssuerURL is where hub's issuer profile and keys are published.
func (s *Service) IssuerURL(hub string) string {
	base := "http://localhost"
	if s.publicURL != nil {
		base = strings.TrimSuffix(s.publicURL(), "/")
	}
	return base + "/api/v1/academy/issuers/" + hub
}

// Credential returns the signed credential of hub's completed enrolment
// id, issuing it on first request (a completion imported in bulk has none
// until then). It never changes once issued.
func (s *Service) Credential(ctx context.Context, hub, id string) (string, error) {
	var cred, learner, course string
	var completed int64
	err := error(meta.ErrNotFound)
	if meta.Text(hub) && meta.Text(id) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT credential, learner, course, completed FROM acad_enrolments WHERE hub = $1 AND id = $2`, hub, id).
			Scan(&cred, &learner, &course, &completed))
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("credential of %s: %w", id, err)
	case cred != "":
		return cred, nil
	case completed == 0:
		return "", fmt.Errorf("credential of %s: not completed: %w", id, meta.ErrNotFound)
	}
	c, err := s.Course(ctx, hub, course)
	if err != nil {
		return "", err
	}
	var email string
	if err := s.db.QueryRowContext(ctx, `SELECT email FROM acad_learners WHERE hub = $1 AND learner = $2`, hub, learner).Scan(&email); err != nil {
		return "", fmt.Errorf("credential of %s: learner: %w", id, err)
	}
	hubName, _, _, err := s.org(ctx, hub)
	if err != nil {
		return "", err
	}
	key, jwk, err := s.signingKey(ctx, hub)
	if err != nil {
		return "", err
	}
	vc := s.badge(hub, hubName, id, email, c, meta.Time(completed))
	cred, err = Sign(key, jwk.Kid, vc)
	if err != nil {
		return "", err
	}
	// The first to store wins: a credential, once issued, never changes.
	if _, err := s.db.ExecContext(ctx, `UPDATE acad_enrolments SET credential = $1 WHERE id = $2 AND credential = ''`, cred, id); err != nil {
		return "", fmt.Errorf("credential of %s: %w", id, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT credential FROM acad_enrolments WHERE id = $1`, id).Scan(&cred); err != nil {
		return "", fmt.Errorf("credential of %s: %w", id, err)
	}
	return cred, nil
}

// badge is the OpenBadgeCredential of a completion. The learner is named
// by a salted hash of their e-mail address (Open Badges' IdentityObject),
// so the credential proves the badge to whoever knows the address and
// tells nobody else who holds it.
func (s *Service) badge(hub, hubName, id, email string, c Course, completed time.Time) map[string]any {
	sum := sha256.Sum256([]byte("salt:" + id)) // the enrolment's ID is random
	salt := b64.EncodeToString(sum[:12])
	h := sha256.Sum256([]byte(email + salt))
	issuer := s.IssuerURL(hub)
	return map[string]any{
		"@context":  Contexts,
		"id":        "urn:molen:credential:" + id,
		"type":      []string{"VerifiableCredential", "OpenBadgeCredential"},
		"issuer":    map[string]any{"id": issuer, "type": []string{"Profile"}, "name": hubName},
		"validFrom": completed.UTC().Format(time.RFC3339),
		"name":      c.TitleEN,
		"credentialSubject": map[string]any{
			"type": []string{"AchievementSubject"},
			"identifier": []map[string]any{{"type": "IdentityObject", "identityHash": fmt.Sprintf("sha256$%x", h),
				"identityType": "emailAddress", "hashed": true, "salt": salt}},
			"achievement": map[string]any{
				"id": issuer + "/courses/" + c.ID, "type": []string{"Achievement"}, "achievementType": "Course",
				"name": c.TitleEN, "description": c.DescriptionEN,
				"criteria":     map[string]any{"narrative": fmt.Sprintf("Completed the %d-hour course %q (%s) at %s.", c.Hours, c.TitleEN, c.TitleNL, hubName)},
				"tag":          append([]string{c.Technology}, c.Dimensions...),
				"fieldOfStudy": c.Technology,
			},
		},
	}
}

// Sign secures a credential as a vc+jwt signed with key.
func Sign(key ed25519.PrivateKey, kid string, vc any) (string, error) {
	head, err := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": kid})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(vc)
	if err != nil {
		return "", err
	}
	in := b64.EncodeToString(head) + "." + b64.EncodeToString(body)
	return in + "." + b64.EncodeToString(ed25519.Sign(key, []byte(in))), nil
}

// Errors of Verify.
var (
	ErrMalformedCredential = errors.New("credential: not a vc+jwt")
	ErrUnknownKey          = errors.New("credential: signed by a key not in the key set")
	ErrBadSignature        = errors.New("credential: the signature does not match (changed, or signed by another key)")
)

// Verified is what a valid credential says.
type Verified struct {
	Kid        string         `json:"kid"`
	Issuer     string         `json:"issuer"`
	IssuerName string         `json:"issuer_name"`
	Name       string         `json:"name"`
	ValidFrom  string         `json:"valid_from"`
	Credential map[string]any `json:"credential"`
}

// Verify checks a vc+jwt against keys, offline: the header's algorithm and
// type, the key by its kid, the signature, and that the payload is an
// OpenBadgeCredential.
func Verify(token []byte, keys JWKS) (Verified, error) {
	parts := strings.Split(string(bytes.TrimSpace(token)), ".")
	if len(parts) != 3 {
		return Verified{}, fmt.Errorf("%w: want three dot-separated parts, got %d", ErrMalformedCredential, len(parts))
	}
	var head struct{ Alg, Typ, Kid string }
	raw, err := b64.DecodeString(parts[0])
	if err == nil {
		err = json.Unmarshal(raw, &head)
	}
	if err != nil || head.Alg != "EdDSA" || head.Typ != "vc+jwt" {
		return Verified{}, fmt.Errorf("%w: header must have alg EdDSA and typ vc+jwt", ErrMalformedCredential)
	}
	var pub ed25519.PublicKey
	for _, k := range keys.Keys {
		if k.Kty == "OKP" && k.Crv == "Ed25519" && jwkOfX(k.X) == head.Kid {
			pub, _ = b64.DecodeString(k.X)
		}
	}
	if pub == nil {
		return Verified{}, fmt.Errorf("%w (kid %.64s)", ErrUnknownKey, head.Kid)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return Verified{}, ErrBadSignature
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return Verified{}, fmt.Errorf("%w: payload: %v", ErrMalformedCredential, err)
	}
	v := Verified{Kid: head.Kid}
	if err := json.Unmarshal(body, &v.Credential); err != nil {
		return Verified{}, fmt.Errorf("%w: payload: %v", ErrMalformedCredential, err)
	}
	types, _ := v.Credential["type"].([]any)
	ob := false
	for _, t := range types {
		ob = ob || t == "OpenBadgeCredential"
	}
	if !ob {
		return Verified{}, fmt.Errorf("%w: not an OpenBadgeCredential", ErrMalformedCredential)
	}
	if iss, ok := v.Credential["issuer"].(map[string]any); ok {
		v.Issuer, _ = iss["id"].(string)
		v.IssuerName, _ = iss["name"].(string)
	}
	v.Name, _ = v.Credential["name"].(string)
	v.ValidFrom, _ = v.Credential["validFrom"].(string)
	return v, nil
}

// jwkOfX is the thumbprint of a base64url key, "" when it is malformed.
func jwkOfX(x string) string {
	pub, err := b64.DecodeString(x)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return ""
	}
	return jwkOf(pub).Kid
}
