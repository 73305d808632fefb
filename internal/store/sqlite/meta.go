package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/store"
)

// exec runs one writing statement on w; alone, it is its own transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.lockWriter(ctx); err != nil {
		return nil, err
	}
	defer s.unlockWriter()
	return s.w.ExecContext(ctx, query, args...)
}

// exists maps "nothing inserted" (ON CONFLICT DO NOTHING) to ErrExists.
func exists(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrExists
	}
	return nil
}

// CreateOrg implements store.Meta.
func (s *Store) CreateOrg(ctx context.Context, o store.Org) error {
	if o.ID == "" {
		return errors.New("create organisation: empty id")
	}
	err := exists(s.exec(ctx, `INSERT INTO orgs (id, name, kind, created) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, o.ID, o.Name, string(o.Kind), nanos(o.Created)))
	if err != nil {
		return fmt.Errorf("create organisation %s: %w", o.ID, err)
	}
	return nil
}

// Org implements store.Meta.
func (s *Store) Org(ctx context.Context, id string) (store.Org, error) {
	o := store.Org{ID: id}
	var kind string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT name, kind, created FROM orgs WHERE id = ?`, id).Scan(&o.Name, &kind, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Org{}, fmt.Errorf("organisation %s: %w", id, err)
	}
	o.Kind, o.Created = store.OrgKind(kind), fromNanos(created)
	return o, nil
}

// Orgs implements store.Meta.
func (s *Store) Orgs(ctx context.Context) ([]store.Org, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, kind, created FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	defer rows.Close()
	var out []store.Org
	for rows.Next() {
		var o store.Org
		var kind string
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &kind, &created); err != nil {
			return nil, fmt.Errorf("organisations: %w", err)
		}
		o.Kind, o.Created = store.OrgKind(kind), fromNanos(created)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	return out, nil
}

// SetRetention implements store.Meta. The upsert selects the organisation,
// so an unknown one inserts nothing.
func (s *Store) SetRetention(ctx context.Context, org string, r store.Retention) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("set retention of %s: %w", org, err)
	}
	res, err := s.exec(ctx, `INSERT INTO retention (org, raw, minute, hour) SELECT id, ?, ?, ? FROM orgs WHERE id = ?
		ON CONFLICT (org) DO UPDATE SET raw = excluded.raw, minute = excluded.minute, hour = excluded.hour`,
		int64(r.Raw), int64(r.Minute), int64(r.Hour), org)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("set retention of %s: %w", org, err)
	}
	return nil
}

// ClearRetention implements store.Meta.
func (s *Store) ClearRetention(ctx context.Context, org string) error {
	if _, err := s.exec(ctx, `DELETE FROM retention WHERE org = ?`, org); err != nil {
		return fmt.Errorf("clear retention of %s: %w", org, err)
	}
	return nil
}

// Retention implements store.Meta.
func (s *Store) Retention(ctx context.Context, org string) (store.Retention, error) {
	var raw, minute, hour int64
	err := s.r.QueryRowContext(ctx, `SELECT raw, minute, hour FROM retention WHERE org = ?`, org).Scan(&raw, &minute, &hour)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Retention{}, fmt.Errorf("retention of %s: %w", org, err)
	}
	return store.Retention{Raw: time.Duration(raw), Minute: time.Duration(minute), Hour: time.Duration(hour)}, nil
}

// CreateToken implements store.Meta.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.Hash == "" || t.Org == "" {
		return errors.New("create token: empty hash or organisation")
	}
	err := exists(s.exec(ctx, `INSERT INTO tokens (hash, org, role, name, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, t.Hash, t.Org, string(t.Role), t.Name, nanos(t.Created)))
	if err != nil {
		return fmt.Errorf("create token %q of %s: %w", t.Name, t.Org, err)
	}
	return nil
}

// TokenByHash implements store.Meta.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t := store.Token{Hash: hash}
	var role string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT org, role, name, created FROM tokens WHERE hash = ?`, hash).
		Scan(&t.Org, &role, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		// The hash stays out of the message: it identifies a credential.
		return store.Token{}, fmt.Errorf("token by hash: %w", err)
	}
	t.Role, t.Created = store.Role(role), fromNanos(created)
	return t, nil
}

