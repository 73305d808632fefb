package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Access says who may call a route. Every route declares one; there is no
// default, so a route cannot be public by omission.
type Access int

// The access levels.
const (
	_ Access = iota
	// Public routes need no credential: enrollment, /healthz, the web UI.
	Public
	// Edge routes need an enrolled edge's credential (Router.Edges).
	Edge
	// Viewer routes need an API token of any role (Router.Tokens).
	Viewer
	// Admin routes need an API token with the admin role.
	Admin
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Edge:
		return "edge"
	case Viewer:
		return "viewer"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Route is one endpoint a domain serves.
type Route struct {
	// Method and Path form a net/http.ServeMux pattern ("POST",
	// "/api/v1/edges/{id}/revoke"). An empty Method matches every method.
	Method, Path string
	// Auth says who may call it; required.
	Auth Access
	// Handle answers with a value written as JSON (200, or as Created
	// says) or an error, which the router maps to a status. Exactly one of
	// Handle and Stream is set.
	Handle func(r *http.Request, p Principal) (any, error)
	// Stream writes its own answer (downloads, text, the web UI). An error
	// it returns before writing is answered like Handle's; after it wrote,
	// the router logs it and aborts the connection, so that a client never
	// takes a cut answer for a whole one.
	Stream func(w http.ResponseWriter, r *http.Request, p Principal) error
	// MaxBody bounds the request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Refused, if set, is told when the router refuses a caller before
	// the handler runs (no or a bad credential, too weak a role), for the
	// domain's metrics.
	Refused func(err error)
}

// DefaultMaxBody bounds a request body unless its route says otherwise.
const DefaultMaxBody = 64 << 10

// Pattern is the route's ServeMux pattern.
func (rt Route) Pattern() string {
	if rt.Method == "" {
		return rt.Path
	}
	return rt.Method + " " + rt.Path
}

// Router serves the routes domains register, authenticating callers as
// each route's Access demands.
type Router struct {
	// Tokens authenticates the secrets of people and scripts (Viewer and
	// Admin routes); Edges authenticates edge credentials (Edge routes).
	// Each answers ErrUnauthenticated for a secret that is not its kind.
	Tokens, Edges Authenticator
	Log           *slog.Logger // default: discard

	routes []Route
	mux    *http.ServeMux
}

// Handle registers routes. It panics on a route without Access, without
// or with both handlers, or whose pattern is taken: programming errors
// that no request should find.
func (rt *Router) Handle(routes ...Route) {
	if rt.mux == nil {
		rt.mux = http.NewServeMux()
		rt.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			rt.writeError(w, r, fmt.Errorf("%w: %s %s", ErrNoRoute, r.Method, r.URL.Path))
		})
	}
	for _, route := range routes {
		switch {
		case route.Auth < Public || route.Auth > Admin:
			panic(fmt.Sprintf("api: route %s declares no access", route.Pattern()))
		case (route.Handle == nil) == (route.Stream == nil):
			panic(fmt.Sprintf("api: route %s needs exactly one of Handle and Stream", route.Pattern()))
		}
		rt.mux.Handle(route.Pattern(), rt.serve(route)) // panics on a taken pattern
		rt.routes = append(rt.routes, route)
	}
}

// Routes returns every registered route, by path and method.
func (rt *Router) Routes() []Route {
	out := slices.Clone(rt.routes)
	slices.SortFunc(out, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return out
}

// ServeHTTP serves the registered routes.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.mux == nil {
		http.NotFound(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

func (rt *Router) log() *slog.Logger {
	if rt.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rt.Log
}

func (rt *Router) serve(route Route) http.Handler {
	limit := route.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		p, err := rt.authenticate(r, route.Auth)
		if err != nil {
			if route.Refused != nil {
				route.Refused(err)
			}
			rt.writeError(w, r, err)
			return
		}
		r = r.WithContext(WithPrincipal(r.Context(), p))
		if route.Handle != nil {
			v, err := route.Handle(r, p)
			if err != nil {
				rt.writeError(w, r, err)
				return
			}
			WriteJSON(w, v)
			return
		}
		sw := &streamWriter{ResponseWriter: w}
		if err := route.Stream(sw, r, p); err != nil {
			if !sw.wrote {
				rt.writeError(w, r, err)
				return
			}
			if r.Context().Err() == nil {
				rt.log().Error("answer failed after it started", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
			}
			panic(http.ErrAbortHandler)
		}
	})
}

// streamWriter notes whether a Stream handler started its answer.
type streamWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *streamWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *streamWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
