package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/molen-io/molen/internal/meta"
)

// Access is a route's policy: who may call it. Every route declares one;
// the zero Access is no policy, which Router.Handle refuses, so a route
// cannot be open by omission. Allow is the only place that decides.
type Access struct {
	kind  accessKind
	role  Role  // least role in the caller's organisation (member, platform)
	level Level // least scope of an API token
}

type accessKind uint8

const (
	_ accessKind = iota
	kindPublic
	kindEdge
	kindPerson
	kindMember
	kindPlatform
)

// The policies.
var (
	// Public routes need no credential: sign-in, enrollment, /healthz, the
	// web application. A public handler that changes state proves the
	// caller by what the request carries (a one-time token, a password).
	Public = Access{kind: kindPublic}
	// Edge routes need an enrolled edge's credential (Router.Edges).
	Edge = Access{kind: kindEdge}
	// Person routes are a signed-in person's own account (profile,
	// password, second factor, sessions, their organisations): a browser
	// session, in any organisation, with any role. API tokens are refused.
	Person = Access{kind: kindPerson}
	// Viewer routes read the organisation's data: any member role, a
	// token with the read scope.
	Viewer = Access{kind: kindMember, role: RoleViewer, level: LevelRead}
	// Engineer routes configure edges and pipelines: engineer or more, a
	// token with the write scope.
	Engineer = Access{kind: kindMember, role: RoleEngineer, level: LevelWrite}
	// Advisor routes are a hub's work with its customers (registering a
	// company, recording a service): an advisor, or engineer or more; a
	// token with the write scope.
	Advisor = Access{kind: kindMember, role: RoleAdvisor, level: LevelWrite}
	// Publisher routes publish services in the marketplace: the
	// publisher role, or admin or more, in a provider organisation; a
	// token with the write scope.
	Publisher = Access{kind: kindMember, role: RolePublisher, level: LevelWrite}
	// Admin routes administer the organisation (members, tokens, grants,
	// edges, retention, audit): admin or owner, a token with the admin
	// scope.
	Admin = Access{kind: kindMember, role: RoleAdmin, level: LevelAdmin}
	// Owner routes change who owns the organisation.
	Owner = Access{kind: kindMember, role: RoleOwner, level: LevelAdmin}
	// PlatformAdmin routes manage the organisation tree: the
	// platform-admin role in the platform organisation.
	PlatformAdmin = Access{kind: kindPlatform, role: RolePlatformAdmin, level: LevelAdmin}
)

// Declared reports whether a is a policy (not the zero Access).
func (a Access) Declared() bool { return a.kind != 0 }

// Role is the least role a route of a demands ("" for public, edge and
// person routes).
func (a Access) Role() Role { return a.role }

// Level is the least token scope a route of a demands.
func (a Access) Level() Level { return a.level }

func (a Access) String() string {
	switch a.kind {
	case kindPublic:
		return "public"
	case kindEdge:
		return "edge"
	case kindPerson:
		return "person"
	case kindMember, kindPlatform:
		return string(a.role)
	}
	return "undeclared"
}

// Level is what an API token's scope allows: read < write < admin.
type Level int

// The levels.
const (
	LevelRead Level = iota + 1
	LevelWrite
	LevelAdmin
)

func (l Level) String() string {
	switch l {
	case LevelRead:
		return "read"
	case LevelWrite:
		return "write"
	case LevelAdmin:
		return "admin"
	}
	return ""
}

func parseLevel(s string) Level {
	switch s {
	case "read":
		return LevelRead
	case "write":
		return LevelWrite
	case "admin":
		return LevelAdmin
	}
	return 0
}

// ValidScopes checks a token's scopes: space-separated words, each a level
// (read, write, admin) for every area, or area:level for one area
// ("fleet:write").
func ValidScopes(scopes string) error {
	words := strings.Fields(scopes)
	if len(words) == 0 {
		return BadRequest("scopes: want at least one of read, write, admin or <area>:<level>")
	}
	for _, w := range words {
		area, lvl, ok := strings.Cut(w, ":")
		if !ok {
			area, lvl = "", w
		}
		if parseLevel(lvl) == 0 || ok && !validArea(area) {
			return BadRequest("scopes: %q: want read, write, admin or <area>:<level> (an area is lowercase letters)", w)
		}
	}
	return nil
}

