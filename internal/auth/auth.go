package auth

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: orgs and tokens.
var Migrations = meta.Migrations{Domain: "auth", FS: meta.Dir(migrations, "migrations"), Adopt: []string{"orgs", "tokens"}}

// OrgKind is the kind of an organisation.
type OrgKind string

// The organisation kinds.
const (
	Company  OrgKind = "company"
	Hub      OrgKind = "hub"
	Fieldlab OrgKind = "fieldlab"
	Provider OrgKind = "provider"
	Platform OrgKind = "platform"
)

// Org is an organisation: every edge, series and token belongs to exactly one.
type Org struct {
	ID      string
	Name    string
	Kind    OrgKind
	Created time.Time
}

// Token is an API bearer token. Only the SHA-256 of its secret is stored.
type Token struct {
	Hash    string // hex SHA-256 of the secret
	Org     string
	Role    api.Role
	Name    string
	Created time.Time
}

// Service keeps organisations and API tokens, and authenticates tokens.
type Service struct {
	db  *meta.DB
	now func() time.Time
}

// New returns the service on db, migrating its tables. now is the clock
// (nil: time.Now).
func New(ctx context.Context, db *meta.DB, now func() time.Time) (*Service, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: now}, nil
}

// execer is what a statement runs on: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// CreateOrg stores a new organisation; meta.ErrExists if its ID is taken.
func (s *Service) CreateOrg(ctx context.Context, o Org) error {
	if err := createOrg(ctx, s.db, o); err != nil {
		return fmt.Errorf("create organisation %s: %w", o.ID, err)
	}
	return nil
}

func createOrg(ctx context.Context, db execer, o Org) error {
	if o.ID == "" {
		return fmt.Errorf("%w: empty id", meta.ErrInvalid)
	}
	if err := meta.CheckText(o.ID, o.Name, string(o.Kind)); err != nil {
		return err
	}
	return meta.Inserted(db.ExecContext(ctx, `INSERT INTO orgs (id, name, kind, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		o.ID, o.Name, string(o.Kind), meta.Nanos(o.Created)))
}

// Org returns one organisation or meta.ErrNotFound.
func (s *Service) Org(ctx context.Context, id string) (Org, error) {
	o := Org{ID: id}
	var kind string
	var created int64
	err := meta.ErrNotFound
	if meta.Text(id) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT name, kind, created FROM orgs WHERE id = $1`, id).Scan(&o.Name, &kind, &created))
	}
	if err != nil {
		return Org{}, fmt.Errorf("organisation %s: %w", id, err)
	}
	o.Kind, o.Created = OrgKind(kind), meta.Time(created)
	return o, nil
}

// Orgs lists every organisation by ID.
func (s *Service) Orgs(ctx context.Context) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, kind, created FROM orgs`)
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		var kind string
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &kind, &created); err != nil {
			return nil, fmt.Errorf("organisations: %w", err)
		}
		o.Kind, o.Created = OrgKind(kind), meta.Time(created)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	// By ID in byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateToken stores a token; meta.ErrExists if its hash is taken.
func (s *Service) CreateToken(ctx context.Context, t Token) error {
	if err := createToken(ctx, s.db, t); err != nil {
		return fmt.Errorf("create token %q of %s: %w", t.Name, t.Org, err)
	}
	return nil
}

func createToken(ctx context.Context, db execer, t Token) error {
	if t.Hash == "" || t.Org == "" {
		return fmt.Errorf("%w: empty hash or organisation", meta.ErrInvalid)
	}
	if err := meta.CheckText(t.Hash, t.Org, string(t.Role), t.Name); err != nil {
		return err
	}
	return meta.Inserted(db.ExecContext(ctx, `INSERT INTO tokens (hash, org, role, name, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		t.Hash, t.Org, string(t.Role), t.Name, meta.Nanos(t.Created)))
}

// NewToken makes a token of org with role and name, stores its hash and
// returns its secret, shown to the caller once.
func (s *Service) NewToken(ctx context.Context, org string, role api.Role, name string) (string, error) {
	sec := secret.New(secret.PrefixToken)
	if err := s.CreateToken(ctx, Token{Hash: secret.Hash(sec), Org: org, Role: role, Name: name, Created: s.now()}); err != nil {
		return "", err
	}
	return sec, nil
}

// TokenByHash returns the token with that hash or meta.ErrNotFound.
func (s *Service) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t := Token{Hash: hash}
	var role string
	var created int64
	err := meta.ErrNotFound
	if meta.Text(hash) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT org, role, name, created FROM tokens WHERE hash = $1`, hash).
			Scan(&t.Org, &role, &t.Name, &created))
	}
	if err != nil {
		// The hash stays out of the message: it identifies a credential.
		return Token{}, fmt.Errorf("token by hash: %w", err)
	}
	t.Role, t.Created = api.Role(role), meta.Time(created)
	return t, nil
}

// Authenticate implements api.Authenticator for API tokens: any other
// secret, and an unknown token, is api.ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, sec string) (api.Principal, error) {
	if !strings.HasPrefix(sec, secret.PrefixToken) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	t, err := s.TokenByHash(ctx, secret.Hash(sec))
	if errors.Is(err, meta.ErrNotFound) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	if err != nil {
		return api.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	return api.Principal{Org: t.Org, Role: t.Role, Name: t.Name}, nil
}

// Bootstrap creates org and an admin token of it named "admin", in one
// transaction, unless org exists; it is what a hub does on first start.
// keep is given the token's secret before the commit (to write it where
// the operator finds it); if keep fails, nothing is created. Bootstrap
// returns the secret, or "" when org existed already.
//
// Of hubs bootstrapping at once on one database, one creates the
// organisation and its token; the others wait for its commit (the
// organisation's row) and find it there, so there is one first admin
// token, and only the hub that made it shows it.
func (s *Service) Bootstrap(ctx context.Context, o Org, keep func(secret string) error) (string, error) {
	var sec string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := createOrg(ctx, tx, o)
		if errors.Is(err, meta.ErrExists) {
			return nil
		}
		if err != nil {
			return err
		}
		sec = secret.New(secret.PrefixToken)
		if err := createToken(ctx, tx, Token{Hash: secret.Hash(sec), Org: o.ID, Role: api.RoleAdmin, Name: "admin", Created: o.Created}); err != nil {
			return err
		}
		return keep(sec)
	})
	if err != nil {
		return "", fmt.Errorf("bootstrap organisation %s: %w", o.ID, err)
	}
	return sec, nil
}

// Routes are the domain's: GET /api/v1/whoami.
func (s *Service) Routes() []api.Route {
	return []api.Route{{Method: "GET", Path: "/api/v1/whoami", Auth: api.Viewer, Handle: whoami}}
}

func whoami(_ *http.Request, p api.Principal) (any, error) {
	return map[string]string{"org": p.Org, "role": string(p.Role), "name": p.Name}, nil
}
