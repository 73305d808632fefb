package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Role says what a caller may do within its organisation.
type Role string

// The roles.
const (
	RoleAdmin  Role = "admin"  // everything in its organisation, including managing edges
	RoleViewer Role = "viewer" // read data
	RoleEdge   Role = "edge"   // an enrolled edge: send uplinks
)

// Principal is an authenticated caller. Its organisation is the only one
// whose data a request may see.
type Principal struct {
	Org  string
	Role Role
	Name string // the token's or the edge's name
	Edge string // the edge's ID, for RoleEdge
}

// may reports whether p may call a route of access a.
func (p Principal) may(a Access) bool {
	switch a {
	case Public:
		return true
	case Edge:
		return p.Role == RoleEdge
	case Viewer:
		return p.Role == RoleViewer || p.Role == RoleAdmin
	case Admin:
		return p.Role == RoleAdmin
	}
	return false
}

// Authenticator turns a bearer secret into a Principal, or fails with
// ErrUnauthenticated (or ErrRevoked) when it cannot.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (Principal, error)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller the router authenticated for ctx's
// request; ok is false outside such a request (and for public routes the
// Principal is empty).
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Bearer returns the token of an "Authorization: Bearer …" header.
func Bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authenticate finds the caller of r as access a demands.
func (rt *Router) authenticate(r *http.Request, a Access) (Principal, error) {
	if a == Public {
		return Principal{}, nil
	}
	secret, ok := Bearer(r)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	auth := rt.Tokens
	if a == Edge {
		auth = rt.Edges
	}
	if auth == nil {
		return Principal{}, ErrUnauthenticated
	}
	p, err := auth.Authenticate(r.Context(), secret)
	if err != nil {
		return Principal{}, err
	}
	if !p.may(a) {
		return Principal{}, fmt.Errorf("%w: needs the %s role", ErrForbidden, a)
	}
	return p, nil
}
