package market

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/blob"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables.
var Migrations = meta.Migrations{Domain: "market", FS: meta.Dir(migrations, "migrations")}

// The states of a version, in their order.
const (
	Draft      = "draft"
	InReview   = "in-review"
	Released   = "released"
	Deprecated = "deprecated"
	Revoked    = "revoked"
)

// Fleet is what the marketplace needs of the fleet: the edges and groups
// of a company, their reported part states, secrets of the desired state
// and a wake-up when installs change.
type Fleet interface {
	Edge(ctx context.Context, org, id string) (fleet.Edge, error)
	Groups(ctx context.Context, org string) ([]fleet.Group, error)
	Inventory(ctx context.Context, org string, f fleet.Filter) ([]fleet.InventoryEdge, error)
	PutSecret(ctx context.Context, org, scope, target, name, value string) error
	DeleteSecret(ctx context.Context, org, scope, target, name string) error
	Wake(org string)
}

// Config configures the marketplace.
type Config struct {
	DB    *meta.DB
	Fleet Fleet
	Audit audit.Recorder
	// Dir keeps the package archives, named by their sha256 (shared
	// through DB when it is PostgreSQL: internal/blob).
	Dir string
	// Key is the platform's marketplace key, which countersigns released
	// versions; edges trust its public key (molen edge --market-key).
	Key ed25519.PrivateKey
	Log *slog.Logger
	Now func() time.Time
	Reg prometheus.Registerer
	// PublicURL is the hub's address as catalogues reach it, for the
	// IRIs of the EU catalogue entries.
	PublicURL func() string
}

// Service is the marketplace: provider keys, listings and their
// versions, the review, installs.
type Service struct {
	cfg     Config
	blobs   *blob.Store
	refused *prometheus.CounterVec
}

// New returns the marketplace on cfg.DB, migrating its tables.
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
	blobs, err := blob.New(ctx, cfg.Dir, cfg.DB)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, blobs: blobs}
	if err := s.grantEarlierInstalls(ctx); err != nil {
		return nil, fmt.Errorf("market: %w", err)
	}
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_market_refused_total",
		Help: "Marketplace uploads and installs refused, by reason: signature, provider, package, params."}, []string{"reason"})
	for _, r := range []string{"signature", "provider", "package", "params"} {
		s.refused.WithLabelValues(r)
	}
	if cfg.Reg != nil {
		cfg.Reg.MustRegister(s.refused)
	}
	return s, nil
}

// PublicKey is the platform's marketplace key that edges trust.
func (s *Service) PublicKey() ed25519.PublicKey { return s.cfg.Key.Public().(ed25519.PublicKey) }

// LoadKey reads the platform's marketplace key from file (PEM, PKCS #8),
// making it (mode 0600) when there is none.
func LoadKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := sign.GenerateKey()
		if err != nil {
			return nil, err
		}
		pem, err := sign.EncodePrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("market key: %w", err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("market key: %w", err)
		}
		if _, err := f.Write(pem); err != nil {
			f.Close()
			return nil, fmt.Errorf("market key: %w", err)
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("market key: %w", err)
	}
	key, err := sign.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("market key %s: %w", file, err)
	}
	return key, nil
}

// Key is a provider's signing key.
type Key struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	Name      string    `json:"name"`
	PublicKey string    `json:"public_key"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Revoked   bool      `json:"revoked"`
}

// AddKey registers a provider's public key (PEM) to org.
func (s *Service) AddKey(ctx context.Context, org, name, pemText, by string) (Key, error) {
	keys, err := sign.ParsePublicKeys([]byte(pemText))
	if err != nil || len(keys) != 1 {
		return Key{}, api.BadRequest("public_key: want one Ed25519 public key in PEM (molen service keygen)")
	}
	if name == "" || !meta.Text(name) || len(name) > 100 {
		return Key{}, api.BadRequest("name: want 1..100 characters of text")
	}
	pem, _ := sign.EncodePublicKey(keys[0])
	k := Key{ID: sign.KeyID(keys[0]), Org: org, Name: name, PublicKey: string(pem), Created: s.cfg.Now().UTC(), CreatedBy: by}
	err = meta.Inserted(s.cfg.DB.ExecContext(ctx, `INSERT INTO market_keys (id, org, name, public_key, created, created_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		k.ID, k.Org, k.Name, k.PublicKey, meta.Nanos(k.Created), k.CreatedBy))
	if errors.Is(err, meta.ErrExists) {
		return Key{}, fmt.Errorf("key %s: registered already: %w", k.ID, api.ErrConflict)
	}
	return k, err
}

