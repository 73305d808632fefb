package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// created is a value to answer with 201 Created.
type created struct{ v any }

// Created makes a Handle's value be answered with 201 Created.
func Created(v any) any { return created{v} }

// WriteJSON answers v as JSON: with 200, or 201 if v came from Created.
func WriteJSON(w http.ResponseWriter, v any) {
	code := http.StatusOK
	if c, ok := v.(created); ok {
		code, v = http.StatusCreated, c.v
	}
	writeJSON(w, code, v)
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

// ReadJSON decodes the request body into v, refusing unknown fields. Its
// error wraps ErrBadRequest and says usage (what the body must be) and
// what was wrong; a body over the route's limit is a 413. (encoding/json
// refuses nesting deeper than 10,000 levels; the body limit comes first.)
func ReadJSON(r *http.Request, v any, usage string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("read body: %w", err) // 413
		}
		return BadRequest("%s: %v", usage, err)
	}
	return nil
}
