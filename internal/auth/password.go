package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/molen-io/molen/internal/api"
)

// Argon2 are the argon2id parameters of password hashes. A stored hash
// names its own, so they can be raised: a sign-in with a hash of other
// parameters stores the password again with the current ones.
type Argon2 struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultArgon2 follows OWASP's password storage guidance for argon2id
// (19 MiB, 2 passes, 1 thread); its cost on the hub is in
// docs/adr/0007-identity.md.
var DefaultArgon2 = Argon2{Time: 2, Memory: 19 * 1024, Threads: 1}

// Password limits. A long passphrase is welcome; the upper bound keeps one
// hash cheap enough to refuse none.
const (
	MinPassword = 12
	MaxPassword = 256
)

// hasher hashes and checks passwords, at most slots at once, so that a
// burst of sign-ins queues for CPU and memory rather than exhausting
// them.
type hasher struct {
	params Argon2
	slots  chan struct{}
	dummy  string // a hash to check against for names nobody has
	// count, if set, is told of each hash computed (tests: every failed
	// sign-in costs one, known name or not).
	count func()
}

func newHasher(p Argon2, slots int) *hasher {
	h := &hasher{params: p, slots: make(chan struct{}, max(slots, 1))}
	h.dummy = h.encode(randomBytes(16), []byte("no password matches this"))
	return h
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (h *hasher) key(pw, salt []byte, p Argon2) []byte {
	if h.count != nil {
		h.count()
	}
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, 32)
}

func (h *hasher) encode(salt, pw []byte) string {
	p := h.params
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h.key(pw, salt, p)))
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// Hash returns the argon2id string of pw.
func (h *hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode(randomBytes(16), []byte(pw)), nil
}

var errBadHash = errors.New("not an argon2id hash")

// Check reports whether pw matches the argon2id string enc, and whether
// enc has other parameters than the current ones (so it should be stored
// again). enc "" (no password) is checked against a dummy hash, taking as
// long as a real one, and never matches.
func (h *hasher) Check(ctx context.Context, enc, pw string) (ok, stale bool, err error) {
	none := enc == ""
	if none {
		enc = h.dummy
	}
	p, salt, want, err := decodeHash(enc)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := h.key([]byte(pw), salt, p)
	h.release()
	ok = subtle.ConstantTimeCompare(got, want) == 1 && !none
	return ok, p != h.params, nil
}

func decodeHash(enc string) (p Argon2, salt, key []byte, err error) {
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 || p.Memory > 1<<22 {
		return p, nil, nil, errBadHash
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// checkNewPassword refuses a password too short, too long, not text, or
// the person's own email address.
func checkNewPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw) || strings.ContainsRune(pw, 0):
		return api.BadRequest("password: must be text")
	case n < MinPassword:
		return api.BadRequest("password: at least %d characters; a few unrelated words make a good one", MinPassword)
	case len(pw) > MaxPassword:
		return api.BadRequest("password: at most %d bytes", MaxPassword)
	case email != "" && strings.EqualFold(pw, email):
		return api.BadRequest("password: must not be your email address")
	}
	return nil
}
