package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Route is one endpoint a domain serves.
type Route struct {
	// Method and Path form a net/http.ServeMux pattern ("POST",
	// "/api/v1/edges/{id}/revoke"). An empty Method matches every method.
	Method, Path string
	// Auth says who may call it; required.
	Auth Access
	// Area names the part of molen the route belongs to ("fleet",
	// "series", …), for API tokens scoped to one area ("fleet:write").
	// A route without one answers only tokens with general scopes.
	Area string
	// SelfAudited says the handler records its own audit entries, so the
	// router does not record the change it makes. Otherwise every
	// successful request that changes something (any method but GET,
	// HEAD, OPTIONS) of a person or token is recorded.
	SelfAudited bool
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
	// Basic lets the route also take an API token as the password of HTTP
	// Basic authentication (the user name is ignored), for clients that
	// offer only that, such as Grafana's data sources. The token is
	// checked exactly as a bearer token.
	Basic bool
	// Errors, if set, writes the answer to an error (the status and the
	// message Status gives) in the route's own format, such as
	// Prometheus's; otherwise it is {"error": message}.
	Errors func(w http.ResponseWriter, code int, msg string)
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

// Router serves the routes domains register: it bounds each request,
// sets the security headers, applies the rate limits, authenticates the
// caller, lets Allow decide whether the route's policy admits it, and
// records in the audit log what the policy wants recorded.
type Router struct {
	// Tokens authenticates the bearer secrets of people and scripts (API
	// tokens); Edges authenticates edge credentials (Edge routes);
	// Sessions the session cookies of browsers. Each answers
	// ErrUnauthenticated for a secret that is not its kind.
	Tokens, Edges Authenticator
	// EdgeRequests authenticates the signed requests of edges (Edge
	// routes with a Signature header); nil: edges send their credential.
	EdgeRequests RequestAuthenticator
	Sessions     SessionAuthenticator
	// Limits are the rate limits; nil: none.
	Limits *Limits
	// Audit records changes, delegated requests and reads under grants;
	// nil: none.
	Audit Auditor
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto the router believes.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger // default: discard
	// Observe, if set, is told of every answered request of a registered
	// route: the route (its pattern is a bounded label, unlike the path),
	// the status and how long the answer took, refusals included.
	Observe func(r *http.Request, route Route, code int, took time.Duration)

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
			rt.writeError(w, r, fmt.Errorf("%w: %s %s", ErrNoRoute, r.Method, r.URL.Path), nil)
		})
	}
	for _, route := range routes {
		switch {
		case !route.Auth.Declared():
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

// ServeHTTP serves the registered routes, with the security headers on
// every answer.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = rt.fromProxy(r)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// Answers of the API are data, never pages: nothing in them may run
	// or be framed. The web application sets its own policy for its pages.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if Secure(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
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
		if rt.Observe != nil {
			start := time.Now()
			ow := &streamWriter{ResponseWriter: w}
			w = ow
			// Deferred, so that an answer aborted after it started
			// (http.ErrAbortHandler) is counted too.
			defer func() { rt.Observe(r, route, cmp.Or(ow.code, http.StatusOK), time.Since(start)) }()
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		if err := rt.Limits.beforeAuth(r, route.Auth == Edge); err != nil {
			rt.refuse(w, r, err, route)
			return
		}
		p, err := rt.authenticate(r, route)
		if err != nil {
			if route.Refused != nil {
				route.Refused(err)
			}
			rt.writeError(w, r, err, route.Errors)
			return
		}
		if err := rt.Limits.afterAuth(r, p); err != nil {
			if route.Refused != nil {
				route.Refused(err)
			}
			rt.refuse(w, r, err, route)
			return
		}
		ctx, uses := withGrantUses(WithPrincipal(r.Context(), p))
		r = r.WithContext(ctx)
		sw := &streamWriter{ResponseWriter: w}
		rt.run(sw, r, route, p)
		rt.audit(r, route, p, sw.code, uses)
	})
}

