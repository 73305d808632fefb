package auth

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uns"
)

// GrantRecord is read access one organisation gives another (see
// api.Grant), as stored.
type GrantRecord struct {
	api.Grant
	Grantee   string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	Revoked   time.Time
}

// Active reports whether g is in force at now.
func (g GrantRecord) Active(now time.Time) bool {
	return g.Revoked.IsZero() && now.Before(g.Expires)
}

// MaxGrant is the longest a grant may run; a company renews it.
const MaxGrant = 2 * 366 * 24 * time.Hour

const grantColumns = `id, org, grantee, kind, prefix, created_by, created, expires, revoked`

func scanGrant(sc interface{ Scan(...any) error }) (GrantRecord, error) {
	var g GrantRecord
	var kind string
	var created, expires, revoked int64
	if err := sc.Scan(&g.ID, &g.Org, &g.Grantee, &kind, &g.Prefix, &g.CreatedBy, &created, &expires, &revoked); err != nil {
		return GrantRecord{}, meta.Found(err)
	}
	g.Kind = api.DataKind(kind)
	g.Created, g.Expires, g.Revoked = meta.Time(created), meta.Time(expires), meta.Time(revoked)
	return g, nil
}

func (s *Service) grants(ctx context.Context, where string, args ...any) ([]GrantRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	defer rows.Close()
	var out []GrantRecord
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	slices.SortFunc(out, func(a, b GrantRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// activeGrants are the grants in force to org, as a Principal holds them.
func (s *Service) activeGrants(ctx context.Context, org string) ([]api.Grant, error) {
	gs, err := s.grants(ctx, `grantee = $1 AND revoked = 0 AND expires > $2`, org, meta.Nanos(s.now()))
	if err != nil {
		return nil, err
	}
	var out []api.Grant
	for _, g := range gs {
		out = append(out, g.Grant)
	}
	return out, nil
}

// Grants lists the grants org gave and those it received, in force or
// not.
func (s *Service) Grants(ctx context.Context, org string) (given, received []GrantRecord, err error) {
	if given, err = s.grants(ctx, `org = $1`, org); err != nil {
		return nil, nil, err
	}
	received, err = s.grants(ctx, `grantee = $1`, org)
	return given, received, err
}

// Grant lets grantee, an organisation above p's in the tree (its hub, a
// fieldlab or the hub's parent), read data of kind under prefix until
// expires. Any other grantee is meta.ErrNotFound, as for one that does
// not exist.
func (s *Service) Grant(ctx context.Context, p api.Principal, grantee string, kind api.DataKind, prefix string, expires time.Time, addr string) (GrantRecord, error) {
	if !kind.Valid() {
		return GrantRecord{}, api.BadRequest("kind: %q: want series, aggregates or kpi", kind)
	}
	if err := uns.ValidatePrefix(prefix); err != nil {
		return GrantRecord{}, api.BadRequest("prefix: %v", err)
	}
	now := s.now()
	if !expires.After(now) || expires.Sub(now) > MaxGrant {
		return GrantRecord{}, api.BadRequest("expires: must be in the future and within %d days", int(MaxGrant.Hours()/24))
	}
	above, err := s.Above(ctx, p.Org)
	if err != nil {
		return GrantRecord{}, err
	}
	if !slices.ContainsFunc(above, func(o Org) bool { return o.ID == grantee && o.Kind != Platform }) {
		return GrantRecord{}, fmt.Errorf("grantee %s: no such organisation above yours: %w", grantee, meta.ErrNotFound)
	}
	g := GrantRecord{Grant: api.Grant{ID: newID("grt_"), Org: p.Org, Kind: kind, Prefix: prefix}, Grantee: grantee,
		CreatedBy: actorOf(p), Created: now, Expires: expires}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			g.ID, g.Org, g.Grantee, string(g.Kind), g.Prefix, g.CreatedBy, meta.Nanos(g.Created), meta.Nanos(g.Expires)); err != nil {
			return fmt.Errorf("create grant: %w", err)
		}
		return s.record(ctx, tx, p, addr, "grant.created", g.ID, map[string]string{"grantee": grantee, "kind": string(kind), "prefix": prefix,
			"expires": expires.UTC().Format(time.RFC3339)})
	})
	if err != nil {
		return GrantRecord{}, err
	}
	return g, nil
}

// RevokeGrant ends a grant p's organisation gave, at once.
func (s *Service) RevokeGrant(ctx context.Context, p api.Principal, id, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := error(meta.ErrNotFound)
		if meta.Text(id) {
			err = meta.Changed(tx.ExecContext(ctx, `UPDATE grants SET revoked = $1 WHERE id = $2 AND org = $3 AND revoked = 0`, meta.Nanos(s.now()), id, p.Org))
		}
		if err != nil {
			return fmt.Errorf("grant %s: %w", id, err)
		}
		return s.record(ctx, tx, p, addr, "grant.revoked", id, nil)
	})
}

// Delegation is a company's consent that an advisor of a hub above it
// acts for it, with Role, until Expires.
type Delegation struct {
	ID        string
	Org       string // the company
	Advisor   string // the person's user ID
	Via       string // the advisor's hub
	Role      api.Role
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	Revoked   time.Time
}

// MaxDelegation is the longest a consent may run.
const MaxDelegation = 90 * 24 * time.Hour

const delegationColumns = `id, org, advisor, via, role, created_by, created, expires, revoked`