// CreateEdge implements store.Meta. ErrExists also when its enrollment or
// credential hash is taken by another edge.
func (s *Store) CreateEdge(ctx context.Context, e store.Edge) error {
	if e.ID == "" || e.Org == "" {
		return errors.New("create edge: empty id or organisation")
	}
	err := exists(s.exec(ctx, `INSERT INTO edges
		(id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		e.ID, e.Org, e.Name, e.EnrollHash, nanos(e.EnrollExpires), e.CredHash, e.Revoked, nanos(e.Created), nanos(e.Enrolled)))
	if err != nil {
		return fmt.Errorf("create edge %s of %s: %w", e.ID, e.Org, err)
	}
	return nil
}

const edgeColumns = `id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled`

type scanner interface{ Scan(dest ...any) error }

func scanEdge(sc scanner) (store.Edge, error) {
	var e store.Edge
	var expires, created, enrolled int64
	err := sc.Scan(&e.ID, &e.Org, &e.Name, &e.EnrollHash, &expires, &e.CredHash, &e.Revoked, &created, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Edge{}, err
	}
	e.EnrollExpires, e.Created, e.Enrolled = fromNanos(expires), fromNanos(created), fromNanos(enrolled)
	return e, nil
}

// Edge implements store.Meta.
func (s *Store) Edge(ctx context.Context, org, id string) (store.Edge, error) {
	e, err := scanEdge(s.r.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE org = ? AND id = ?`, org, id))
	if err != nil {
		return store.Edge{}, fmt.Errorf("edge %s of %s: %w", id, org, err)
	}
	return e, nil
}

// Edges implements store.Meta.
func (s *Store) Edges(ctx context.Context, org string) ([]store.Edge, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE org = ? ORDER BY id`, org)
	if err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	defer rows.Close()
	var out []store.Edge
	for rows.Next() {
		e, err := scanEdge(rows)
		if err != nil {
			return nil, fmt.Errorf("edges of %s: %w", org, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	return out, nil
}

// Enroll implements store.Meta. The check and the update are one UPDATE
// statement, which SQLite runs atomically, so two concurrent enrollments
// with the same token cannot both succeed.
func (s *Store) Enroll(ctx context.Context, enrollHash, credHash string, now time.Time) (store.Edge, error) {
	if enrollHash == "" || credHash == "" {
		return store.Edge{}, fmt.Errorf("enroll: %w", store.ErrNotFound)
	}
	if err := s.lockWriter(ctx); err != nil {
		return store.Edge{}, fmt.Errorf("enroll: %w", err)
	}
	defer s.unlockWriter()
	e, err := scanEdge(s.w.QueryRowContext(ctx, `UPDATE edges
		SET cred_hash = ?1, enroll_hash = '', enrolled = ?2
		WHERE enroll_hash = ?3 AND enroll_hash <> '' AND NOT revoked AND enroll_expires > ?2
		RETURNING `+edgeColumns, credHash, nanos(now), enrollHash))
	if err != nil {
		if isConstraint(err) {
			err = store.ErrExists // the credential hash belongs to another edge
		}
		return store.Edge{}, fmt.Errorf("enroll: %w", err)
	}
	return e, nil
}

// EdgeByCredential implements store.Meta.
func (s *Store) EdgeByCredential(ctx context.Context, credHash string) (store.Edge, error) {
	if credHash == "" {
		return store.Edge{}, fmt.Errorf("edge by credential: %w", store.ErrNotFound)
	}
	e, err := scanEdge(s.r.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE cred_hash = ?`, credHash))
	if err != nil {
		return store.Edge{}, fmt.Errorf("edge by credential: %w", err)
	}
	return e, nil
}

// RevokeEdge implements store.Meta.
func (s *Store) RevokeEdge(ctx context.Context, org, id string) error {
	res, err := s.exec(ctx, `UPDATE edges SET revoked = 1 WHERE org = ? AND id = ?`, org, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("revoke edge %s of %s: %w", id, org, err)
	}
	return nil
}
