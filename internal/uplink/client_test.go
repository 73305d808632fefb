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

// TestClientFailsOver: a client given several addresses of a hub moves to
// the next when one does not answer or answers 503 (a replica cut off
// from its cluster's quorum), and stays with one that answers with
// another error.
func TestClientFailsOver(t *testing.T) {
	var hits [2]int
	codes := [2]int{http.StatusServiceUnavailable, http.StatusBadRequest}
	srvs := make([]*httptest.Server, 2)
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i]++
			w.WriteHeader(codes[i])
		}))
		defer srvs[i].Close()
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c := &Client{URL: down.URL + "/, " + srvs[0].URL + "," + srvs[1].URL}
	var errs []error
	for range 4 {
		_, err := c.Send(t.Context(), Batch{Stream: "s"})
		errs = append(errs, err)
	}
	if errors.Is(errs[0], ErrBusy) || !errors.Is(errs[1], ErrBusy) || !errors.Is(errs[2], ErrMalformed) || !errors.Is(errs[3], ErrMalformed) {
		t.Errorf("errors %v; want no answer, busy, then malformed twice", errs)
	}
	if hits != [2]int{1, 2} || c.Base() != srvs[1].URL {
		t.Errorf("requests per hub %v, now at %s; want 1 at the busy one, 2 at the next, staying there", hits, c.Base())
	}
}
