package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

// OIDCProvider is an OpenID Connect identity provider people may sign in
// with (Entra ID, Keycloak, …): the hub is a confidential client using the
// authorization code flow with PKCE.
type OIDCProvider struct {
	// Name is the provider's name in the hub's URLs
	// (/api/v1/auth/oidc/<name>/start): lowercase letters, digits, '-'.
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback registered at the provider; default
	// <public URL>/api/v1/auth/oidc/<name>/callback.
	RedirectURL string
	// Org and Role: a person the hub does not know yet becomes a member of
	// Org with Role at their first sign-in. Without Org only known people
	// sign in: those who signed in through this provider before, and
	// those whose verified email address is a person's here.
	Org  string
	Role api.Role
}

type oidcProvider struct {
	cfg OIDCProvider

	mu       sync.Mutex // guards the fields below, set on first use
	prov     *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
}

func newOIDC(ps []OIDCProvider) (map[string]*oidcProvider, error) {
	out := make(map[string]*oidcProvider, len(ps))
	for i, p := range ps {
		if !validSlug(p.Name) {
			return nil, fmt.Errorf("oidc[%d].name: %q: want lowercase letters, digits and '-'", i, p.Name)
		}
		if p.Issuer == "" || p.ClientID == "" {
			return nil, fmt.Errorf("oidc[%d] (%s): issuer and client id are required", i, p.Name)
		}
		if p.Org != "" && p.Role == "" {
			p.Role = api.RoleViewer
		}
		if _, dup := out[p.Name]; dup {
			return nil, fmt.Errorf("oidc[%d]: a second provider named %q", i, p.Name)
		}
		out[p.Name] = &oidcProvider{cfg: p}
	}
	return out, nil
}

func validSlug(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// setup discovers the provider's endpoints and keys on first use, so a
// provider that is down at start does not stop the hub.
func (p *oidcProvider) setup(ctx context.Context, redirect string) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	// The provider's keys are fetched later with this context: it must
	// outlive the request.
	prov, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), http.DefaultClient), p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: identity provider %s: %v", api.ErrUnavailable, p.cfg.Name, err)
	}
	if p.cfg.RedirectURL != "" {
		redirect = p.cfg.RedirectURL
	}
	p.oauth = &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	p.prov = prov
	return p.oauth, p.verifier, nil
}

// oidcCookie carries the flow's state, nonce and PKCE verifier from the
// start to the callback; it lives ten minutes and only on the callback's
// path.
const oidcCookie = "molen_oidc"

func (s *Service) provider(r *http.Request) (*oidcProvider, *oauth2.Config, *oidc.IDTokenVerifier, error) {
	name := r.PathValue("provider")
	p, ok := s.oidc[name]
	if !ok {
		return nil, nil, nil, fmt.Errorf("identity provider %q: %w", name, meta.ErrNotFound)
	}
	base := ""
	if s.cfg.PublicURL != nil {
		base = strings.TrimSuffix(s.cfg.PublicURL(), "/")
	}
	oc, v, err := p.setup(r.Context(), base+"/api/v1/auth/oidc/"+name+"/callback")
	return p, oc, v, err
}

// oidcStart sends the browser to the identity provider.
func (s *Service) oidcStart(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	_, oc, _, err := s.provider(r)
	if err != nil {
		return err
	}
	state, nonce, verifier := secret.New(""), secret.New(""), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state + "." + nonce + "." + verifier,
		Path: "/api/v1/auth/oidc/", MaxAge: 600, HttpOnly: true, Secure: api.Secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

var errOIDC = fmt.Errorf("%w: the sign-in through the identity provider failed or expired: start again", api.ErrUnauthenticated)

// oidcCallback completes the flow: the code is exchanged (with the PKCE
// verifier), the ID token verified (signature, issuer, audience, expiry,
// nonce), the person found or made, and a session started.
func (s *Service) oidcCallback(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	p, oc, verifier, err := s.provider(r)
	if err != nil {
		return err
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return errOIDC
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/api/v1/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: api.Secure(r), SameSite: http.SameSiteLaxMode})
	parts := strings.Split(c.Value, ".")
	q := r.URL.Query()
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 || q.Get("code") == "" {
		return errOIDC
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		s.log.Warn("identity provider refused the code", "provider", p.cfg.Name, "err", err)
		return errOIDC
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		s.log.Warn("identity provider's ID token refused", "provider", p.cfg.Name, "err", err)
		return errOIDC
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return errOIDC
	}
	if claims.Email == "" {
		// Providers that keep the profile out of the ID token answer it at
		// their userinfo endpoint, for the same subject.
		info, err := p.prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject {
			s.log.Warn("identity provider's userinfo refused", "provider", p.cfg.Name, "err", err)
			return errOIDC
		}
		claims.Email, claims.EmailVerified = info.Email, info.EmailVerified
		var extra struct {
			Name string `json:"name"`
		}
		if info.Claims(&extra) == nil {
			claims.Name = extra.Name
		}
	}
	u, err := s.oidcUser(r.Context(), p.cfg, idt.Issuer, idt.Subject, claims.Email, claims.EmailVerified, claims.Name)
	if err != nil {
		return err
	}
	in, err := s.startSession(r.Context(), u, "", "", false, client(r), "login.oidc")
	if err != nil {
		return err
	}
	api.SetSessionCookie(w, r, in.Secret, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// oidcUser finds the person of an identity provider's subject: by the
// subject, or by a verified email address (linking the two), or makes
// them a member of the provider's organisation.
func (s *Service) oidcUser(ctx context.Context, p OIDCProvider, issuer, subject, email string, verified bool, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2`, issuer, subject))
	if err == nil || !errors.Is(err, meta.ErrNotFound) {
		return u, err
	}
	refused := fmt.Errorf("%w: this hub does not know you: ask an admin of your organisation for an invitation", api.ErrForbidden)
	if !verified || email == "" {
		return User{}, refused
	}
	if u, err = s.UserByEmail(ctx, email); err == nil {
		if u.OIDCSubject != "" {
			return User{}, refused
		}
		_, err = s.db.ExecContext(ctx, `UPDATE users SET oidc_issuer = $1, oidc_subject = $2 WHERE id = $3`, issuer, subject, u.ID)
		u.OIDCIssuer, u.OIDCSubject = issuer, subject
		return u, err
	}
	if !errors.Is(err, meta.ErrNotFound) || p.Org == "" {
		return User{}, refused
	}
	email, err = normalEmail(email)
	if err != nil {
		return User{}, refused
	}
	if name == "" || checkName(name) != nil {
		name = email
	}
	now := s.now()
	u = User{Email: email, Name: name, OIDCIssuer: issuer, OIDCSubject: subject, Created: now}
	if err := createUser(ctx, s.db, &u); err != nil {
		return User{}, err
	}
	if err := s.AddMember(ctx, u.ID, p.Org, p.Role); err != nil {
		return User{}, err
	}
	if _, err := s.audit.Record(ctx, auditEntry(p.Org, u.ID, "member.added", u.ID, map[string]string{"role": string(p.Role), "provider": p.Name})); err != nil {
		return User{}, err
	}
	return u, nil
}

// Providers lists the names of the identity providers, for the sign-in
// page.
func (s *Service) Providers() []string {
	var out []string
	for n := range s.oidc {
		out = append(out, n)
	}
	return out
}