// Keys lists org's keys.
func (s *Service) Keys(ctx context.Context, org string) ([]Key, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, org, name, public_key, created, created_by, revoked FROM market_keys WHERE org = $1 ORDER BY created`, org)
	if err != nil {
		return nil, fmt.Errorf("keys of %s: %w", org, err)
	}
	defer rows.Close()
	out := []Key{}
	for rows.Next() {
		var k Key
		var created, revoked int64
		if err := rows.Scan(&k.ID, &k.Org, &k.Name, &k.PublicKey, &created, &k.CreatedBy, &revoked); err != nil {
			return nil, err
		}
		k.Created, k.Revoked = meta.Time(created), revoked != 0
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey stops org's key from signing new uploads.
func (s *Service) RevokeKey(ctx context.Context, org, id string) error {
	return meta.Changed(s.cfg.DB.ExecContext(ctx, `UPDATE market_keys SET revoked = $1 WHERE org = $2 AND id = $3 AND revoked = 0`, meta.Nanos(s.cfg.Now()), org, id))
}

// Version is one published version of a listing.
type Version struct {
	Listing     string         `json:"id"`
	Provider    string         `json:"provider"`
	Version     string         `json:"version"`
	SHA256      string         `json:"sha256"`
	Size        int64          `json:"size"`
	Signer      string         `json:"signer"`
	State       string         `json:"state"`
	Note        string         `json:"note,omitempty"`
	Published   time.Time      `json:"published"`
	PublishedBy string         `json:"published_by"`
	Changed     time.Time      `json:"changed"`
	ChangedBy   string         `json:"changed_by"`
	Manifest    string         `json:"-"`
	Signature   sign.Envelope  `json:"-"`
	Countersign *sign.Envelope `json:"-"`
}

// Publish verifies and stores a version as a draft. The archive must be
// a valid package; sig the provider's statement about it, naming org as
// the provider and signed by one of org's registered keys; the listing
// (the package's id) must be org's or new; a version is published once.
func (s *Service) Publish(ctx context.Context, org, by string, archive []byte, sig sign.Envelope) (Version, error) {
	sha := svcpack.Digest(archive)
	if about := signedDigest(sig); about != "" && about != sha {
		// Said before anything else: a byte changed since signing (or
		// the signature is another archive's) is the refusal to name.
		s.refused.WithLabelValues("signature").Inc()
		return Version{}, api.BadRequest("signature: it is about an archive whose sha256 is %s; this one's is %s: the package changed after it was signed, or the signature is another package's", about, sha)
	}
	files, pkg, err := svcpack.Read(archive)
	if err != nil {
		s.refused.WithLabelValues("package").Inc()
		return Version{}, api.BadRequest("package: %v", err)
	}
	keys, err := s.Keys(ctx, org)
	if err != nil {
		return Version{}, err
	}
	var trusted []ed25519.PublicKey
	for _, k := range keys {
		if k.Revoked {
			continue
		}
		pk, err := sign.ParsePublicKeys([]byte(k.PublicKey))
		if err == nil {
			trusted = append(trusted, pk...)
		}
	}
	st, signer, err := svcpack.VerifyProvider(sig, trusted, sha)
	if err != nil {
		s.refused.WithLabelValues("signature").Inc()
		if len(trusted) == 0 {
			return Version{}, api.BadRequest("signature: your organisation has no signing key registered (molen service keygen, then POST /api/v1/market/keys)")
		}
		return Version{}, api.BadRequest("signature: %v (it must be signed by a key registered to your organisation)", err)
	}
	id, ver := pkg.Manifest.Metadata.ID, pkg.Manifest.Metadata.Version
	if st.Provider != org {
		s.refused.WithLabelValues("provider").Inc()
		return Version{}, fmt.Errorf("%w: the package is signed as provider %q; you publish as %q", api.ErrForbidden, st.Provider, org)
	}
	if st.ID != id || st.Version != ver {
		s.refused.WithLabelValues("signature").Inc()
		return Version{}, api.BadRequest("signature: it is about %s %s, the package is %s %s", st.ID, st.Version, id, ver)
	}
	now := s.cfg.Now().UTC()
	var owner string
	err = meta.Found(s.cfg.DB.QueryRowContext(ctx, `SELECT org FROM market_listings WHERE id = $1`, id).Scan(&owner))
	switch {
	case errors.Is(err, meta.ErrNotFound):
		if err := meta.Inserted(s.cfg.DB.ExecContext(ctx, `INSERT INTO market_listings (id, org, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, org, meta.Nanos(now))); err != nil && !errors.Is(err, meta.ErrExists) {
			return Version{}, err
		}
		if err := meta.Found(s.cfg.DB.QueryRowContext(ctx, `SELECT org FROM market_listings WHERE id = $1`, id).Scan(&owner)); err != nil {
			return Version{}, err
		}
	case err != nil:
		return Version{}, err
	}
	if owner != org {
		s.refused.WithLabelValues("provider").Inc()
		return Version{}, fmt.Errorf("%w: the service %s is another provider's", api.ErrForbidden, id)
	}
	if err := s.blobs.Put(ctx, sha, archive); err != nil {
		return Version{}, fmt.Errorf("store package: %w", err)
	}
	sigJSON, _ := json.Marshal(sig)
	v := Version{Listing: id, Provider: org, Version: ver, SHA256: sha, Size: int64(len(archive)), Signer: signer, State: Draft,
		Published: now, PublishedBy: by, Changed: now, ChangedBy: by}
	err = meta.Inserted(s.cfg.DB.ExecContext(ctx, `INSERT INTO market_versions (listing, version, sha256, size, manifest, signature, signer, state, published, published_by, changed, changed_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10) ON CONFLICT DO NOTHING`,
		id, ver, sha, v.Size, string(files[service.ManifestFile]), string(sigJSON), signer, Draft, meta.Nanos(now), by))
	if errors.Is(err, meta.ErrExists) {
		return Version{}, fmt.Errorf("%s %s is published already; a version never changes: publish a new one: %w", id, ver, api.ErrConflict)
	}
	return v, err
}

