package auth

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/password"
	"github.com/molen-io/molen/internal/secret"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: orgs, api_tokens, users, memberships,
// links, sessions, login_failures, grants and delegations.
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

// Valid reports whether k is a kind of organisation.
func (k OrgKind) Valid() bool {
	switch k {
	case Company, Hub, Fieldlab, Provider, Platform:
		return true
	}
	return false
}

// PlatformOrg is the ID of the platform organisation, the root of the
// tree. Its log holds the hub's own events (sign-ins, the tree).
const PlatformOrg = "platform"

// Org is an organisation: every edge, series, token and membership
// belongs to exactly one.
type Org struct {
	ID      string
	Name    string
	Kind    OrgKind
	Parent  string // "" for the root
	Created time.Time
}

// Service keeps organisations, people, their memberships, sessions and
// one-time links, API tokens, grants and delegations; it authenticates
// API tokens and sessions into api.Principals.
type Service struct {
	db      *meta.DB
	audit   *audit.Log
	log     *slog.Logger
	now     func() time.Time
	hash    *password.Hasher
	cfg     Config
	metrics metrics
	oidc    map[string]*oidcProvider
}

// Config configures the Service.
type Config struct {
	DB    *meta.DB
	Audit *audit.Log
	Log   *slog.Logger     // default: discard
	Now   func() time.Time // default: time.Now
	// Registry gets the domain's metrics; nil: not registered.
	Registry prometheus.Registerer
	// SessionIdle ends a session after this long without a request;
	// SessionMax after this long in any case. Defaults: 1 h and 12 h.
	SessionIdle, SessionMax time.Duration
	// Lockout: after LockAfter failed sign-ins in a row for one name, the
	// name is locked for LockFor, doubling with each further failure up to
	// LockMax. Defaults: 5, 1 min, 1 h.
	LockAfter        int
	LockFor, LockMax time.Duration
	// Argon2 are the password hash parameters; zero: DefaultArgon2.
	Argon2 Argon2
	// Limiter and SignInRate bound sign-in attempts per client address
	// (on top of the per-name lockout); nil or zero: none.
	Limiter    api.Limiter
	SignInRate api.Rate
	// PublicURL is the hub's address as people reach it, for the links it
	// makes ("https://hub.example.org"); nil: the links are paths.
	PublicURL func() string
	// OIDC are the identity providers people may sign in with.
	OIDC []OIDCProvider
}

// New returns the service, migrating its tables.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.DB.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 5
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = time.Minute
	}
	if cfg.LockMax <= 0 {
		cfg.LockMax = time.Hour
	}
	if cfg.Argon2 == (Argon2{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.Audit == nil {
		var err error
		if cfg.Audit, err = audit.New(ctx, cfg.DB, cfg.Now, cfg.Log); err != nil {
			return nil, err
		}
	}
	s := &Service{db: cfg.DB, audit: cfg.Audit, log: cfg.Log, now: cfg.Now, cfg: cfg,
		hash: password.New(cfg.Argon2, runtime.GOMAXPROCS(0)), metrics: newMetrics()}
	if cfg.Registry != nil {
		s.metrics.register(cfg.Registry)
	}
	var err error
	if s.oidc, err = newOIDC(cfg.OIDC); err != nil {
		return nil, err
	}
	return s, nil
}

// Audit returns the audit log the service records in.
func (s *Service) Audit() *audit.Log { return s.audit }

// execer is what a statement runs on: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// newID returns a new random ID with prefix ("usr_", "tok_", …).
func newID(prefix string) string { return prefix + secret.New("")[:16] }

// CreateOrg stores a new organisation; meta.ErrExists if its ID is taken,
// meta.ErrNotFound if its parent does not exist.
func (s *Service) CreateOrg(ctx context.Context, o Org) error {
	if err := createOrg(ctx, s.db, o); err != nil {
		return fmt.Errorf("create organisation %s: %w", o.ID, err)
	}
	return nil
}

// CreateOrgTx is CreateOrg within tx, for a domain that makes an
// organisation together with its own rows; a zero Created is now.
func (s *Service) CreateOrgTx(ctx context.Context, tx *sql.Tx, o Org) error {
	if o.Created.IsZero() {
		o.Created = s.now()
	}
	if err := createOrg(ctx, tx, o); err != nil {
		return fmt.Errorf("create organisation %s: %w", o.ID, err)
	}
	return nil
}

func createOrg(ctx context.Context, db execer, o Org) error {
	if o.ID == "" {
		return fmt.Errorf("%w: empty id", meta.ErrInvalid)
	}
	if err := meta.CheckText(o.ID, o.Name, string(o.Kind), o.Parent); err != nil {
		return err
	}
	if o.Parent != "" {
		var one int
		if err := meta.Found(db.QueryRowContext(ctx, `SELECT 1 FROM orgs WHERE id = $1`, o.Parent).Scan(&one)); err != nil {
			return fmt.Errorf("parent %s: %w", o.Parent, err)
		}
	}
	return meta.Inserted(db.ExecContext(ctx, `INSERT INTO orgs (id, name, kind, parent, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		o.ID, o.Name, string(o.Kind), o.Parent, meta.Nanos(o.Created)))
}

const orgColumns = `id, name, kind, parent, created`

func scanOrg(sc interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var kind string
	var created int64
	if err := sc.Scan(&o.ID, &o.Name, &kind, &o.Parent, &created); err != nil {
		return Org{}, meta.Found(err)
	}
	o.Kind, o.Created = OrgKind(kind), meta.Time(created)
	return o, nil
}

// Org returns one organisation or meta.ErrNotFound.
func (s *Service) Org(ctx context.Context, id string) (Org, error) {
	o, err := Org{}, error(meta.ErrNotFound)
	if meta.Text(id) {
		o, err = scanOrg(s.db.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = $1`, id))
	}
	if err != nil {
		return Org{}, fmt.Errorf("organisation %s: %w", id, err)
	}
	return o, nil
}

