package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uplink"
)

func echo(_ *http.Request, p api.Principal) (any, error) { return p, nil }

// whoFromContext answers the principal the router put in the context.
func whoFromContext(r *http.Request, _ api.Principal) (any, error) {
	p, ok := api.PrincipalFrom(r.Context())
	if !ok {
		return nil, errors.New("no principal in the context")
	}
	return p, nil
}

func TestRouterAccess(t *testing.T) {
	tokens := apitest.Secrets{
		"admin":  {Org: "a", Role: api.RoleAdmin, Name: "ops"},
		"viewer": {Org: "a", Role: api.RoleViewer},
	}
	edges := apitest.Secrets{"cred": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}
	srv := apitest.Serve(t, tokens, edges, []api.Route{
		{Method: "GET", Path: "/public", Auth: api.Public, Handle: echo},
		{Method: "GET", Path: "/view", Auth: api.Viewer, Handle: whoFromContext},
		{Method: "POST", Path: "/admin", Auth: api.Admin, Handle: echo},
		{Method: "POST", Path: "/edge", Auth: api.Edge, Handle: echo},
	})
	tests := []struct {
		method, path, secret string
		code                 int
	}{
		{"GET", "/public", "", 200},
		{"GET", "/public", "nonsense", 200}, // a public route reads no credential
		{"GET", "/view", "", 401},
		{"GET", "/view", "unknown", 401},
		{"GET", "/view", "cred", 401}, // an edge credential is no API token
		{"GET", "/view", "viewer", 200},
		{"GET", "/view", "admin", 200},
		{"POST", "/admin", "viewer", 403},
		{"POST", "/admin", "admin", 200},
		{"POST", "/edge", "admin", 401}, // an API token is no edge credential
		{"POST", "/edge", "", 401},
		{"POST", "/edge", "cred", 200},
		{"GET", "/api/v1/nothing", "admin", 404},
		{"DELETE", "/view", "admin", 405},
	}
	for _, tt := range tests {
		code, h, body := srv.Raw(tt.method, tt.path, tt.secret, nil)
		if code != tt.code {
			t.Errorf("%s %s with %q = %d %s, want %d", tt.method, tt.path, tt.secret, code, body, tt.code)
		}
		if code == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", tt.method, tt.path)
		}
	}
	if _, body := srv.Do("GET", "/view", "admin", nil); body["Org"] != "a" || body["Name"] != "ops" {
		t.Errorf("principal in the context = %v", body)
	}
}

func TestRouterRefusesUndeclaredRoutes(t *testing.T) {
	for name, route := range map[string]api.Route{
		"no access":     {Method: "GET", Path: "/x", Handle: echo},
		"no handler":    {Method: "GET", Path: "/x", Auth: api.Public},
		"two handlers":  {Method: "GET", Path: "/x", Auth: api.Public, Handle: echo, Stream: func(http.ResponseWriter, *http.Request, api.Principal) error { return nil }},
		"taken pattern": {Method: "GET", Path: "/taken", Auth: api.Public, Handle: echo},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Handle did not panic", name)
				}
			}()
			rt := &api.Router{}
			rt.Handle(api.Route{Method: "GET", Path: "/taken", Auth: api.Public, Handle: echo})
			rt.Handle(route)
		}()
	}
}

func TestRoutes(t *testing.T) {
	rt := &api.Router{}
	rt.Handle(
		api.Route{Method: "POST", Path: "/b", Auth: api.Admin, Handle: echo},
		api.Route{Method: "GET", Path: "/b", Auth: api.Viewer, Handle: echo},
		api.Route{Method: "GET", Path: "/a", Auth: api.Public, Handle: echo},
	)
	var got []string
	for _, r := range rt.Routes() {
		got = append(got, r.Pattern()+" "+r.Auth.String())
	}
	if want := "[GET /a public GET /b viewer POST /b admin]"; fmt.Sprint(got) != want {
		t.Errorf("Routes = %v, want %s", got, want)
	}
}