// signedDigest is the sha256 the statement in env is about, unverified
// (for the refusal's words only): "" when it is not one statement about
// one archive.
func signedDigest(env sign.Envelope) string {
	var st sign.Statement
	if json.Unmarshal(env.Payload, &st) != nil || len(st.Subject) != 1 {
		return ""
	}
	return st.Subject[0].Digest["sha256"]
}

const versionColumns = `v.listing, l.org, v.version, v.sha256, v.size, v.signer, v.state, v.note, v.published, v.published_by, v.changed, v.changed_by, v.manifest, v.signature, v.countersign`

func (s *Service) versions(ctx context.Context, where string, args ...any) ([]Version, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+versionColumns+` FROM market_versions v JOIN market_listings l ON l.id = v.listing WHERE `+where+` ORDER BY v.listing, v.published`, args...)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	defer rows.Close()
	out := []Version{}
	for rows.Next() {
		var v Version
		var pub, ch int64
		var sig, cs string
		if err := rows.Scan(&v.Listing, &v.Provider, &v.Version, &v.SHA256, &v.Size, &v.Signer, &v.State, &v.Note, &pub, &v.PublishedBy, &ch, &v.ChangedBy, &v.Manifest, &sig, &cs); err != nil {
			return nil, fmt.Errorf("versions: %w", err)
		}
		v.Published, v.Changed = meta.Time(pub), meta.Time(ch)
		if err := json.Unmarshal([]byte(sig), &v.Signature); err != nil {
			return nil, fmt.Errorf("version %s %s: signature: %w", v.Listing, v.Version, err)
		}
		if cs != "" {
			var env sign.Envelope
			if err := json.Unmarshal([]byte(cs), &env); err != nil {
				return nil, fmt.Errorf("version %s %s: countersignature: %w", v.Listing, v.Version, err)
			}
			v.Countersign = &env
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version returns one version; meta.ErrNotFound for none.
func (s *Service) Version(ctx context.Context, id, version string) (Version, error) {
	vs, err := s.versions(ctx, `v.listing = $1 AND v.version = $2`, id, version)
	if err != nil {
		return Version{}, err
	}
	if len(vs) == 0 {
		return Version{}, fmt.Errorf("%s %s: %w", id, version, meta.ErrNotFound)
	}
	return vs[0], nil
}

// The lifecycle's actions: which states each leaves from, where it goes,
// and who may take it ("provider": a publisher of the listing's
// organisation; "platform": a platform admin).
var actions = map[string]struct {
	from []string
	to   string
	by   []string
}{
	"submit":    {[]string{Draft}, InReview, []string{"provider"}},
	"withdraw":  {[]string{InReview}, Draft, []string{"provider"}},
	"reject":    {[]string{InReview}, Draft, []string{"platform"}},
	"release":   {[]string{InReview}, Released, []string{"platform"}},
	"deprecate": {[]string{Released}, Deprecated, []string{"provider", "platform"}},
	"revoke":    {[]string{Draft, InReview, Released, Deprecated}, Revoked, []string{"provider", "platform"}},
}

// Act moves a version through its lifecycle. as is "provider" (for the
// listing's organisation org) or "platform". Releasing countersigns the
// version with the platform's key; revoking takes it off every edge at
// its next fetch.
func (s *Service) Act(ctx context.Context, as, org, id, version, action, note, by string) (Version, error) {
	a, ok := actions[action]
	if !ok {
		return Version{}, api.BadRequest("action: %q: want one of submit, withdraw, reject, release, deprecate, revoke", action)
	}
	v, err := s.Version(ctx, id, version)
	if err != nil {
		return Version{}, err
	}
	if as == "provider" && v.Provider != org {
		return Version{}, fmt.Errorf("%s %s: %w", id, version, meta.ErrNotFound)
	}
	if !slices.Contains(a.by, as) {
		return Version{}, fmt.Errorf("%w: %s is for the %s", api.ErrForbidden, action, strings.Join(a.by, " or "))
	}
	if !slices.Contains(a.from, v.State) {
		return Version{}, fmt.Errorf("%s %s is %s: %s needs %s: %w", id, version, v.State, action, strings.Join(a.from, " or "), api.ErrConflict)
	}
	cs := ""
	if a.to == Released {
		if s.cfg.Key == nil {
			return Version{}, errors.New("release: the hub has no marketplace key")
		}
		keys, err := s.Keys(ctx, v.Provider)
		if err != nil {
			return Version{}, err
		}
		var signerKey ed25519.PublicKey
		for _, k := range keys {
			if k.ID == v.Signer && !k.Revoked {
				pk, _ := sign.ParsePublicKeys([]byte(k.PublicKey))
				signerKey = pk[0]
			}
		}
		if signerKey == nil {
			return Version{}, fmt.Errorf("release: the key %s that signed %s %s is revoked: %w", v.Signer, id, version, api.ErrConflict)
		}
		env, err := svcpack.Countersign(s.cfg.Key, v.SHA256, svcpack.Package{ID: id, Version: version, Provider: v.Provider}, signerKey)
		if err != nil {
			return Version{}, err
		}
		b, _ := json.Marshal(env)
		cs = string(b)
	}
	now := s.cfg.Now().UTC()
	q := `UPDATE market_versions SET state = $1, note = $2, changed = $3, changed_by = $4 WHERE listing = $5 AND version = $6 AND state = $7`
	args := []any{a.to, note, meta.Nanos(now), by, id, version, v.State}
	if cs != "" {
		q = `UPDATE market_versions SET state = $1, note = $2, changed = $3, changed_by = $4, countersign = $8 WHERE listing = $5 AND version = $6 AND state = $7`
		args = append(args, cs)
	}
	if err := meta.Changed(s.cfg.DB.ExecContext(ctx, q, args...)); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return Version{}, fmt.Errorf("%s %s changed meanwhile: %w", id, version, api.ErrConflict)
		}
		return Version{}, err
	}
	if a.to == Revoked {
		// The data-sharing grants accepted for it end with it.
		if err := s.endGrants(ctx, `listing = $4 AND version = $5`, by, EndRevoked, now, id, version); err != nil {
			return Version{}, err
		}
	}
	if a.to == Revoked || a.to == Released {
		// Edges with an install of it fetch their manifest now; a revoked
		// version leaves their desired state (ServiceParts).
		if err := s.wakeInstallers(ctx, id, version); err != nil {
			return Version{}, err
		}
	}
	return s.Version(ctx, id, version)
}

func (s *Service) wakeInstallers(ctx context.Context, id, version string) error {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT DISTINCT org FROM market_installs WHERE listing = $1 AND version = $2`, id, version)
	if err != nil {
		return fmt.Errorf("installs of %s %s: %w", id, version, err)
	}
	defer rows.Close()
	for rows.Next() {
		var org string
		if err := rows.Scan(&org); err != nil {
			return err
		}
		s.cfg.Fleet.Wake(org)
	}
	return rows.Err()
}

// Archive returns a version's package archive for an edge of org: only
// a released or deprecated version that org has installed; meta.ErrNotFound
// otherwise.
func (s *Service) Archive(ctx context.Context, org, sha string) ([]byte, error) {
	var n int
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM market_versions v JOIN market_installs i ON i.listing = v.listing AND i.version = v.version
		WHERE v.sha256 = $1 AND i.org = $2 AND v.state IN ('released', 'deprecated')`, sha, org).Scan(&n)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("package %s: %w", sha, meta.ErrNotFound)
	}
	b, err := s.blobs.Read(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", sha, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != sha {
		return nil, fmt.Errorf("package %s: the stored file changed", sha)
	}
	return b, nil
}
