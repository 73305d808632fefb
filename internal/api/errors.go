package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uplink"
)

// errBadRequest marks errors in what the client sent.
var errBadRequest = errors.New("bad request")

// errBusy means the hub is at its limit of concurrent uplinks; the edge
// retries shortly.
var errBusy = errors.New("hub busy: too many uplinks at once, retry shortly")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// status maps an error to an HTTP status code and the message the client sees.
func status(err error) (int, string) {
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return http.StatusUnauthorized, "edge credential revoked: enroll the edge again with a new token"
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, "missing, unknown or expired bearer token"
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, uplink.ErrInvalidRecord):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, errBadRequest), errors.Is(err, uplink.ErrMalformed), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, uplink.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, "already exists"
	}
	return http.StatusInternalServerError, "internal error"
}

func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch code {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="molen"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeJSON answers v as JSON with code. It encodes before it writes, so
// that a value JSON cannot hold (a non-finite float) gives a whole 500
// answer rather than a 200 with a cut-off body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error: the answer cannot be encoded as JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
