package auth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"

	"github.com/pquerna/otp"
)

// Routes are the domain's. Sign-in and one-time links are public (the
// password or the link's secret is the proof); a person's own account
// needs their session; the organisation's members, invitations, tokens,
// grants and consents need its admins (tokens and consents are also each
// person's own); the tree needs platform admins, or a hub's admins for
// the companies and fieldlabs below it.
func (s *Service) Routes() []api.Route {
	const small = 8 << 10
	return []api.Route{
		{Method: "GET", Path: "/api/v1/whoami", Auth: api.Viewer, Handle: whoami},

		{Method: "POST", Path: "/api/v1/auth/login", Auth: api.Public, Stream: s.withWriter(s.login), MaxBody: small},
		{Method: "POST", Path: "/api/v1/auth/totp", Auth: api.Public, Stream: s.withWriter(s.secondFactor), MaxBody: small},
		{Method: "POST", Path: "/api/v1/auth/logout", Auth: api.Person, Stream: s.withWriter(s.logout), SelfAudited: true},
		{Method: "POST", Path: "/api/v1/auth/switch", Auth: api.Person, Stream: s.withWriter(s.switchOrg), MaxBody: small, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/auth/invitation", Auth: api.Public, Handle: s.lookupInvitation, MaxBody: small},
		{Method: "POST", Path: "/api/v1/auth/invitation/accept", Auth: api.Public, Stream: s.withWriter(s.acceptInvitation), MaxBody: small},
		{Method: "POST", Path: "/api/v1/auth/reset", Auth: api.Public, Stream: s.withWriter(s.reset), MaxBody: small},
		{Method: "POST", Path: "/api/v1/auth/link", Auth: api.Public, Stream: s.withWriter(s.useLink), MaxBody: small},
		{Method: "GET", Path: "/api/v1/auth/providers", Auth: api.Public, Handle: s.providers},
		{Method: "GET", Path: "/api/v1/auth/oidc/{provider}/start", Auth: api.Public, Stream: s.oidcStart},
		{Method: "GET", Path: "/api/v1/auth/oidc/{provider}/callback", Auth: api.Public, Stream: s.oidcCallback},

		{Method: "GET", Path: "/api/v1/me", Auth: api.Person, Handle: s.me},
		{Method: "PATCH", Path: "/api/v1/me", Auth: api.Person, Handle: s.patchMe, MaxBody: small},
		{Method: "DELETE", Path: "/api/v1/me", Auth: api.Person, Handle: s.eraseMe, MaxBody: small, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/me/export", Auth: api.Person, Handle: s.exportMe},
		{Method: "POST", Path: "/api/v1/me/password", Auth: api.Person, Handle: s.changePassword, MaxBody: small, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/me/totp", Auth: api.Person, Handle: s.beginTOTP, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/me/totp/confirm", Auth: api.Person, Handle: s.confirmTOTP, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/me/totp", Auth: api.Person, Handle: s.removeTOTP, MaxBody: small, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/me/sessions", Auth: api.Person, Handle: s.sessions},
		{Method: "DELETE", Path: "/api/v1/me/sessions/{session}", Auth: api.Person, Handle: s.endSession, SelfAudited: true},

		{Method: "POST", Path: "/api/v1/users/{user}/erase", Auth: api.PlatformAdmin, Handle: s.eraseUser, SelfAudited: true},

		{Method: "GET", Path: "/api/v1/orgs", Auth: api.Viewer, Handle: s.listOrgs},
		{Method: "POST", Path: "/api/v1/orgs", Auth: api.Admin, Handle: s.createOrg, MaxBody: small, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/members", Auth: api.Viewer, Handle: s.members},
		{Method: "PUT", Path: "/api/v1/members/{user}", Auth: api.Admin, Handle: s.setRole, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/members/{user}", Auth: api.Admin, Handle: s.removeMember, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/members/{user}/reset", Auth: api.Admin, Handle: s.resetLink, MaxBody: small, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/invitations", Auth: api.Admin, Handle: s.invitations},
		{Method: "POST", Path: "/api/v1/invitations", Auth: api.Admin, Handle: s.invite, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/invitations/{invitation}", Auth: api.Admin, Handle: s.revokeInvitation, SelfAudited: true},

		{Method: "GET", Path: "/api/v1/tokens", Auth: api.Viewer, Handle: s.tokens},
		{Method: "POST", Path: "/api/v1/tokens", Auth: api.Viewer, Handle: s.createToken, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/tokens/{token}", Auth: api.Viewer, Handle: s.revokeToken, SelfAudited: true},

		{Method: "GET", Path: "/api/v1/grants", Auth: api.Viewer, Handle: s.listGrants},
		{Method: "POST", Path: "/api/v1/grants", Auth: api.Admin, Handle: s.createGrant, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/grants/{grant}", Auth: api.Admin, Handle: s.revokeGrant, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/delegations", Auth: api.Viewer, Handle: s.listDelegations},
		{Method: "POST", Path: "/api/v1/delegations", Auth: api.Admin, Handle: s.createDelegation, MaxBody: small, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/delegations/{delegation}", Auth: api.Viewer, Handle: s.revokeDelegation, SelfAudited: true},
	}
}

func whoami(_ *http.Request, p api.Principal) (any, error) {
	out := map[string]any{"org": p.Org, "role": string(p.Role), "name": p.Name}
	if p.User != "" {
		out["user"] = p.User
	}
	if p.Token != "" {
		out["token"], out["scopes"] = p.Token, p.Scopes
	}
	if p.Via != "" {
		out["via"], out["delegation"] = p.Via, p.Delegation
	}
	return out, nil
}

func client(r *http.Request) Client {
	return Client{Addr: api.ClientAddr(r), Agent: r.UserAgent()}
}

func auditEntry(org, actor, action, target string, detail map[string]string) audit.Entry {
	return audit.Entry{Org: org, Actor: actor, Action: action, Target: target, Detail: detail}
}

// signedIn answers a sign-in step: it sets the session cookie (which
// replaces any the browser had) and tells whether the second factor is
// due.
func (s *Service) signedIn(w http.ResponseWriter, r *http.Request, in SignIn) map[string]any {
	age := time.Duration(0)
	if in.Pending {
		age = PendingTTL
	}
	api.SetSessionCookie(w, r, in.Secret, age)
	if in.Pending {
		return map[string]any{"second_factor": true}
	}
	return map[string]any{"second_factor": false, "user": in.Session.User, "org": in.Session.Org, "csrf": csrfToken(in.Secret)}
}

// withWriter makes a handler that sets cookies a Stream route answering
// JSON like a Handle route.
func (s *Service) withWriter(fn func(w http.ResponseWriter, r *http.Request, p api.Principal) (any, error)) func(http.ResponseWriter, *http.Request, api.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p api.Principal) error {
		v, err := fn(w, r, p)
		if err != nil {
			return err
		}
		api.WriteJSON(w, v)
		return nil
	}
}

type loginReq struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Service) login(w http.ResponseWriter, r *http.Request, _ api.Principal) (any, error) {
	var req loginReq
	if err := api.ReadJSON(r, &req, `body must be {"email": "…", "password": "…"}`); err != nil {
		return nil, err
	}
	in, err := s.Login(r.Context(), req.Email, req.Password, client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

func (s *Service) secondFactor(w http.ResponseWriter, r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Code string `json:"code"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"code": "123456"}`); err != nil {
		return nil, err
	}
	sec, ok := api.SessionSecret(r)
	if !ok {
		return nil, api.ErrUnauthenticated
	}
	in, err := s.SecondFactor(r.Context(), sec, req.Code, client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request, p api.Principal) (any, error) {
	if err := s.Logout(r.Context(), p, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	api.SetSessionCookie(w, r, "", -1)
	return map[string]any{"signed_out": true}, nil
}

func (s *Service) switchOrg(w http.ResponseWriter, r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Org string `json:"org"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"org": "<organisation id>"}`); err != nil {
		return nil, err
	}
	in, err := s.Switch(r.Context(), p, req.Org, client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

func (s *Service) lookupInvitation(r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token string `json:"token"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"token": "mli_…"}`); err != nil {
		return nil, err
	}
	l, err := s.peekLink(r.Context(), linkInvite, req.Token)
	if err != nil {
		s.metrics.refused.WithLabelValues(linkInvite).Inc()
		return nil, err
	}
	o, err := s.Org(r.Context(), l.Org)
	if err != nil {
		return nil, err
	}
	_, uerr := s.UserByEmail(r.Context(), l.Email)
	return map[string]any{"org": o.ID, "org_name": o.Name, "org_kind": o.Kind, "role": l.Role, "email": l.Email,
		"expires": l.Expires, "has_account": uerr == nil}, nil
}

func (s *Service) acceptInvitation(w http.ResponseWriter, r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"token": "mli_…", "name": "…", "password": "…"}`); err != nil {
		return nil, err
	}
	in, err := s.AcceptInvitation(r.Context(), req.Token, req.Name, req.Password, s.sessionOf(r), client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

// sessionOf returns the person signed in with r's session cookie, if the
// request carries it and passes the CSRF check.
func (s *Service) sessionOf(r *http.Request) *api.Principal {
	sec, ok := api.SessionSecret(r)
	if !ok {
		return nil
	}
	p, csrf, err := s.AuthenticateSession(r.Context(), sec)
	if err != nil || api.CheckCSRF(r, csrf) != nil {
		return nil
	}
	return &p
}

func (s *Service) reset(w http.ResponseWriter, r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"token": "mlr_…", "password": "…"}`); err != nil {
		return nil, err
	}
	in, err := s.Reset(r.Context(), req.Token, req.Password, client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

func (s *Service) useLink(w http.ResponseWriter, r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token string `json:"token"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"token": "mll_…"}`); err != nil {
		return nil, err
	}
	in, err := s.UseLoginLink(r.Context(), req.Token, client(r))
	if err != nil {
		return nil, err
	}
	return s.signedIn(w, r, in), nil
}

func (s *Service) providers(_ *http.Request, _ api.Principal) (any, error) {
	names := s.Providers()
	slices.Sort(names)
	if names == nil {
		names = []string{}
	}
	return map[string]any{"providers": names, "password": true}, nil
}

type orgJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Kind    OrgKind   `json:"kind"`
	Parent  string    `json:"parent,omitempty"`
	Created time.Time `json:"created"`
}

func toOrgJSON(o Org) orgJSON { return orgJSON(o) }

type membershipJSON struct {
	Org      string   `json:"org"`
	OrgName  string   `json:"org_name"`
	OrgKind  OrgKind  `json:"org_kind"`
	Role     api.Role `json:"role"`
	Delegate string   `json:"delegation,omitempty"` // acting by consent
}

func (s *Service) me(r *http.Request, p api.Principal) (any, error) {
	ctx := r.Context()
	u, err := s.User(ctx, p.User)
	if err != nil {
		return nil, err
	}
	ms, err := s.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgs := []membershipJSON{}
	for _, m := range ms {
		o, err := s.Org(ctx, m.Org)
		if err != nil {
			continue
		}
		orgs = append(orgs, membershipJSON{Org: o.ID, OrgName: o.Name, OrgKind: o.Kind, Role: m.Role})
	}
	_, received, err := s.Delegations(ctx, "", u.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, d := range received {
		if d.Revoked.IsZero() && now.Before(d.Expires) {
			if o, err := s.Org(ctx, d.Org); err == nil {
				orgs = append(orgs, membershipJSON{Org: o.ID, OrgName: o.Name, OrgKind: o.Kind, Role: d.Role, Delegate: d.ID})
			}
		}
	}
	sec, _ := api.SessionSecret(r)
	return map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "second_factor": u.TOTPEnabled, "has_password": u.Password != "",
		"identity_provider": u.OIDCIssuer != "", "created": u.Created, "last_login": u.LastLogin,
		"org": p.Org, "org_kind": p.OrgKind, "role": p.Role, "via": p.Via, "delegation": p.Delegation,
		"orgs": orgs, "session": p.Session, "csrf": csrfToken(sec),
		"idle_timeout_s": int(s.cfg.SessionIdle.Seconds()),
	}, nil
}

func (s *Service) patchMe(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"name": "…"}`); err != nil {
		return nil, err
	}
	if err := checkName(req.Name); err != nil || strings.TrimSpace(req.Name) == "" {
		return nil, api.BadRequest("name: 1 to 200 characters of text on one line")
	}
	if _, err := s.db.ExecContext(r.Context(), `UPDATE users SET name = $1 WHERE id = $2`, strings.TrimSpace(req.Name), p.User); err != nil {
		return nil, err
	}
	return s.me(r, p)
}

func (s *Service) changePassword(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"current": "…", "new": "…"}`); err != nil {
		return nil, err
	}
	if err := s.ChangePassword(r.Context(), p, req.Current, req.New, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"changed": true}, nil
}

func (s *Service) beginTOTP(r *http.Request, p api.Principal) (any, error) {
	sec, uri, err := s.BeginTOTP(r.Context(), p, "molen")
	if err != nil {
		return nil, err
	}
	qr, err := qrDataURL(uri)
	if err != nil {
		return nil, err
	}
	return map[string]any{"secret": sec, "uri": uri, "qr": qr}, nil
}

// qrDataURL is a QR code of uri as a PNG data URL (the web application's
// policy allows data: images), for an authenticator app's camera: 200
// pixels square, about 6 a module for an otpauth:// URI, in the page's
// memory only, like the secret.
func qrDataURL(uri string) (string, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", fmt.Errorf("second factor: %w", err)
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return "", fmt.Errorf("second factor: QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", fmt.Errorf("second factor: QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

func (s *Service) confirmTOTP(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Code string `json:"code"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"code": "123456"}`); err != nil {
		return nil, err
	}
	if err := s.ConfirmTOTP(r.Context(), p, req.Code, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"second_factor": true}, nil
}

func (s *Service) removeTOTP(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Password string `json:"password"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"password": "…"}`); err != nil {
		return nil, err
	}
	if err := s.RemoveTOTP(r.Context(), p, req.Password, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"second_factor": false}, nil
}

type sessionJSON struct {
	ID      string    `json:"id"`
	Org     string    `json:"org,omitempty"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
	Expires time.Time `json:"expires"`
	Addr    string    `json:"addr"`
	Agent   string    `json:"agent"`
	Current bool      `json:"current"`
}

func (s *Service) sessions(r *http.Request, p api.Principal) (any, error) {
	ss, err := s.Sessions(r.Context(), p.User)
	if err != nil {
		return nil, err
	}
	out := []sessionJSON{}
	for _, x := range ss {
		out = append(out, sessionJSON{ID: x.ID, Org: x.Org, Created: x.Created, Seen: x.Seen, Expires: x.Expires, Addr: x.Addr, Agent: x.Agent, Current: x.ID == p.Session})
	}
	return map[string]any{"sessions": out}, nil
}

func (s *Service) endSession(r *http.Request, p api.Principal) (any, error) {
	if err := s.EndSession(r.Context(), p, r.PathValue("session"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"ended": true}, nil
}

// listOrgs answers the caller's organisation and those below it: for a
// platform admin every organisation, for a hub its fieldlabs and
// companies.
func (s *Service) listOrgs(r *http.Request, p api.Principal) (any, error) {
	var orgs []Org
	var err error
	if p.OrgKind == string(Platform) && p.Role != api.RolePlatformAdmin || p.Via != "" {
		o, oerr := s.Org(r.Context(), p.Org)
		orgs, err = []Org{o}, oerr
	} else {
		orgs, err = s.Below(r.Context(), p.Org)
	}
	if err != nil {
		return nil, err
	}
	out := make([]orgJSON, len(orgs))
	for i, o := range orgs {
		out[i] = toOrgJSON(o)
	}
	return map[string]any{"orgs": out}, nil
}

// createOrg makes an organisation below the caller's: a platform admin
// makes hubs, providers, fieldlabs and companies anywhere below the
// platform; a hub's admins make fieldlabs and companies below their hub.
// With owner_email, an invitation for its first owner is answered (once).
func (s *Service) createOrg(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Kind       OrgKind `json:"kind"`
		Parent     string  `json:"parent"`
		OwnerEmail string  `json:"owner_email"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"id": "acme", "name": "ACME B.V.", "kind": "company", "parent": "<optional>", "owner_email": "<optional>"}`); err != nil {
		return nil, err
	}
	if !validSlug(req.ID) {
		return nil, api.BadRequest("id: 1 to 40 lowercase letters, digits and '-'")
	}
	if err := checkName(req.Name); err != nil || strings.TrimSpace(req.Name) == "" {
		return nil, api.BadRequest("name: 1 to 200 characters of text on one line")
	}
	if !req.Kind.Valid() || req.Kind == Platform {
		return nil, api.BadRequest("kind: want hub, fieldlab, company or provider")
	}
	ctx := r.Context()
	if req.Parent == "" {
		req.Parent = p.Org
	}
	switch {
	case p.Role == api.RolePlatformAdmin && p.OrgKind == string(Platform) && p.Via == "":
		below, err := s.Below(ctx, p.Org)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(below, func(o Org) bool { return o.ID == req.Parent }) {
			return nil, fmt.Errorf("parent %s: %w", req.Parent, meta.ErrNotFound)
		}
	case p.OrgKind == string(Hub) && p.Via == "":
		if req.Parent != p.Org || req.Kind != Company && req.Kind != Fieldlab {
			return nil, fmt.Errorf("%w: a hub makes companies and fieldlabs below itself", api.ErrForbidden)
		}
	default:
		return nil, fmt.Errorf("%w: only platform admins and the admins of a hub make organisations", api.ErrForbidden)
	}
	o := Org{ID: req.ID, Name: strings.TrimSpace(req.Name), Kind: req.Kind, Parent: req.Parent, Created: s.now()}
	if err := s.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	if _, err := s.audit.Record(ctx, audit.Entry{Org: p.Org, Actor: actorOf(p), Action: "org.created", Target: o.ID, Addr: api.ClientAddr(r),
		Detail: map[string]string{"kind": string(o.Kind), "parent": o.Parent}}); err != nil {
		return nil, err
	}
	out := map[string]any{"org": toOrgJSON(o)}
	if req.OwnerEmail != "" {
		email, err := normalEmail(req.OwnerEmail)
		if err != nil {
			return nil, err
		}
		l, sec, err := s.inviteTo(ctx, p, o.ID, email, api.RoleOwner, 0, api.ClientAddr(r))
		if err != nil {
			return nil, err
		}
		out["invitation"] = invitationJSON{ID: l.ID, Email: l.Email, Role: l.Role, Expires: l.Expires, Link: s.URL("invite", sec)}
	}
	return api.Created(out), nil
}

type memberJSON struct {
	User    string    `json:"user"`
	Name    string    `json:"name"`
	Email   string    `json:"email,omitempty"` // admins only
	Role    api.Role  `json:"role"`
	Since   time.Time `json:"since"`
	TwoStep bool      `json:"second_factor"`
}

func (s *Service) members(r *http.Request, p api.Principal) (any, error) {
	ms, err := s.Members(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	out := []memberJSON{}
	for _, m := range ms {
		u, err := s.User(r.Context(), m.User)
		if err != nil {
			continue
		}
		j := memberJSON{User: u.ID, Name: u.Name, Role: m.Role, Since: m.Created, TwoStep: u.TOTPEnabled}
		if p.Role.Rank() >= api.RoleAdmin.Rank() {
			j.Email = u.Email
		}
		out = append(out, j)
	}
	return map[string]any{"members": out}, nil
}

func (s *Service) setRole(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Role api.Role `json:"role"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"role": "viewer|engineer|admin|owner|…"}`); err != nil {
		return nil, err
	}
	if !req.Role.Valid() {
		return nil, api.BadRequest("role: %q: want one of %v", req.Role, api.MemberRoles)
	}
	if err := s.SetRole(r.Context(), p, r.PathValue("user"), req.Role, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"user": r.PathValue("user"), "role": req.Role}, nil
}

func (s *Service) removeMember(r *http.Request, p api.Principal) (any, error) {
	if err := s.RemoveMember(r.Context(), p, r.PathValue("user"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"removed": r.PathValue("user")}, nil
}

func (s *Service) resetLink(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		SecondFactor bool `json:"second_factor"`
	}
	if r.ContentLength != 0 {
		if err := api.ReadJSON(r, &req, `body must be {"second_factor": false} (true also removes the person's second factor)`); err != nil {
			return nil, err
		}
	}
	l, sec, err := s.ResetLink(r.Context(), p, r.PathValue("user"), req.SecondFactor, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"id": l.ID, "user": l.User, "expires": l.Expires, "link": s.URL("reset", sec)}), nil
}

type invitationJSON struct {
	ID      string    `json:"id"`
	Email   string    `json:"email"`
	Role    api.Role  `json:"role"`
	Created time.Time `json:"created,omitzero"`
	Expires time.Time `json:"expires"`
	Link    string    `json:"link,omitempty"` // only when made
}

func (s *Service) invitations(r *http.Request, p api.Principal) (any, error) {
	ls, err := s.Invitations(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	out := []invitationJSON{}
	for _, l := range ls {
		out = append(out, invitationJSON{ID: l.ID, Email: l.Email, Role: l.Role, Created: l.Created, Expires: l.Expires})
	}
	return map[string]any{"invitations": out}, nil
}

func (s *Service) invite(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Email string   `json:"email"`
		Role  api.Role `json:"role"`
		Days  int      `json:"days"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"email": "…", "role": "viewer", "days": 7}`); err != nil {
		return nil, err
	}
	if req.Days < 0 || req.Days > 30 {
		return nil, api.BadRequest("days: 1 to 30 (default 7)")
	}
	l, sec, err := s.Invite(r.Context(), p, req.Email, req.Role, time.Duration(req.Days)*24*time.Hour, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(invitationJSON{ID: l.ID, Email: l.Email, Role: l.Role, Created: l.Created, Expires: l.Expires, Link: s.URL("invite", sec)}), nil
}

func (s *Service) revokeInvitation(r *http.Request, p api.Principal) (any, error) {
	if err := s.RevokeInvitation(r.Context(), p, r.PathValue("invitation"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"revoked": r.PathValue("invitation")}, nil
}

type grantJSON struct {
	ID      string       `json:"id"`
	Org     string       `json:"org"`
	Grantee string       `json:"grantee"`
	Kind    api.DataKind `json:"kind"`
	Prefix  string       `json:"prefix"`
	Created time.Time    `json:"created"`
	Expires time.Time    `json:"expires"`
	Revoked *time.Time   `json:"revoked,omitempty"`
	Active  bool         `json:"active"`
}

func (s *Service) toGrantJSON(g GrantRecord) grantJSON {
	j := grantJSON{ID: g.ID, Org: g.Org, Grantee: g.Grantee, Kind: g.Kind, Prefix: g.Prefix, Created: g.Created, Expires: g.Expires, Active: g.Active(s.now())}
	if !g.Revoked.IsZero() {
		j.Revoked = &g.Revoked
	}
	return j
}

func (s *Service) listGrants(r *http.Request, p api.Principal) (any, error) {
	given, received, err := s.Grants(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	g, rc := []grantJSON{}, []grantJSON{}
	for _, x := range given {
		g = append(g, s.toGrantJSON(x))
	}
	for _, x := range received {
		rc = append(rc, s.toGrantJSON(x))
	}
	return map[string]any{"given": g, "received": rc}, nil
}

func (s *Service) createGrant(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Grantee string       `json:"grantee"`
		Kind    api.DataKind `json:"kind"`
		Prefix  string       `json:"prefix"`
		Expires string       `json:"expires"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"grantee": "<hub id>", "kind": "series|aggregates|kpi", "prefix": "site/area", "expires": "2027-06-30T00:00:00Z or 180d"}`); err != nil {
		return nil, err
	}
	expires, err := parseEnd(req.Expires, s.now())
	if err != nil {
		return nil, err
	}
	if p.Via != "" {
		return nil, fmt.Errorf("%w: an advisor acting for a company cannot grant its data", api.ErrForbidden)
	}
	g, err := s.Grant(r.Context(), p, req.Grantee, req.Kind, req.Prefix, expires, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(s.toGrantJSON(g)), nil
}

// parseEnd reads an end time: RFC 3339, or a period from now ("180d").
func parseEnd(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := store.ParsePeriod(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, api.BadRequest("expires: %q: want RFC 3339 or a period like 180d", s)
}

func (s *Service) revokeGrant(r *http.Request, p api.Principal) (any, error) {
	if p.Via != "" {
		return nil, fmt.Errorf("%w: an advisor acting for a company cannot change its grants", api.ErrForbidden)
	}
	if err := s.RevokeGrant(r.Context(), p, r.PathValue("grant"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"revoked": r.PathValue("grant")}, nil
}

type delegationJSON struct {
	ID      string     `json:"id"`
	Org     string     `json:"org"`
	Advisor string     `json:"advisor"`
	Via     string     `json:"via"`
	Role    api.Role   `json:"role"`
	Created time.Time  `json:"created"`
	Expires time.Time  `json:"expires"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Active  bool       `json:"active"`
}

func (s *Service) toDelegationJSON(d Delegation) delegationJSON {
	j := delegationJSON{ID: d.ID, Org: d.Org, Advisor: d.Advisor, Via: d.Via, Role: d.Role, Created: d.Created, Expires: d.Expires,
		Active: d.Revoked.IsZero() && s.now().Before(d.Expires)}
	if !d.Revoked.IsZero() {
		j.Revoked = &d.Revoked
	}
	return j
}

func (s *Service) listDelegations(r *http.Request, p api.Principal) (any, error) {
	given, received, err := s.Delegations(r.Context(), p.Org, p.User)
	if err != nil {
		return nil, err
	}
	g, rc := []delegationJSON{}, []delegationJSON{}
	for _, d := range given {
		g = append(g, s.toDelegationJSON(d))
	}
	for _, d := range received {
		rc = append(rc, s.toDelegationJSON(d))
	}
	return map[string]any{"given": g, "received": rc}, nil
}

func (s *Service) createDelegation(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Advisor string   `json:"advisor_email"`
		Role    api.Role `json:"role"`
		Hours   int      `json:"hours"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"advisor_email": "…", "role": "viewer|engineer", "hours": 72}`); err != nil {
		return nil, err
	}
	if p.Via != "" {
		return nil, fmt.Errorf("%w: an advisor acting for a company cannot give consent in its name", api.ErrForbidden)
	}
	d, err := s.Delegate(r.Context(), p, req.Advisor, req.Role, time.Duration(req.Hours)*time.Hour, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(s.toDelegationJSON(d)), nil
}

func (s *Service) revokeDelegation(r *http.Request, p api.Principal) (any, error) {
	if err := s.RevokeDelegation(r.Context(), p, r.PathValue("delegation"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"revoked": r.PathValue("delegation")}, nil
}
