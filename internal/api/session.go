package api

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"
)

// Session cookies. Under TLS the cookie is named with the __Host- prefix,
// which browsers accept only when Secure, for path /, without Domain: no
// other host (a sibling subdomain) can set or shadow it.
const (
	SessionCookie       = "molen_session"
	SecureSessionCookie = "__Host-molen_session"
	// CSRFHeader carries the session's CSRF token on requests that change
	// something (every method but GET, HEAD and OPTIONS).
	CSRFHeader = "X-CSRF-Token"
)

// SetSessionCookie sets the session cookie on w: HttpOnly (script cannot
// read it), SameSite=Lax (not sent on cross-site subrequests or form
// posts), Secure and __Host- when r came over HTTPS (see Secure). maxAge 0 ends with the
// browser; negative deletes it.
func SetSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if Secure(r) {
		c.Name, c.Secure = SecureSessionCookie, true
	}
	switch {
	case maxAge < 0:
		c.MaxAge, c.Value = -1, ""
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// SessionSecret returns the session cookie's value of r, if any.
func SessionSecret(r *http.Request) (string, bool) {
	for _, name := range []string{SecureSessionCookie, SessionCookie} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value, true
		}
	}
	return "", false
}

// safeMethod reports whether a request of method changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossOrigin refuses browser requests from another origin (by
// Sec-Fetch-Site and Origin) that would change something.
var crossOrigin = http.NewCrossOriginProtection()

// checkCSRF checks a cookie-authenticated request that changes something:
// it must come from the hub's own origin and carry the session's CSRF
// token (which only the hub's own pages can read, from the session
// answer), compared in constant time.
func checkCSRF(r *http.Request, want string) error {
	if safeMethod(r.Method) {
		return nil
	}
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCSRF, err)
	}
	got := r.Header.Get(CSRFHeader)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: missing or wrong %s header", ErrCSRF, CSRFHeader)
	}
	return nil
}

// ReadOnly reports whether a request of method changes nothing (GET, HEAD,
// OPTIONS): what the CSRF check and the audit of changes go by.
func ReadOnly(method string) bool { return safeMethod(method) }

// CheckCSRF is the router's CSRF check, for a public handler that acts
// for the person signed in with the request's session cookie.
func CheckCSRF(r *http.Request, want string) error { return checkCSRF(r, want) }

// SameOrigin refuses a browser request that changes something from
// another origin (by Sec-Fetch-Site and Origin): for the forms of public
// pages, which have no session to carry a CSRF token.
func SameOrigin(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCSRF, err)
	}
	return nil
}
