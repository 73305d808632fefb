package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uplink"
)

// Sentinel errors of requests. Domains wrap them, or the sentinels of
// the storage layers and the uplink protocol (meta.ErrNotFound,
// store.ErrInvalid, uplink.ErrMalformed, …); Status maps them all.
var (
	// ErrBadRequest marks errors in what the client sent; see BadRequest.
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthenticated: no credential, or one nobody knows.
	ErrUnauthenticated = errors.New("missing or unknown bearer token")
	// ErrRevoked: an edge credential that was revoked.
	ErrRevoked = errors.New("edge credential revoked")
	// ErrForbidden: a known caller whose role does not allow the call.
	ErrForbidden = errors.New("not allowed for this token")
	// ErrUnavailable: the hub cannot serve now (its storage does not
	// answer).
	ErrUnavailable = errors.New("unavailable")
	// ErrNoRoute: no route has this path.
	ErrNoRoute = errors.New("no such API endpoint")
	// ErrCSRF: a request with a session cookie that changes something
	// came from another origin or without the session's CSRF token.
	ErrCSRF = errors.New("cross-site request refused")
	// ErrRateLimited: a rate limit refused the request (see LimitError).
	ErrRateLimited = errors.New("too many requests")
	// ErrConflict marks a request that clashes with what is stored (a
	// duplicate); its message, shown to the client, says with what.
	ErrConflict = errors.New("conflict")
)

// BadRequest returns an error wrapping ErrBadRequest whose message, shown
// to the client, names what was wrong.
func BadRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Status maps an error to an HTTP status code and the message the client
// sees. It is the only place in molen that does.
func Status(err error) (int, string) {
	switch {
	case errors.Is(err, ErrRevoked):
		return http.StatusUnauthorized, "edge credential revoked: enroll the edge again with a new token"
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, "missing, unknown or expired bearer token"
	case errors.Is(err, uplink.ErrBadSignature):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrCSRF):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, uplink.ErrInvalidRecord):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, uplink.ErrBusy), errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, ErrBadRequest), errors.Is(err, uplink.ErrMalformed), errors.Is(err, store.ErrInvalid), errors.Is(err, meta.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, uplink.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.As(err, new(*http.MaxBytesError)):
		return http.StatusRequestEntityTooLarge, "request body too large"
	case errors.Is(err, ErrNoRoute):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, meta.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, meta.ErrExists), errors.Is(err, store.ErrExists):
		return http.StatusConflict, "already exists"
	case errors.Is(err, store.ErrBusy):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

// writeError answers err: by format when it is set (a route's Errors),
// otherwise as {"error": message}.
func (rt *Router) writeError(w http.ResponseWriter, r *http.Request, err error, format func(http.ResponseWriter, int, string)) {
	code, msg := Status(err)
	if code == http.StatusInternalServerError || code == http.StatusServiceUnavailable && !errors.Is(err, uplink.ErrBusy) {
		rt.log().Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch code {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="molen"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case http.StatusTooManyRequests:
		wait := time.Second
		if le, ok := errors.AsType[*LimitError](err); ok {
			wait = le.Wait
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	if format != nil {
		format(w, code, msg)
		return
	}
	writeJSON(w, code, map[string]string{"error": msg})
}