func TestStream(t *testing.T) {
	failed := errors.New("storage broke")
	srv := apitest.Serve(t, nil, nil, []api.Route{
		{Method: "GET", Path: "/before", Auth: api.Public, Stream: func(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
			return api.BadRequest("x: nonsense")
		}},
		{Method: "GET", Path: "/after", Auth: api.Public, Stream: func(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
			w.WriteHeader(200)
			io.WriteString(w, "first page\n")
			http.NewResponseController(w).Flush()
			return failed
		}},
	})
	if code, body := srv.Do("GET", "/before", "", nil); code != 400 || !strings.Contains(fmt.Sprint(body["error"]), "x: nonsense") {
		t.Errorf("error before the answer: %d %v, want 400 naming it", code, body)
	}
	resp, err := http.Get(srv.URL + "/after")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("an answer that failed after it started ended cleanly; want the connection aborted")
	}
}

func TestBodyLimit(t *testing.T) {
	srv := apitest.Serve(t, nil, nil, []api.Route{
		{Method: "POST", Path: "/small", Auth: api.Public, MaxBody: 10, Handle: func(r *http.Request, _ api.Principal) (any, error) {
			_, err := io.ReadAll(r.Body)
			return "ok", err
		}},
	})
	if code, _ := srv.Do("POST", "/small", "", strings.NewReader("0123456789")); code != 200 {
		t.Errorf("body at the limit: %d, want 200", code)
	}
	if code, _ := srv.Do("POST", "/small", "", strings.NewReader("0123456789x")); code != 413 {
		t.Errorf("body over the limit: %d, want 413", code)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{api.BadRequest("limit=%d", 0), 400},
		{fmt.Errorf("ingest: %w", store.ErrInvalid), 400},
		{fmt.Errorf("edge: %w", meta.ErrInvalid), 400},
		{fmt.Errorf("decode: %w", uplink.ErrMalformed), 400},
		{api.ErrUnauthenticated, 401},
		{fmt.Errorf("look up: %w", api.ErrRevoked), 401},
		{fmt.Errorf("%w: needs admin", api.ErrForbidden), 403},
		{fmt.Errorf("edge x: %w", meta.ErrNotFound), 404},
		{fmt.Errorf("create: %w", meta.ErrExists), 409},
		{uplink.ErrTooLarge, 413},
		{&http.MaxBytesError{Limit: 1}, 413},
		{uplink.ErrInvalidRecord, 422},
		{uplink.ErrBusy, 503},
		{fmt.Errorf("%w: storage", api.ErrUnavailable), 503},
		{context.DeadlineExceeded, 500},
		{errors.New("disk on fire"), 500},
	}
	for _, tt := range tests {
		code, msg := api.Status(tt.err)
		if code != tt.code {
			t.Errorf("Status(%v) = %d, want %d", tt.err, code, tt.code)
		}
		if code == 500 && msg != "internal error" {
			t.Errorf("Status(%v) tells the client %q", tt.err, msg)
		}
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer mlt_abc", "mlt_abc", true},
		{"bearer mlt_abc", "mlt_abc", true},
		{"Bearer  mlt_abc ", "mlt_abc", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, ok := api.Bearer(r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRouterBasic: a Basic route takes an API token as the Basic password,
// checked as a bearer token; other routes do not; the route's Errors
// writes its refusals.
func TestRouterBasic(t *testing.T) {
	tokens := apitest.Secrets{"viewer": {Org: "a", Role: api.RoleViewer}}
	edges := apitest.Secrets{"cred": {Org: "a", Role: api.RoleEdge, Edge: "e1"}}
	srv := apitest.Serve(t, tokens, edges, []api.Route{
		{Method: "GET", Path: "/basic", Auth: api.Viewer, Basic: true, Handle: echo,
			Errors: func(w http.ResponseWriter, code int, msg string) {
				w.WriteHeader(code)
				fmt.Fprintf(w, "own format: %s", msg)
			}},
		{Method: "GET", Path: "/bearer", Auth: api.Viewer, Handle: echo},
	})
	for _, tc := range []struct {
		path, user, password string
		code                 int
	}{
		{"/basic", "grafana", "viewer", 200},
		{"/basic", "", "viewer", 200},
		{"/basic", "viewer", "", 401},
		{"/basic", "grafana", "unknown", 401},
		{"/basic", "grafana", "cred", 401}, // an edge credential is no API token
		{"/bearer", "grafana", "viewer", 401},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.SetBasicAuth(tc.user, tc.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s as %s:%s = %d %s, want %d", tc.path, tc.user, tc.password, resp.StatusCode, b, tc.code)
		}
		if tc.path == "/basic" && tc.code == 401 && !strings.HasPrefix(string(b), "own format: ") {
			t.Errorf("%s refusal not in the route's format: %s", tc.path, b)
		}
	}
}
