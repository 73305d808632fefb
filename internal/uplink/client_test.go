package uplink

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientErrors turns the hub's refusals into the protocol's sentinels.
func TestClientErrors(t *testing.T) {
	tests := []struct {
		code int
		want error
	}{
		{http.StatusUnauthorized, ErrUnauthorized},
		{http.StatusBadRequest, ErrMalformed},
		{http.StatusRequestEntityTooLarge, ErrTooLarge},
		{http.StatusUnprocessableEntity, ErrInvalidRecord},
		{http.StatusServiceUnavailable, ErrBusy},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.code)
			w.Write([]byte(`{"error": "no"}`))
		}))
		c := &Client{URL: srv.URL, Credential: "mlc_x"}
		_, err := c.Send(t.Context(), Batch{Stream: "s"})
		if !errors.Is(err, tt.want) {
			t.Errorf("answer %d: %v, want %v", tt.code, err, tt.want)
		}
		if se, ok := errors.AsType[*StatusError](err); tt.code != 401 && (!ok || se.Code != tt.code) {
			t.Errorf("answer %d: %v, want a StatusError with the code", tt.code, err)
		}
		srv.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	_, err := (&Client{URL: srv.URL}).Send(t.Context(), Batch{Stream: "s"})
	for _, s := range []error{ErrUnauthorized, ErrMalformed, ErrTooLarge, ErrInvalidRecord, ErrBusy} {
		if errors.Is(err, s) {
			t.Errorf("answer 418: %v is %v", err, s)
		}
	}
}
