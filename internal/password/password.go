// Package password hashes and checks passwords with argon2id: the hub's
// sign-ins (internal/auth) and the devices of an edge's MQTT listener
// alike. A stored hash names its parameters, so they can be raised.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id parameters of password hashes. A stored hash
// names its own, so they can be raised: a sign-in with a hash of other
// parameters stores the password again with the current ones.
type Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// Default follows OWASP's password storage guidance for argon2id
// (19 MiB, 2 passes, 1 thread); its cost is in docs/adr/0007-identity.md.
var Default = Params{Time: 2, Memory: 19 * 1024, Threads: 1}

// Hasher hashes and checks passwords, at most slots at once, so that a
// burst of checks (sign-ins, devices connecting) queues for CPU and
// memory rather than exhausting them.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // a hash to check against for names nobody has
	// Count, if set, is told of each hash computed (tests: every failed
	// sign-in costs one, known name or not).
	Count func()
}

// New returns a hasher with parameters p that computes at most slots
// hashes at once.
func New(p Params, slots int) *Hasher {
	h := &Hasher{params: p, slots: make(chan struct{}, max(slots, 1))}
	h.dummy = h.encode(randomBytes(16), []byte("no password matches this"))
	return h
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (h *Hasher) key(pw, salt []byte, p Params) []byte {
	if h.Count != nil {
		h.Count()
	}
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, 32)
}

func (h *Hasher) encode(salt, pw []byte) string {
	p := h.params
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h.key(pw, salt, p)))
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the argon2id string of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode(randomBytes(16), []byte(pw)), nil
}

// ErrBadHash means a stored hash is not an argon2id string.
var ErrBadHash = errors.New("not an argon2id hash")

// Check reports whether pw matches the argon2id string enc, and whether
// enc has other parameters than the current ones (so it should be stored
// again). enc "" (no password) is checked against a dummy hash, taking as
// long as a real one, and never matches.
func (h *Hasher) Check(ctx context.Context, enc, pw string) (ok, stale bool, err error) {
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

func decodeHash(enc string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, ErrBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 || p.Memory > 1<<22 {
		return p, nil, nil, ErrBadHash
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, ErrBadHash
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, ErrBadHash
	}
	return p, salt, key, nil
}

// WellFormed reports whether enc is an argon2id string Check can use.
func WellFormed(enc string) bool {
	_, _, _, err := decodeHash(enc)
	return err == nil
}