// Orgs lists every organisation by ID.
func (s *Service) Orgs(ctx context.Context) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orgColumns+` FROM orgs`)
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("organisations: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	// By ID in byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Below returns org and every organisation below it in the tree, by ID.
func (s *Service) Below(ctx context.Context, org string) ([]Org, error) {
	all, err := s.Orgs(ctx)
	if err != nil {
		return nil, err
	}
	children := map[string][]Org{}
	var root *Org
	for i, o := range all {
		children[o.Parent] = append(children[o.Parent], o)
		if o.ID == org {
			root = &all[i]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("organisation %s: %w", org, meta.ErrNotFound)
	}
	out := []Org{*root}
	for i := 0; i < len(out); i++ {
		if len(out) > len(all) {
			break // a cycle; the tree is made so that none can form
		}
		out = append(out, children[out[i].ID]...)
	}
	slices.SortFunc(out, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Above returns the organisations above org, its parent first.
func (s *Service) Above(ctx context.Context, org string) ([]Org, error) {
	var out []Org
	seen := map[string]bool{org: true}
	o, err := s.Org(ctx, org)
	for err == nil && o.Parent != "" && !seen[o.Parent] {
		seen[o.Parent] = true
		if o, err = s.Org(ctx, o.Parent); err == nil {
			out = append(out, o)
		}
	}
	return out, err
}

// Token is an API token. Only the SHA-256 of its secret is stored.
type Token struct {
	ID   string
	Hash string // hex SHA-256 of the secret
	Org  string
	// User is the person the token acts for, whose role in Org it has
	// (never more than its scopes); "" for a service account, whose role
	// is Role.
	User      string
	Role      api.Role
	Name      string
	Scopes    string // space-separated: read, write, admin, <area>:<level>
	Created   time.Time
	CreatedBy string
	Expires   time.Time // zero: never
	LastUsed  time.Time
	Revoked   time.Time // zero: not revoked
}

// CreateToken stores a token; meta.ErrExists if its hash is taken. Its ID
// and scopes default from its hash and role.
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
	if t.ID == "" {
		t.ID = "tok_" + t.Hash[:min(20, len(t.Hash))]
	}
	if t.Scopes == "" {
		t.Scopes = api.RoleLevel(t.Role).String()
	}
	if err := meta.CheckText(t.ID, t.Hash, t.Org, t.User, string(t.Role), t.Name, t.Scopes, t.CreatedBy); err != nil {
		return err
	}
	return meta.Inserted(db.ExecContext(ctx, `INSERT INTO api_tokens (hash, id, org, user_id, role, name, scopes, created, created_by, expires, last_used, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0) ON CONFLICT DO NOTHING`,
		t.Hash, t.ID, t.Org, t.User, string(t.Role), t.Name, t.Scopes, meta.Nanos(t.Created), t.CreatedBy, meta.Nanos(t.Expires)))
}

// NewToken makes a service account token of org with role and name (its
// scopes: all the role allows), stores its hash and returns its secret,
// shown to the caller once.
func (s *Service) NewToken(ctx context.Context, org string, role api.Role, name string) (string, error) {
	sec := secret.New(secret.PrefixToken)
	if err := s.CreateToken(ctx, Token{Hash: secret.Hash(sec), Org: org, Role: role, Name: name, Created: s.now()}); err != nil {
		return "", err
	}
	return sec, nil
}

const tokenColumns = `hash, id, org, user_id, role, name, scopes, created, created_by, expires, last_used, revoked`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var role string
	var created, expires, used, revoked int64
	if err := sc.Scan(&t.Hash, &t.ID, &t.Org, &t.User, &role, &t.Name, &t.Scopes, &created, &t.CreatedBy, &expires, &used, &revoked); err != nil {
		return Token{}, meta.Found(err)
	}
	t.Role = api.Role(role)
	t.Created, t.Expires, t.LastUsed, t.Revoked = meta.Time(created), meta.Time(expires), meta.Time(used), meta.Time(revoked)
	return t, nil
}

// TokenByHash returns the token with that hash or meta.ErrNotFound.
func (s *Service) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := Token{}, error(meta.ErrNotFound)
	if meta.Text(hash) {
		t, err = scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	}
	if err != nil {
		// The hash stays out of the message: it identifies a credential.
		return Token{}, fmt.Errorf("token by hash: %w", err)
	}
	return t, nil
}

// touchEvery is how often a credential's last use is written: at most
// once a minute, so that reads do not become writes.
const touchEvery = time.Minute

// Authenticate implements api.Authenticator for API tokens: any other
// secret, and an unknown, revoked or expired token, or one of a person
// who is no longer a member, is api.ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, sec string) (api.Principal, error) {
	if !strings.HasPrefix(sec, secret.PrefixToken) || !meta.Text(sec) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	h := secret.Hash(sec)
	t, err := s.TokenByHash(ctx, h)
	if errors.Is(err, meta.ErrNotFound) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	if err != nil {
		return api.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	now := s.now()
	if !secret.Equal(t.Hash, h) || !t.Revoked.IsZero() || !t.Expires.IsZero() && !now.Before(t.Expires) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	role, name := t.Role, t.Name
	if t.User != "" {
		m, err := s.membership(ctx, t.User, t.Org)
		if errors.Is(err, meta.ErrNotFound) {
			return api.Principal{}, api.ErrUnauthenticated
		}
		if err != nil {
			return api.Principal{}, fmt.Errorf("look up token: %w", err)
		}
		role = m
	}
	p := api.Principal{Org: t.Org, Role: role, Name: name, User: t.User, Token: t.ID, Scopes: t.Scopes}
	if err := s.complete(ctx, &p); err != nil {
		return api.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	if now.Sub(t.LastUsed) > touchEvery {
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used = $1 WHERE hash = $2 AND last_used < $1`, meta.Nanos(now), h); err != nil {
			s.log.Warn("token last use not recorded", "token", t.ID, "err", err)
		}
	}
	return p, nil
}

// complete adds to p the kind of its organisation and the grants it holds.
func (s *Service) complete(ctx context.Context, p *api.Principal) error {
	o, err := s.Org(ctx, p.Org)
	if err != nil {
		return err
	}
	p.OrgKind = string(o.Kind)
	p.Grants, err = s.activeGrants(ctx, p.Org)
	return err
}

// Bootstrap creates the platform organisation and org below it, and an
// admin token of org named "admin", in one transaction, unless org
// exists; it is what a hub does on first start. keep is given the token's
// secret before the commit (to write it where the operator finds it); if
// keep fails, nothing is created. Bootstrap returns the secret, or "" when
// org existed already.
//
// Of hubs bootstrapping at once on one database, one creates the
// organisation and its token; the others wait for its commit (the
// organisation's row) and find it there, so there is one first admin
// token, and only the hub that made it shows it.
func (s *Service) Bootstrap(ctx context.Context, o Org, keep func(secret string) error) (string, error) {
	var sec string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := ensurePlatform(ctx, tx, o.Created); err != nil {
			return err
		}
		if o.Parent == "" && o.ID != PlatformOrg {
			o.Parent = PlatformOrg
		}
		err := createOrg(ctx, tx, o)
		if errors.Is(err, meta.ErrExists) {
			// An organisation of a release before the tree hangs below the
			// platform.
			_, err = tx.ExecContext(ctx, `UPDATE orgs SET parent = $1 WHERE id = $2 AND parent = ''`, PlatformOrg, o.ID)
			return err
		}
		if err != nil {
			return err
		}
		sec = secret.New(secret.PrefixToken)
		t := Token{Hash: secret.Hash(sec), Org: o.ID, Role: api.RoleAdmin, Name: "admin", Created: o.Created, CreatedBy: "system"}
		if err := createToken(ctx, tx, t); err != nil {
			return err
		}
		if _, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: o.ID, At: o.Created, Actor: "system", Action: "token.created",
			Target: "tok_" + t.Hash[:20], Detail: map[string]string{"name": "admin", "role": "admin", "first": "true"}}); err != nil {
			return err
		}
		return keep(sec)
	})
	if err != nil {
		return "", fmt.Errorf("bootstrap organisation %s: %w", o.ID, err)
	}
	return sec, nil
}

// ensurePlatform creates the platform organisation unless it exists.
func ensurePlatform(ctx context.Context, tx execer, created time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, kind, parent, created) VALUES ($1, $2, $3, '', $4) ON CONFLICT DO NOTHING`,
		PlatformOrg, "Platform", string(Platform), meta.Nanos(created))
	return err
}

// UpdateOrg renames an organisation and moves it below parent ("" keeps
// its parent); a move that would make the tree a cycle is refused.
func (s *Service) UpdateOrg(ctx context.Context, id, name, parent string) error {
	o, err := s.Org(ctx, id)
	if err != nil {
		return err
	}
	if name == "" {
		name = o.Name
	}
	if parent == "" {
		parent = o.Parent
	}
	if parent != o.Parent {
		below, err := s.Below(ctx, id)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(below, func(b Org) bool { return b.ID == parent }) {
			return fmt.Errorf("move %s below %s: %w: that is below it", id, parent, meta.ErrInvalid)
		}
		if _, err := s.Org(ctx, parent); err != nil {
			return err
		}
	}
	if err := meta.CheckText(name); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE orgs SET name = $1, parent = $2 WHERE id = $3`, name, parent, id)
	return err
}