// refuse answers a request the rate limits refused, once Limits.hold
// lets it.
func (rt *Router) refuse(w http.ResponseWriter, r *http.Request, err error, route Route) {
	if rt.Limits.hold(r.Context(), err) {
		w.Header().Set("Connection", "close")
	}
	rt.writeError(w, r, err, route.Errors)
}

// run calls the route's handler and answers.
func (rt *Router) run(sw *streamWriter, r *http.Request, route Route, p Principal) {
	if route.Handle != nil {
		v, err := route.Handle(r, p)
		if err != nil {
			rt.writeError(sw, r, err, route.Errors)
			return
		}
		WriteJSON(sw, v)
		return
	}
	if err := route.Stream(sw, r, p); err != nil {
		if !sw.wrote {
			rt.writeError(sw, r, err, route.Errors)
			return
		}
		if r.Context().Err() == nil {
			rt.log().Error("answer failed after it started", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// authenticate finds the caller of r and lets Allow decide whether the
// route's policy admits it. A bearer secret (or, on Basic routes, the
// password of Basic authentication) is an API token (or, on edge routes,
// an edge credential); on edge routes a signature is an edge's; without
// one, a session cookie is a
// browser's session, and a request with it that changes something must
// pass the CSRF check.
func (rt *Router) authenticate(r *http.Request, route Route) (Principal, error) {
	if route.Auth == Public {
		return Principal{}, nil
	}
	var p Principal
	var err error
	secret, bearer := Bearer(r)
	if !bearer && route.Basic {
		secret, bearer = BasicToken(r)
	}
	cookie, hasCookie := SessionSecret(r)
	switch {
	case route.Auth == Edge && rt.EdgeRequests != nil && !bearer && r.Header.Get("Signature") != "":
		p, err = rt.EdgeRequests.AuthenticateRequest(r)
	case route.Auth == Edge:
		if !bearer || rt.Edges == nil {
			return Principal{}, ErrUnauthenticated
		}
		p, err = rt.Edges.Authenticate(r.Context(), secret)
	case bearer:
		if rt.Tokens == nil {
			return Principal{}, ErrUnauthenticated
		}
		p, err = rt.Tokens.Authenticate(r.Context(), secret)
	case hasCookie && rt.Sessions != nil:
		var csrf string
		if p, csrf, err = rt.Sessions.AuthenticateSession(r.Context(), cookie); err == nil {
			err = checkCSRF(r, csrf)
		}
	default:
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if err := Allow(p, route.Auth, route.Area); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// Auditor records what the router tells it in the audit log.
type Auditor interface {
	AuditRequest(ctx context.Context, rec RequestRecord)
}

// RequestRecord is a request the audit log keeps: a change made by a
// person or token, any request of a person acting for another
// organisation, or a read under grants.
type RequestRecord struct {
	Principal Principal
	Method    string
	Pattern   string // the route's pattern
	Path      string
	Status    int
	Addr      string // the client's address
	Uses      []GrantUse
}

// audit tells rt.Audit of the request if the policy wants it recorded.
func (rt *Router) audit(r *http.Request, route Route, p Principal, status int, uses *grantUses) {
	if rt.Audit == nil || p.Org == "" || p.Role == RoleEdge {
		return
	}
	ok := status >= 200 && status < 300
	change := !safeMethod(r.Method) && ok && !route.SelfAudited
	uses.mu.Lock()
	used := slices.Clone(uses.uses)
	uses.mu.Unlock()
	if !change && p.Via == "" && (len(used) == 0 || !ok) {
		return
	}
	if !ok {
		used = nil
	}
	rt.Audit.AuditRequest(context.WithoutCancel(r.Context()), RequestRecord{
		Principal: p, Method: r.Method, Pattern: route.Pattern(), Path: r.URL.Path, Status: status,
		Addr: ClientAddr(r), Uses: used,
	})
}

// streamWriter notes whether a handler started its answer, and its status.
type streamWriter struct {
	http.ResponseWriter
	wrote bool
	code  int
}

func (w *streamWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code = code
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *streamWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code = http.StatusOK
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