func validArea(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for _, c := range a {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// ScopeLevel is the highest level scopes give in area.
func ScopeLevel(scopes, area string) Level {
	var best Level
	for _, w := range strings.Fields(scopes) {
		a, lvl, ok := strings.Cut(w, ":")
		if !ok {
			a, lvl = "", w
		}
		if ok && a != area {
			continue
		}
		best = max(best, parseLevel(lvl))
	}
	return best
}

// RoleLevel is the highest scope a token of a holder of role may carry:
// an advisor's and a publisher's may write (Advisor and Publisher
// routes), though their roles read only elsewhere.
func RoleLevel(r Role) Level {
	if r == RoleAdvisor || r == RolePublisher {
		return LevelWrite
	}
	switch r.Rank() {
	case 1:
		return LevelRead
	case 2:
		return LevelWrite
	case 3, 4:
		return LevelAdmin
	}
	return 0
}

// Allow decides whether p may call a route of access a in area (a route's
// Area; "" for none): nil, or an error wrapping ErrUnauthenticated (the
// kind of credential does not fit) or ErrForbidden (its role or scope is
// too weak). It is the one policy every route goes through.
func Allow(p Principal, a Access, area string) error {
	switch a.kind {
	case kindPublic:
		return nil
	case kindEdge:
		if p.Role != RoleEdge {
			return ErrUnauthenticated
		}
		return nil
	}
	if p.Role == RoleEdge {
		return ErrUnauthenticated
	}
	if a.kind == kindPerson {
		// A person removed from every organisation still reaches their own
		// account (to export or erase it).
		if !p.Person() {
			return fmt.Errorf("%w: only a signed-in person may call this, not an API token", ErrForbidden)
		}
		return nil
	}
	if p.Org == "" {
		if p.Person() {
			return fmt.Errorf("%w: you belong to no organisation now", ErrForbidden)
		}
		return ErrUnauthenticated
	}
	switch a.kind {
	case kindMember:
		if a.role == RolePublisher {
			if p.OrgKind != "provider" || p.Role != RolePublisher && p.Role.Rank() < RoleAdmin.Rank() {
				return fmt.Errorf("%w: needs the publisher or admin role in a provider organisation", ErrForbidden)
			}
		} else if a.role == RoleAdvisor {
			if p.Role != RoleAdvisor && p.Role.Rank() < RoleEngineer.Rank() {
				return fmt.Errorf("%w: needs the advisor or engineer role", ErrForbidden)
			}
		} else if p.Role.Rank() < a.role.Rank() {
			return fmt.Errorf("%w: needs the %s role", ErrForbidden, a.role)
		}
	case kindPlatform:
		if p.Role != RolePlatformAdmin || p.OrgKind != "platform" || p.Via != "" {
			return fmt.Errorf("%w: needs the %s role in the platform organisation", ErrForbidden, a.role)
		}
	default:
		return fmt.Errorf("%w: the route declares no access", ErrForbidden)
	}
	if p.Token != "" && ScopeLevel(p.Scopes, area) < a.level {
		if area != "" {
			return fmt.Errorf("%w: needs a token with the %s or %s:%s scope", ErrForbidden, a.level, area, a.level)
		}
		return fmt.Errorf("%w: needs a token with the %s scope", ErrForbidden, a.level)
	}
	return nil
}

// grantUses collects, for the router, the grants a request read under.
type grantUses struct {
	mu   sync.Mutex
	uses []GrantUse
}

// GrantUse is one read of another organisation's data under a grant.
type GrantUse struct {
	Grant Grant
	Path  string // the series, or the prefix, read
}

type grantUsesKey struct{}

// DataOrg decides whose data a request reads: the caller's own
// organisation, or, when the request names another with ?org=, that one if
// it granted the caller's organisation kind (or more) under a prefix that
// holds the series path. Anything else is meta.ErrNotFound, as for data
// that does not exist: a caller cannot tell an organisation that shares
// nothing from one that does not exist. Reads under a grant are recorded
// in the granting organisation's audit log.
func DataOrg(r *http.Request, p Principal, kind DataKind, series string) (org string, err error) {
	org, _, err = dataOrg(r, p, kind, series, false)
	return org, err
}

// DataPrefix is DataOrg for a listing under a UNS prefix ("": everything):
// it also returns the prefix to list, which is prefix, or, when prefix
// holds what was granted (everything, under a grant of one line), the
// granted prefix.
func DataPrefix(r *http.Request, p Principal, kind DataKind, prefix string) (org, narrowed string, err error) {
	return dataOrg(r, p, kind, prefix, true)
}

func dataOrg(r *http.Request, p Principal, kind DataKind, path string, narrow bool) (org, prefix string, err error) {
	want := r.URL.Query().Get("org")
	if want == "" || want == p.Org {
		return p.Org, path, nil
	}
	for _, g := range p.Grants {
		if g.Org != want || !g.Kind.Covers(kind) {
			continue
		}
		switch {
		case under(path, g.Prefix):
			prefix = path
		case narrow && under(g.Prefix, path):
			prefix = g.Prefix
		default:
			continue
		}
		if u, ok := r.Context().Value(grantUsesKey{}).(*grantUses); ok {
			u.mu.Lock()
			u.uses = append(u.uses, GrantUse{Grant: g, Path: prefix})
			u.mu.Unlock()
		}
		return g.Org, prefix, nil
	}
	return "", "", fmt.Errorf("data of organisation %q: %w", want, meta.ErrNotFound)
}

// under reports whether the UNS path p is at or under prefix, segment-wise.
func under(p, prefix string) bool {
	if prefix == "" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix) && p[len(prefix)] == '/'
}

func withGrantUses(ctx context.Context) (context.Context, *grantUses) {
	u := &grantUses{}
	return context.WithValue(ctx, grantUsesKey{}, u), u
}
