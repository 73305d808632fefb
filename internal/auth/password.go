package auth

import (
	"strings"
	"unicode/utf8"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/password"
)

// Argon2 are the argon2id parameters of password hashes (password.Params).
type Argon2 = password.Params

// DefaultArgon2 follows OWASP's password storage guidance for argon2id
// (19 MiB, 2 passes, 1 thread); its cost on the hub is in
// docs/adr/0007-identity.md.
var DefaultArgon2 = password.Default

// Password limits. A long passphrase is welcome; the upper bound keeps one
// hash cheap enough to refuse none.
const (
	MinPassword = 12
	MaxPassword = 256
)

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
