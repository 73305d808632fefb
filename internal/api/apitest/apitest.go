// Package apitest serves a domain's routes in tests, with fixed secrets
// standing for authenticated callers, so that a domain's HTTP behaviour is
// tested without the other domains.
package apitest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/molen-io/molen/internal/api"
)

// Secrets authenticates fixed secrets (any string) as their principals.
type Secrets map[string]api.Principal

// Authenticate implements api.Authenticator.
func (s Secrets) Authenticate(_ context.Context, secret string) (api.Principal, error) {
	if p, ok := s[secret]; ok {
		return p, nil
	}
	return api.Principal{}, api.ErrUnauthenticated
}

// Server is a test HTTP server of some routes.
type Server struct {
	*httptest.Server
	t *testing.T
}

// Serve starts a server of routes, closed when t ends: tokens
// authenticate Viewer and Admin routes, edges Edge routes.
func Serve(t *testing.T, tokens, edges api.Authenticator, routes ...[]api.Route) *Server {
	t.Helper()
	rt := &api.Router{Tokens: tokens, Edges: edges, Log: slog.New(slog.DiscardHandler)}
	for _, r := range routes {
		rt.Handle(r...)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return &Server{Server: srv, t: t}
}

// Do sends a request with a bearer secret ("" for none) and returns the
// status and the JSON answer as a map (nil if it is not a JSON object).
func (s *Server) Do(method, path, secret string, body io.Reader) (int, map[string]any) {
	s.t.Helper()
	code, _, b := s.Raw(method, path, secret, body)
	var out map[string]any
	_ = json.Unmarshal([]byte(b), &out)
	return code, out
}

// Raw sends a request like Do and returns the status, headers and body.
func (s *Server) Raw(method, path, secret string, body io.Reader) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
