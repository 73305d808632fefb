package auth

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
)

// Export is everything the hub keeps about a person, for their own copy
// (GDPR art. 15 and 20): profile, memberships, sessions, tokens (without
// secrets), consents given to them, and what the audit logs record of
// their doing.
func (s *Service) Export(ctx context.Context, user string) (map[string]any, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return nil, err
	}
	ms, err := s.Memberships(ctx, user)
	if err != nil {
		return nil, err
	}
	ss, err := s.Sessions(ctx, user)
	if err != nil {
		return nil, err
	}
	var tokens []tokenJSON
	for _, m := range ms {
		ts, err := s.Tokens(ctx, m.Org, user)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			tokens = append(tokens, s.toTokenJSON(t))
		}
	}
	_, ds, err := s.Delegations(ctx, "", user)
	if err != nil {
		return nil, err
	}
	entries, err := s.audit.ByActor(ctx, user, 100_000)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"profile": map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "created": u.Created, "last_login": u.LastLogin,
			"password_changed": u.PasswordChanged, "second_factor": u.TOTPEnabled, "identity_provider": u.OIDCIssuer},
		"memberships": ms, "sessions": ss, "tokens": tokens, "delegations": ds, "audit": entries,
	}, nil
}

// Erase removes a person (GDPR art. 17): their profile, memberships,
// sessions, tokens, open links and consents given to them. The audit logs
// keep their user ID as a pseudonym (the entries are a chain that must
// not change) and record the erasure. The last owner of an organisation
// is not erased: another owner comes first.
func (s *Service) Erase(ctx context.Context, user, by, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var owned int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships m WHERE m.user_id = $1 AND m.role = $2
			AND (SELECT count(*) FROM memberships o WHERE o.org = m.org AND o.role = $2) = 1`, user, string(api.RoleOwner)).Scan(&owned); err != nil {
			return err
		}
		if owned > 0 {
			return errLastOwner
		}
		var email string
		if err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`, user).Scan(&email); err != nil {
			return fmt.Errorf("user %s: %w", user, err)
		}
		for _, q := range []string{
			`DELETE FROM memberships WHERE user_id = $1`,
			`DELETE FROM sessions WHERE user_id = $1`,
			`DELETE FROM api_tokens WHERE user_id = $1`,
			`DELETE FROM links WHERE user_id = $1`,
			`DELETE FROM delegations WHERE advisor = $1`,
			`DELETE FROM users WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, user); err != nil {
				return fmt.Errorf("erase %s: %w", user, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE email = $1`, email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE name_hash = $1`, nameHash(email)); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: by, Action: "user.erased", Target: user, Addr: addr})
		return err
	})
}

func (s *Service) exportMe(r *http.Request, p api.Principal) (any, error) {
	return s.Export(r.Context(), p.User)
}

func (s *Service) eraseMe(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Password string `json:"password"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"password": "…"} (a person without a password: a platform admin erases them)`); err != nil {
		return nil, err
	}
	u, err := s.User(r.Context(), p.User)
	if err != nil {
		return nil, err
	}
	if err := s.confirm(r.Context(), u, req.Password); err != nil {
		return nil, err
	}
	if err := s.Erase(r.Context(), p.User, p.User, api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"erased": p.User}, nil
}

// eraseUser erases a person at a platform admin's request (one who cannot
// sign in any more, say); an unknown person is meta.ErrNotFound.
func (s *Service) eraseUser(r *http.Request, p api.Principal) (any, error) {
	id := r.PathValue("user")
	if _, err := s.User(r.Context(), id); err != nil {
		return nil, err
	}
	if err := s.Erase(r.Context(), id, actorOf(p), api.ClientAddr(r)); err != nil {
		return nil, err
	}
	return map[string]any{"erased": id}, nil
}
