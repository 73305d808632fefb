package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
)

// execWrite runs one writing statement in a durable transaction and
// returns the rows it affected.
func (s *Store) execWrite(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// checkStorable fails, wrapping store.ErrInvalid, for text PostgreSQL
// cannot hold (see storable).
func checkStorable(fields ...string) error {
	for _, f := range fields {
		if !store.Text(f) {
			return fmt.Errorf("%w: %q holds a NUL byte or invalid UTF-8", store.ErrInvalid, f)
		}
	}
	return nil
}

// inserted maps "nothing inserted" (ON CONFLICT DO NOTHING) to ErrExists.
func inserted(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrExists
	}
	return err
}

var (
	sqlCreateOrg   = sqlText(`INSERT INTO {s}.orgs (id, name, kind, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`)
	sqlOrg         = sqlText(`SELECT name, kind, created FROM {s}.orgs WHERE id = $1`)
	sqlCreateToken = sqlText(`INSERT INTO {s}.tokens (hash, org, role, name, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`)
	sqlToken       = sqlText(`SELECT org, role, name, created FROM {s}.tokens WHERE hash = $1`)
	// ON CONFLICT without a target covers the id and the unique
	// enrollment and credential hashes alike.
	sqlCreateEdge = sqlText(`INSERT INTO {s}.edges
		(id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`)
	sqlEdge   = sqlText(`SELECT ` + edgeColumns + ` FROM {s}.edges WHERE org = $1 AND id = $2`)
	sqlEdges  = sqlText(`SELECT ` + edgeColumns + ` FROM {s}.edges WHERE org = $1 ORDER BY id`)
	sqlEnroll = sqlText(`UPDATE {s}.edges SET cred_hash = $1, enroll_hash = '', enrolled = $2
		WHERE enroll_hash = $3 AND enroll_hash <> '' AND NOT revoked AND enroll_expires > $2
		RETURNING ` + edgeColumns)
	sqlEdgeByCred = sqlText(`SELECT ` + edgeColumns + ` FROM {s}.edges WHERE cred_hash = $1`)
	sqlRevokeEdge = sqlText(`UPDATE {s}.edges SET revoked = true WHERE org = $1 AND id = $2`)
)

// CreateOrg implements store.Meta.
func (s *Store) CreateOrg(ctx context.Context, o store.Org) error {
	if o.ID == "" {
		return errors.New("create organisation: empty id")
	}
	err := checkStorable(o.ID, o.Name, string(o.Kind))
	if err == nil {
		err = inserted(s.execWrite(ctx, s.sql(sqlCreateOrg), o.ID, o.Name, string(o.Kind), nanos(o.Created)))
	}
	if err != nil {
		return fmt.Errorf("create organisation %s: %w", o.ID, err)
	}
	return nil
}

// Org implements store.Meta.
func (s *Store) Org(ctx context.Context, id string) (store.Org, error) {
	if err := s.checkOpen(); err != nil {
		return store.Org{}, fmt.Errorf("organisation %s: %w", id, err)
	}
	o := store.Org{ID: id}
	var kind string
	var created int64
	err := store.ErrNotFound
	if store.Text(id) {
		err = s.pool.QueryRow(ctx, s.sql(sqlOrg), id).Scan(&o.Name, &kind, &created)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Org{}, fmt.Errorf("organisation %s: %w", id, err)
	}
	o.Kind, o.Created = store.OrgKind(kind), fromNanos(created)
	return o, nil
}

var (
	sqlOrgs         = sqlText(`SELECT id, name, kind, created FROM {s}.orgs ORDER BY id`)
	sqlSetRetention = sqlText(`INSERT INTO {s}.retention (org, raw, minute, hour)
		SELECT id, $2, $3, $4 FROM {s}.orgs WHERE id = $1
		ON CONFLICT (org) DO UPDATE SET raw = excluded.raw, minute = excluded.minute, hour = excluded.hour`)
	sqlRetention      = sqlText(`SELECT raw, minute, hour FROM {s}.retention WHERE org = $1`)
	sqlClearRetention = sqlText(`DELETE FROM {s}.retention WHERE org = $1`)
)