func scanDelegation(sc interface{ Scan(...any) error }) (Delegation, error) {
	var d Delegation
	var role string
	var created, expires, revoked int64
	if err := sc.Scan(&d.ID, &d.Org, &d.Advisor, &d.Via, &role, &d.CreatedBy, &created, &expires, &revoked); err != nil {
		return Delegation{}, meta.Found(err)
	}
	d.Role = api.Role(role)
	d.Created, d.Expires, d.Revoked = meta.Time(created), meta.Time(expires), meta.Time(revoked)
	return d, nil
}

// Delegate records p's organisation's consent that the advisor with email
// (an advisor of a hub above it) acts for it with role (viewer or
// engineer) for ttl. Anyone else is meta.ErrNotFound.
func (s *Service) Delegate(ctx context.Context, p api.Principal, email string, role api.Role, ttl time.Duration, addr string) (Delegation, error) {
	if role != api.RoleViewer && role != api.RoleEngineer {
		return Delegation{}, api.BadRequest("role: an advisor acts as viewer or engineer")
	}
	if ttl <= 0 || ttl > MaxDelegation {
		return Delegation{}, api.BadRequest("hours: 1 to %d", int(MaxDelegation.Hours()))
	}
	u, err := s.UserByEmail(ctx, email)
	if errors.Is(err, meta.ErrNotFound) {
		return Delegation{}, fmt.Errorf("advisor: %w", meta.ErrNotFound)
	}
	if err != nil {
		return Delegation{}, err
	}
	above, err := s.Above(ctx, p.Org)
	if err != nil {
		return Delegation{}, err
	}
	via := ""
	for _, o := range above {
		if r, err := s.membership(ctx, u.ID, o.ID); err == nil && o.Kind == Hub && r == api.RoleAdvisor {
			via = o.ID
			break
		}
	}
	if via == "" {
		return Delegation{}, fmt.Errorf("advisor: not an advisor of a hub above this organisation: %w", meta.ErrNotFound)
	}
	now := s.now()
	d := Delegation{ID: newID("dlg_"), Org: p.Org, Advisor: u.ID, Via: via, Role: role, CreatedBy: actorOf(p), Created: now, Expires: now.Add(ttl)}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delegations (`+delegationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			d.ID, d.Org, d.Advisor, d.Via, string(d.Role), d.CreatedBy, meta.Nanos(d.Created), meta.Nanos(d.Expires)); err != nil {
			return fmt.Errorf("create delegation: %w", err)
		}
		return s.record(ctx, tx, p, addr, "delegation.created", d.ID, map[string]string{"advisor": u.ID, "via": via, "role": string(role),
			"expires": d.Expires.Format(time.RFC3339)})
	})
	if err != nil {
		return Delegation{}, err
	}
	return d, nil
}

func (s *Service) delegations(ctx context.Context, where string, args ...any) ([]Delegation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+delegationColumns+` FROM delegations WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("delegations: %w", err)
	}
	defer rows.Close()
	var out []Delegation
	for rows.Next() {
		d, err := scanDelegation(rows)
		if err != nil {
			return nil, fmt.Errorf("delegations: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delegations: %w", err)
	}
	slices.SortFunc(out, func(a, b Delegation) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Delegations lists the consents org gave, and those given to user.
func (s *Service) Delegations(ctx context.Context, org, user string) (given, received []Delegation, err error) {
	if given, err = s.delegations(ctx, `org = $1`, org); err != nil {
		return nil, nil, err
	}
	if user != "" {
		received, err = s.delegations(ctx, `advisor = $1`, user)
	}
	return given, received, err
}

// activeDelegation returns delegation id if it is in force for advisor
// in org, and the advisor is still an advisor of its hub.
func (s *Service) activeDelegation(ctx context.Context, id, advisor, org string) (Delegation, error) {
	d, err := scanDelegation(s.db.QueryRowContext(ctx, `SELECT `+delegationColumns+` FROM delegations
		WHERE id = $1 AND advisor = $2 AND org = $3 AND revoked = 0 AND expires > $4`, id, advisor, org, meta.Nanos(s.now())))
	if err != nil {
		return Delegation{}, err
	}
	if r, err := s.membership(ctx, advisor, d.Via); err != nil || r != api.RoleAdvisor {
		return Delegation{}, meta.ErrNotFound
	}
	return d, nil
}

// delegationFor returns a delegation in force to advisor for org.
func (s *Service) delegationFor(ctx context.Context, advisor, org string) (Delegation, error) {
	ds, err := s.delegations(ctx, `advisor = $1 AND org = $2 AND revoked = 0 AND expires > $3`, advisor, org, meta.Nanos(s.now()))
	if err != nil {
		return Delegation{}, err
	}
	for _, d := range ds {
		if d, err := s.activeDelegation(ctx, d.ID, advisor, org); err == nil {
			return d, nil
		}
	}
	return Delegation{}, meta.ErrNotFound
}

// RevokeDelegation ends a consent: by the company that gave it (an admin
// of it), or by the advisor it was given to. Its sessions end with it.
func (s *Service) RevokeDelegation(ctx context.Context, p api.Principal, id, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		d, err := scanDelegation(tx.QueryRowContext(ctx, `SELECT `+delegationColumns+` FROM delegations WHERE id = $1 AND revoked = 0`, id))
		if err != nil || !(d.Org == p.Org && p.Role.Rank() >= api.RoleAdmin.Rank() && p.Via == "" || p.User != "" && d.Advisor == p.User) {
			return fmt.Errorf("delegation %s: %w", id, meta.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE delegations SET revoked = $1 WHERE id = $2`, meta.Nanos(s.now()), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE delegation = $1`, id); err != nil {
			return err
		}
		q := p
		q.Org, q.Via = d.Org, ""
		if p.User != "" && p.User == d.Advisor {
			q.Via = d.Via
		}
		return s.record(ctx, tx, q, addr, "delegation.revoked", id, nil)
	})
}
