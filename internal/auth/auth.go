package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/molen-io/molen/internal/store"
)

// Sentinel errors; the API maps them to 401 and 403.
var (
	ErrUnauthenticated = errors.New("missing or unknown bearer token")
	ErrRevoked         = errors.New("edge credential revoked")
	ErrForbidden       = errors.New("not allowed for this token")
)

// Prefixes make a leaked secret recognisable (and scannable) by its kind.
const (
	PrefixToken      = "mlt_" // API token
	PrefixEnroll     = "mle_" // one-time edge enrollment token
	PrefixCredential = "mlc_" // edge credential
)

// NewSecret returns prefix followed by 256 random bits, base64url-encoded.
func NewSecret(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// WellFormed reports whether secret looks like one NewSecret(prefix) makes:
// the prefix and 256 bits in base64url.
func WellFormed(secret, prefix string) bool {
	rest, ok := strings.CutPrefix(secret, prefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Hash returns the hex SHA-256 of a secret: what the store keeps. Secrets
// carry 256 random bits, so a fast hash is enough (nothing to brute-force).
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Principal is an authenticated API caller.
type Principal struct {
	Org  string
	Role store.Role
	Name string
}

// Can reports whether p may act with role want (admin implies viewer).
func (p Principal) Can(want store.Role) bool {
	return p.Role == store.Admin || p.Role == want
}

// Bearer returns the token of an "Authorization: Bearer …" header.
func Bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Authenticator looks secrets up in the hub's metadata.
type Authenticator struct {
	Meta store.Meta
}

// Token authenticates an API token.
func (a *Authenticator) Token(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, PrefixToken) {
		return Principal{}, ErrUnauthenticated
	}
	t, err := a.Meta.TokenByHash(ctx, Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	return Principal{Org: t.Org, Role: t.Role, Name: t.Name}, nil
}

// Edge authenticates an edge credential. A revoked edge gets ErrRevoked,
// so its log can say why it is refused.
func (a *Authenticator) Edge(ctx context.Context, secret string) (store.Edge, error) {
	if !strings.HasPrefix(secret, PrefixCredential) {
		return store.Edge{}, ErrUnauthenticated
	}
	h := Hash(secret)
	e, err := a.Meta.EdgeByCredential(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Edge{}, ErrUnauthenticated
	}
	if err != nil {
		return store.Edge{}, fmt.Errorf("look up edge credential: %w", err)
	}
	// The lookup was by hash already; compare again in constant time so a
	// backend that matched loosely (collation, prefix) cannot let one in.
	if subtle.ConstantTimeCompare([]byte(e.CredHash), []byte(h)) != 1 {
		return store.Edge{}, ErrUnauthenticated
	}
	if e.Revoked {
		return store.Edge{}, ErrRevoked
	}
	return e, nil
}
