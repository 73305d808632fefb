package api

import (
	"errors"
	"testing"
)

func TestAllow(t *testing.T) {
	person := Principal{Org: "acme", OrgKind: "company", Role: RoleViewer, User: "usr_1", Session: "ses_1"}
	orphan := Principal{User: "usr_1", Session: "ses_1"}
	token := func(role Role, scopes string) Principal {
		return Principal{Org: "acme", OrgKind: "company", Role: role, Token: "tok_1", Scopes: scopes}
	}
	platform := Principal{Org: "platform", OrgKind: "platform", Role: RolePlatformAdmin, User: "usr_2", Session: "ses_2"}
	hubAdminInPlatformRole := Principal{Org: "acme", OrgKind: "company", Role: RolePlatformAdmin, User: "usr_3", Session: "ses_3"}
	tests := []struct {
		name string
		p    Principal
		a    Access
		area string
		want error
	}{
		{"public", Principal{}, Public, "", nil},
		{"nobody on a viewer route", Principal{}, Viewer, "", ErrUnauthenticated},
		{"edge on a viewer route", Principal{Org: "acme", Role: RoleEdge, Edge: "e"}, Viewer, "", ErrUnauthenticated},
		{"token on an edge route", token(RoleAdmin, "admin"), Edge, "", ErrUnauthenticated},
		{"viewer reads", person, Viewer, "", nil},
		{"viewer configures", person, Engineer, "", ErrForbidden},
		{"person's own account", person, Person, "", nil},
		{"person in no organisation: own account", orphan, Person, "", nil},
		{"person in no organisation: data", orphan, Viewer, "", ErrForbidden},
		{"token on a person route", token(RoleOwner, "admin"), Person, "", ErrForbidden},
		{"admin token, read scope, admin route", token(RoleAdmin, "read"), Admin, "", ErrForbidden},
		{"admin token, admin scope", token(RoleAdmin, "admin"), Admin, "", nil},
		{"area scope in its area", token(RoleAdmin, "fleet:admin"), Admin, "fleet", nil},
		{"area scope elsewhere", token(RoleAdmin, "fleet:admin"), Admin, "series", ErrForbidden},
		{"area scope, route without area", token(RoleAdmin, "fleet:admin"), Viewer, "", ErrForbidden},
		{"scope above the role", token(RoleViewer, "admin"), Admin, "", ErrForbidden},
		{"advisor reads its hub", Principal{Org: "hub", OrgKind: "hub", Role: RoleAdvisor, User: "u", Session: "s"}, Viewer, "", nil},
		{"owner route, admin", token(RoleAdmin, "admin"), Owner, "", ErrForbidden},
		{"platform admin", platform, PlatformAdmin, "", nil},
		{"platform-admin role outside the platform", hubAdminInPlatformRole, PlatformAdmin, "", ErrForbidden},
		{"platform admin delegated", Principal{Org: "platform", OrgKind: "platform", Role: RolePlatformAdmin, User: "u", Session: "s", Via: "hub"}, PlatformAdmin, "", ErrForbidden},
		{"company owner on a platform route", Principal{Org: "acme", OrgKind: "company", Role: RoleOwner, User: "u", Session: "s"}, PlatformAdmin, "", ErrForbidden},
		{"undeclared", person, Access{}, "", ErrForbidden},
	}
	for _, tt := range tests {
		err := Allow(tt.p, tt.a, tt.area)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Allow = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestScopes(t *testing.T) {
	for _, tt := range []struct {
		scopes string
		ok     bool
	}{{"read", true}, {"read fleet:admin", true}, {"", false}, {"root", false}, {"Fleet:read", false}, {"fleet:owner", false}, {"fleet:", false}} {
		if err := ValidScopes(tt.scopes); (err == nil) != tt.ok {
			t.Errorf("ValidScopes(%q) = %v, want ok=%v", tt.scopes, err, tt.ok)
		}
	}
	if l := ScopeLevel("read fleet:admin", "fleet"); l != LevelAdmin {
		t.Errorf("ScopeLevel in fleet = %v", l)
	}
	if l := ScopeLevel("read fleet:admin", "series"); l != LevelRead {
		t.Errorf("ScopeLevel in series = %v", l)
	}
}
