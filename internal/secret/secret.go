// Package secret makes and recognises molen's bearer secrets: API tokens,
// enrollment tokens and edge credentials. A secret is a kind prefix and
// 256 random bits; only its SHA-256 is ever stored. The edge uses it to
// make its credential, so it imports nothing of the hub.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefixes make a leaked secret recognisable (and scannable) by its kind.
const (
	PrefixToken      = "mlt_" // API token
	PrefixEnroll     = "mle_" // one-time edge enrollment token
	PrefixCredential = "mlc_" // edge credential
	PrefixSession    = "mls_" // browser session (cookie)
	PrefixInvite     = "mli_" // one-time invitation link
	PrefixReset      = "mlr_" // one-time password reset link
	PrefixLogin      = "mll_" // one-time sign-in link
	PrefixAck        = "mla_" // one-time acknowledgement link of a notification
	PrefixWebhook    = "mlw_" // signing key of a notification webhook
)

// New returns prefix followed by 256 random bits, base64url-encoded.
func New(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// WellFormed reports whether s looks like one New(prefix) makes: the
// prefix and 256 bits in base64url.
func WellFormed(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Hash returns the hex SHA-256 of a secret: what the hub keeps. Secrets
// carry 256 random bits, so a fast hash is enough (nothing to brute-force).
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Equal compares two hashes (or secrets) in constant time: a database that
// matched a lookup loosely (a collation) cannot let a near miss in.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