// Orgs implements store.Meta.
func (s *Store) Orgs(ctx context.Context) ([]store.Org, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.sql(sqlOrgs))
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	var out []store.Org
	var o store.Org
	var kind string
	var created int64
	_, err = pgx.ForEachRow(rows, []any{&o.ID, &o.Name, &kind, &created}, func() error {
		o.Kind, o.Created = store.OrgKind(kind), fromNanos(created)
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	return out, nil
}

// SetRetention implements store.Meta. The upsert selects the organisation,
// so an unknown one inserts nothing.
func (s *Store) SetRetention(ctx context.Context, org string, r store.Retention) error {
	err := r.Validate()
	if err == nil && !store.Text(org) {
		err = store.ErrNotFound
	}
	if err == nil {
		var n int64
		n, err = s.execWrite(ctx, s.sql(sqlSetRetention), org, int64(r.Raw), int64(r.Minute), int64(r.Hour))
		if err == nil && n == 0 {
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
	if !store.Text(org) {
		return nil
	}
	if _, err := s.execWrite(ctx, s.sql(sqlClearRetention), org); err != nil {
		return fmt.Errorf("clear retention of %s: %w", org, err)
	}
	return nil
}

// Retention implements store.Meta.
func (s *Store) Retention(ctx context.Context, org string) (store.Retention, error) {
	if err := s.checkOpen(); err != nil {
		return store.Retention{}, fmt.Errorf("retention of %s: %w", org, err)
	}
	var raw, minute, hour int64
	err := store.ErrNotFound
	if store.Text(org) {
		err = s.pool.QueryRow(ctx, s.sql(sqlRetention), org).Scan(&raw, &minute, &hour)
	}
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := checkStorable(t.Hash, t.Org, string(t.Role), t.Name)
	if err == nil {
		err = inserted(s.execWrite(ctx, s.sql(sqlCreateToken), t.Hash, t.Org, string(t.Role), t.Name, nanos(t.Created)))
	}
	if err != nil {
		return fmt.Errorf("create token %q of %s: %w", t.Name, t.Org, err)
	}
	return nil
}

// TokenByHash implements store.Meta.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	if err := s.checkOpen(); err != nil {
		return store.Token{}, fmt.Errorf("token by hash: %w", err)
	}
	t := store.Token{Hash: hash}
	var role string
	var created int64
	err := store.ErrNotFound
	if store.Text(hash) {
		err = s.pool.QueryRow(ctx, s.sql(sqlToken), hash).Scan(&t.Org, &role, &t.Name, &created)
	}
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := checkStorable(e.ID, e.Org, e.Name, e.EnrollHash, e.CredHash)
	if err == nil {
		err = inserted(s.execWrite(ctx, s.sql(sqlCreateEdge),
			e.ID, e.Org, e.Name, e.EnrollHash, nanos(e.EnrollExpires), e.CredHash, e.Revoked, nanos(e.Created), nanos(e.Enrolled)))
	}
	if err != nil {
		return fmt.Errorf("create edge %s of %s: %w", e.ID, e.Org, err)
	}
	return nil
}

const edgeColumns = `id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled`

func scanEdge(row pgx.Row) (store.Edge, error) {
	var e store.Edge
	var expires, created, enrolled int64
	err := row.Scan(&e.ID, &e.Org, &e.Name, &e.EnrollHash, &expires, &e.CredHash, &e.Revoked, &created, &enrolled)
	if errors.Is(err, pgx.ErrNoRows) {
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
	e, err := store.Edge{}, s.checkOpen()
	if err == nil {
		err = store.ErrNotFound
		if store.Text(org) && store.Text(id) {
			e, err = scanEdge(s.pool.QueryRow(ctx, s.sql(sqlEdge), org, id))
		}
	}
	if err != nil {
		return store.Edge{}, fmt.Errorf("edge %s of %s: %w", id, org, err)
	}
	return e, nil
}

// Edges implements store.Meta.
func (s *Store) Edges(ctx context.Context, org string) ([]store.Edge, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	if !store.Text(org) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.sql(sqlEdges), org)
	if err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Edge, error) { return scanEdge(r) })
	if err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	return out, nil
}

// Enroll implements store.Meta. The check and the update are one UPDATE:
// of two concurrent enrollments with one token, the second waits for the
// first's row lock, then re-checks the row, finds enroll_hash cleared and
// updates nothing.
func (s *Store) Enroll(ctx context.Context, enrollHash, credHash string, now time.Time) (store.Edge, error) {
	if enrollHash == "" || credHash == "" || !store.Text(enrollHash) || !store.Text(credHash) {
		return store.Edge{}, fmt.Errorf("enroll: %w", store.ErrNotFound)
	}
	var e store.Edge
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		e, err = scanEdge(tx.QueryRow(ctx, s.sql(sqlEnroll), credHash, nanos(now), enrollHash))
		return err
	})
	if err != nil {
		if pgCode(err) == codeUniqueViolation {
			err = store.ErrExists // the credential hash belongs to another edge
		}
		return store.Edge{}, fmt.Errorf("enroll: %w", err)
	}
	return e, nil
}

// EdgeByCredential implements store.Meta.
func (s *Store) EdgeByCredential(ctx context.Context, credHash string) (store.Edge, error) {
	e, err := store.Edge{}, s.checkOpen()
	if err == nil {
		err = store.ErrNotFound
		if credHash != "" && store.Text(credHash) {
			e, err = scanEdge(s.pool.QueryRow(ctx, s.sql(sqlEdgeByCred), credHash))
		}
	}
	if err != nil {
		return store.Edge{}, fmt.Errorf("edge by credential: %w", err)
	}
	return e, nil
}

// RevokeEdge implements store.Meta.
func (s *Store) RevokeEdge(ctx context.Context, org, id string) error {
	n, err := int64(0), error(nil)
	if store.Text(org) && store.Text(id) {
		n, err = s.execWrite(ctx, s.sql(sqlRevokeEdge), org, id)
	}
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke edge %s of %s: %w", id, org, err)
	}
	return nil
}
