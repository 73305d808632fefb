package api

import (
	"context"
	"net/http"
	"strings"
)

// Role says what a caller may do within its organisation. A person has
// one role in each organisation they belong to; an API token of a service
// account has one; an edge has RoleEdge.
type Role string

// The roles. Within an organisation viewer < engineer < admin < owner;
// advisor (staff of a hub) and publisher (staff of a provider) read like
// viewers in their own organisation and have their own abilities
// elsewhere (an advisor acts for a company that consented; a publisher
// publishes services); platform-admin manages the organisation tree from
// the platform organisation and sees no organisation's data by it.
const (
	RoleOwner         Role = "owner"
	RoleAdmin         Role = "admin"
	RoleEngineer      Role = "engineer"
	RoleViewer        Role = "viewer"
	RoleAdvisor       Role = "advisor"
	RolePublisher     Role = "publisher"
	RolePlatformAdmin Role = "platform-admin"
	RoleEdge          Role = "edge" // an enrolled edge: send uplinks
)

// MemberRoles are the roles a person or a service account can hold in an
// organisation, weakest first.
var MemberRoles = []Role{RoleViewer, RoleAdvisor, RolePublisher, RoleEngineer, RoleAdmin, RolePlatformAdmin, RoleOwner}

// Rank orders roles for the access levels: 1 reads, 2 configures, 3
// administers, 4 owns; 0 is no member role.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin, RolePlatformAdmin:
		return 3
	case RoleEngineer:
		return 2
	case RoleViewer, RoleAdvisor, RolePublisher:
		return 1
	}
	return 0
}

// Valid reports whether r is a member role.
func (r Role) Valid() bool { return r.Rank() > 0 }

// DataKind names what a grant lets another organisation read. Each kind
// includes the ones after it: series ⊇ aggregates ⊇ kpi.
type DataKind string

// The kinds of data a grant covers.
const (
	// DataSeries: raw points, latest values, events and exports.
	DataSeries DataKind = "series"
	// DataAggregates: the list of series and aggregated queries.
	DataAggregates DataKind = "aggregates"
	// DataKPI: reports (OEE, the downtime Pareto).
	DataKPI DataKind = "kpi"
)

func (k DataKind) rank() int {
	switch k {
	case DataSeries:
		return 3
	case DataAggregates:
		return 2
	case DataKPI:
		return 1
	}
	return 0
}

// Valid reports whether k is a kind of data.
func (k DataKind) Valid() bool { return k.rank() > 0 }

// Covers reports whether a grant of kind k allows reading data of kind want.
func (k DataKind) Covers(want DataKind) bool { return want.Valid() && k.rank() >= want.rank() }

// Grant is read access another organisation gave the caller's: data of
// Kind under the UNS prefix Prefix ("" is all of it), until it expires or
// is revoked (an expired or revoked grant is not in a Principal).
type Grant struct {
	ID     string   `json:"id"`
	Org    string   `json:"org"` // the organisation that granted it
	Kind   DataKind `json:"kind"`
	Prefix string   `json:"prefix"`
}

// Principal is an authenticated caller. Its organisation is the only one
// whose data a request may see, apart from what Grants allow it to read.
type Principal struct {
	Org     string
	OrgKind string // the kind of Org (company, hub, …)
	Role    Role
	Name    string // the token's or the edge's name; a person's user ID
	Edge    string // the edge's ID, for RoleEdge
	// User is the person's user ID: for a session, and for a token of a
	// person (not of a service account).
	User string
	// Token is the ID of the API token the request came with, and Scopes
	// its scopes (space-separated); both empty otherwise.
	Token, Scopes string
	// Session is the ID of the browser session the request came with.
	Session string
	// Via is, for a person acting for a company by its consent, the
	// organisation they belong to (a hub), and Delegation the consent's
	// ID; Role is then what the consent allows.
	Via, Delegation string
	// Grants are the read access other organisations gave Org.
	Grants []Grant
}

// Actor names p in an audit entry: the person's user ID, else the API
// token's ID, else "system".
func (p Principal) Actor() string {
	switch {
	case p.User != "":
		return p.User
	case p.Token != "":
		return p.Token
	}
	return "system"
}

// Person reports whether p is a signed-in person (a session).
func (p Principal) Person() bool { return p.Session != "" && p.User != "" }

// Authenticator turns a bearer secret into a Principal, or fails with
// ErrUnauthenticated (or ErrRevoked) when it cannot.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (Principal, error)
}

// RequestAuthenticator authenticates a request by what it carries as a
// whole (a signature over its method, path and body), or fails with
// ErrUnauthenticated, ErrRevoked or another error that says why (see
// Status). It may read the body, and then puts it back.
type RequestAuthenticator interface {
	AuthenticateRequest(r *http.Request) (Principal, error)
}

// SessionAuthenticator turns the secret of a session cookie into a
// Principal and the session's CSRF token, which a request that changes
// something must send in the X-CSRF-Token header.
type SessionAuthenticator interface {
	AuthenticateSession(ctx context.Context, secret string) (p Principal, csrf string, err error)
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

// BasicToken returns the password of an "Authorization: Basic …" header,
// which Basic routes take as an API token.
func BasicToken(r *http.Request) (string, bool) {
	_, pw, ok := r.BasicAuth()
	if !ok || pw == "" {
		return "", false
	}
	return pw, true
}
