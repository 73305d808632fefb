package auth

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/store"
)

// MaxTokenLife is the longest an API token may be made for.
const MaxTokenLife = 2 * 366 * 24 * time.Hour

// IssueToken makes an API token in p's organisation and returns it with
// its secret, shown once. A person's token acts with their role there
// (looked up at each use) within scopes; a service account's token
// (service) has role, which only an admin gives, never above their own.
// Scopes never exceed what the maker's role allows.
func (s *Service) IssueToken(ctx context.Context, p api.Principal, name, scopes string, service bool, role api.Role, life time.Duration, addr string) (Token, string, error) {
	if strings.TrimSpace(name) == "" || len(name) > 100 || !meta.Text(name) {
		return Token{}, "", api.BadRequest("name: 1 to 100 characters")
	}
	if err := api.ValidScopes(scopes); err != nil {
		return Token{}, "", err
	}
	scopes = strings.Join(strings.Fields(scopes), " ")
	if p.Via != "" {
		return Token{}, "", fmt.Errorf("%w: an advisor acting for a company makes no tokens in its name", api.ErrForbidden)
	}
	t := Token{Org: p.Org, Name: strings.TrimSpace(name), Scopes: scopes, Created: s.now(), CreatedBy: actorOf(p)}
	limit := api.RoleLevel(p.Role)
	if service {
		if p.Role.Rank() < api.RoleAdmin.Rank() {
			return Token{}, "", fmt.Errorf("%w: only admins make service account tokens", api.ErrForbidden)
		}
		if !role.Valid() || role.Rank() > p.Role.Rank() || role == api.RoleOwner || role == api.RolePlatformAdmin {
			return Token{}, "", api.BadRequest("role: a service account gets viewer, engineer or admin, not above your own")
		}
		if err := s.checkRoleFits(ctx, s.db, p.Org, role); err != nil {
			return Token{}, "", err
		}
		t.Role, limit = role, min(limit, api.RoleLevel(role))
	} else {
		if p.User == "" {
			return Token{}, "", fmt.Errorf("%w: a service account's token makes only service account tokens", api.ErrForbidden)
		}
		t.User, t.Role = p.User, ""
	}
	if p.Token != "" {
		limit = min(limit, maxScope(p.Scopes))
	}
	if maxScope(scopes) > limit {
		return Token{}, "", fmt.Errorf("%w: scopes above %s are beyond what you may give", api.ErrForbidden, limit)
	}
	if life <= 0 || life > MaxTokenLife {
		return Token{}, "", api.BadRequest("expires: 1 day to %d days", int(MaxTokenLife.Hours()/24))
	}
	t.Expires = t.Created.Add(life)
	sec := secret.New(secret.PrefixToken)
	t.Hash = secret.Hash(sec)
	t.ID = newID("tok_")
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := createToken(ctx, tx, t); err != nil {
			return err
		}
		return s.record(ctx, tx, p, addr, "token.created", t.ID, map[string]string{"name": t.Name, "scopes": t.Scopes,
			"service": fmt.Sprint(service), "role": string(t.Role), "expires": t.Expires.Format(time.RFC3339)})
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return t, sec, nil
}

// maxScope is the highest level any of scopes gives, in any area.
func maxScope(scopes string) api.Level {
	var best api.Level
	for _, w := range strings.Fields(scopes) {
		_, lvl, ok := strings.Cut(w, ":")
		if !ok {
			lvl = w
		}
		switch lvl {
		case "read":
			best = max(best, api.LevelRead)
		case "write":
			best = max(best, api.LevelWrite)
		case "admin":
			best = max(best, api.LevelAdmin)
		}
	}
	return best
}

// Tokens lists org's tokens (of user alone, unless user is ""), newest
// first.
func (s *Service) Tokens(ctx context.Context, org, user string) ([]Token, error) {
	q, args := `SELECT `+tokenColumns+` FROM api_tokens WHERE org = $1`, []any{org}
	if user != "" {
		q, args = q+` AND user_id = $2`, append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("tokens of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("tokens of %s: %w", org, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token of p's organisation: any, for an admin; a
// person's own, for anyone. Anything else is meta.ErrNotFound.
func (s *Service) RevokeToken(ctx context.Context, p api.Principal, id, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		q, args := `UPDATE api_tokens SET revoked = $1 WHERE id = $2 AND org = $3 AND revoked = 0`, []any{meta.Nanos(s.now()), id, p.Org}
		if p.Role.Rank() < api.RoleAdmin.Rank() || p.Via != "" {
			q, args = q+` AND user_id = $4 AND user_id <> ''`, append(args, p.User)
		}
		err := error(meta.ErrNotFound)
		if meta.Text(id) {
			err = meta.Changed(tx.ExecContext(ctx, q, args...))
		}
		if err != nil {
			return fmt.Errorf("token %s: %w", id, err)
		}
		return s.record(ctx, tx, p, addr, "token.revoked", id, nil)
	})
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	User      string     `json:"user,omitempty"`
	Role      api.Role   `json:"role,omitempty"` // a service account's
	Scopes    string     `json:"scopes"`
	Created   time.Time  `json:"created"`
	Expires   *time.Time `json:"expires,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	Active    bool       `json:"active"`
	Secret    string     `json:"token,omitempty"` // only when made
	CreatedBy string     `json:"created_by,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Service) toTokenJSON(t Token) tokenJSON {
	j := tokenJSON{ID: t.ID, Name: t.Name, User: t.User, Scopes: t.Scopes, Created: t.Created, Expires: optTime(t.Expires),
		LastUsed: optTime(t.LastUsed), Revoked: optTime(t.Revoked), CreatedBy: t.CreatedBy}
	if t.User == "" {
		j.Role = t.Role
	}
	now := s.now()
	j.Active = t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
	return j
}

func (s *Service) tokens(r *http.Request, p api.Principal) (any, error) {
	user := p.User
	if p.Role.Rank() >= api.RoleAdmin.Rank() && p.Via == "" {
		user = ""
	} else if user == "" {
		return map[string]any{"tokens": []tokenJSON{}}, nil
	}
	ts, err := s.Tokens(r.Context(), p.Org, user)
	if err != nil {
		return nil, err
	}
	out := []tokenJSON{}
	for _, t := range ts {
		out = append(out, s.toTokenJSON(t))
	}
	return map[string]any{"tokens": out}, nil
}

func (s *Service) createToken(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Name    string   `json:"name"`
		Scopes  string   `json:"scopes"`
		Service bool     `json:"service_account"`
		Role    api.Role `json:"role"`
		Expires string   `json:"expires"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"name": "…", "scopes": "read", "expires": "90d", "service_account": false, "role": "<service account's role>"}`); err != nil {
		return nil, err
	}
	if req.Expires == "" {
		req.Expires = "90d"
	}
	life, err := store.ParsePeriod(req.Expires)
	if err != nil || life <= 0 {
		return nil, api.BadRequest("expires: %q: want a period like 90d", req.Expires)
	}
	t, sec, err := s.IssueToken(r.Context(), p, req.Name, req.Scopes, req.Service, req.Role, life, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	j := s.toTokenJSON(t)
	j.Secret = sec
	return api.Created(j), nil
}

func (s *Service) revokeToken(r *http.Request, p api.Principal) (any, error) {
	if err := s.RevokeToken(r.Context(), p, r.PathValue("token"), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"revoked": r.PathValue("token")}, nil
}
