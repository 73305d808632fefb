package fleet

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uplink"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: edges.
var Migrations = meta.Migrations{Domain: "fleet", FS: meta.Dir(migrations, "migrations"), Adopt: []string{"edges"}}

// EnrollTTL is how long a one-time enrollment token stays valid.
const EnrollTTL = 24 * time.Hour

// Edge is an enrolled (or enrollable) edge.
type Edge struct {
	ID            string
	Org           string
	Name          string
	EnrollHash    string    // hex SHA-256 of the one-time enrollment token; "" once used
	EnrollExpires time.Time // when the enrollment token stops working
	CredHash      string    // hex SHA-256 of the edge's bearer credential; "" for none
	// PublicKey is the Ed25519 key the edge signs its requests with
	// (uplink.EncodeKey); "" for an edge that authenticates by CredHash.
	PublicKey string
	// PrevKey is the edge's key before its last change, accepted until
	// PrevUntil; "" for none.
	PrevKey   string
	PrevUntil time.Time
	Revoked   bool
	Created   time.Time
	Enrolled  time.Time // zero until enrolled
}

// Service keeps the hub's edges: registration with one-time enrollment
// tokens, enrollment, revocation, and the authentication of edge
// credentials.
type Service struct {
	db       *meta.DB
	log      *slog.Logger
	now      func() time.Time
	enrolled prometheus.Counter
	audit    audit.Recorder  // nil: enrollments are only logged
	replays  replays         // nonces of signed requests
	keyring  *uplink.Keyring // encrypts secrets at rest; nil: none can be set
	// margoRefused counts Margo requests refused for their content, by status.
	margoRefused *prometheus.CounterVec
	// rollouts counts rollouts that ended, by state (completed, aborted),
	// and edgesJudged the edges judged failed or skipped, by state.
	rollouts, edgesJudged *prometheus.CounterVec
	wake                  wakers        // long polls waiting for a change of their organisation or edge
	recheck               time.Duration // how often long polls read the database besides being woken
	pollsHeld             prometheus.Gauge
	// stop ends long polls when the hub closes (StopWaiting).
	stop     chan struct{}
	stopInit sync.Once
	stopOnce sync.Once

	releases        ReleaseStore
	market          []ed25519.PublicKey // named to enrolling edges (SetMarketKeys)
	releasesRefused prometheus.Counter

	serviceParts ServiceParts // nil: no marketplace
}

// RecordTo has the service record enrollments, key changes and
// revocations in the audit log.
func (s *Service) RecordTo(r audit.Recorder) { s.audit = r }

// New returns the service on db, migrating its tables, with its metrics
// registered in reg. now is the clock (nil: time.Now).
func New(ctx context.Context, db *meta.DB, log *slog.Logger, now func() time.Time, reg prometheus.Registerer) (*Service, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, log: log, now: now, recheck: DefaultRecheck, enrolled: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "molen_hub_edges_enrolled_total", Help: "Successful edge enrollments."})}
	s.margoRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_margo_refused_total",
		Help: "Requests of Margo clients refused for what they sent, by HTTP status (400, 403, 406, 422)."}, []string{"status"})
	s.rollouts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_rollouts_ended_total",
		Help: "Rollouts that ended, by state: completed, aborted."}, []string{"state"})
	s.edgesJudged = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_rollout_edges_total",
		Help: "Edges of rollouts judged failed (refused, failed, rolled back, stuck) or skipped (offline), by state."}, []string{"state"})
	for _, st := range []string{RolloutCompleted, RolloutAborted} {
		s.rollouts.WithLabelValues(st)
	}
	for _, st := range []string{EdgeFailed, EdgeSkipped} {
		s.edgesJudged.WithLabelValues(st)
	}
	s.releasesRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "molen_hub_releases_refused_total", Help: "Release uploads refused for their envelope or signature."})
	s.pollsHeld = prometheus.NewGauge(prometheus.GaugeOpts{Name: "molen_hub_command_polls_held",
		Help: "Edges' long polls for commands and desired state this hub holds, waiting for a change."})
	reg.MustRegister(s.enrolled, s.margoRefused, s.rollouts, s.edgesJudged, s.releasesRefused, s.pollsHeld)
	return s, nil
}

// CreateEdge registers a new edge of org and returns it with its one-time
// enrollment token (valid for EnrollTTL). Only the token's hash is stored.
func (s *Service) CreateEdge(ctx context.Context, org, name string) (Edge, string, error) {
	now := s.now()
	token := secret.New(secret.PrefixEnroll)
	e := Edge{
		ID:            "edge-" + secret.New("")[:12],
		Org:           org,
		Name:          name,
		EnrollHash:    secret.Hash(token),
		EnrollExpires: now.Add(EnrollTTL),
		Created:       now,
	}
	if err := s.Insert(ctx, e); err != nil {
		return Edge{}, "", err
	}
	return e, token, nil
}

// Insert stores e as it is; meta.ErrExists if its ID, enrollment or
// credential hash is taken. CreateEdge is what registers an edge; Insert
// is for edges made elsewhere (tests, imports).
func (s *Service) Insert(ctx context.Context, e Edge) error {
	err := meta.CheckText(e.ID, e.Org, e.Name, e.EnrollHash, e.CredHash)
	if err == nil && (e.ID == "" || e.Org == "") {
		err = fmt.Errorf("%w: empty id or organisation", meta.ErrInvalid)
	}
	if err == nil {
		// ON CONFLICT without a target covers the id and the unique
		// enrollment and credential hashes alike.
		err = meta.Inserted(s.db.ExecContext(ctx, `INSERT INTO edges (`+edgeColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			e.ID, e.Org, e.Name, e.EnrollHash, meta.Nanos(e.EnrollExpires), e.CredHash, e.Revoked, meta.Nanos(e.Created), meta.Nanos(e.Enrolled),
			e.PublicKey, e.PrevKey, meta.Nanos(e.PrevUntil)))
	}
	if err != nil {
		return fmt.Errorf("create edge %s of %s: %w", e.ID, e.Org, err)
	}
	return nil
}

const edgeColumns = `id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled, pubkey, prev_key, prev_until`

type scanner interface{ Scan(dest ...any) error }

func scanEdge(sc scanner) (Edge, error) {
	var e Edge
	var expires, created, enrolled, prevUntil int64
	err := meta.Found(sc.Scan(&e.ID, &e.Org, &e.Name, &e.EnrollHash, &expires, &e.CredHash, &e.Revoked, &created, &enrolled,
		&e.PublicKey, &e.PrevKey, &prevUntil))
	if err != nil {
		return Edge{}, err
	}
	e.EnrollExpires, e.Created, e.Enrolled, e.PrevUntil = meta.Time(expires), meta.Time(created), meta.Time(enrolled), meta.Time(prevUntil)
	return e, nil
}

// Edge returns an edge of org, or meta.ErrNotFound (also for another
// org's edge).
func (s *Service) Edge(ctx context.Context, org, id string) (Edge, error) {
	e, err := Edge{}, error(meta.ErrNotFound)
	if meta.Text(org) && meta.Text(id) {
		e, err = scanEdge(s.db.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE org = $1 AND id = $2`, org, id))
	}
	if err != nil {
		return Edge{}, fmt.Errorf("edge %s of %s: %w", id, org, err)
	}
	return e, nil
}

// Edges lists the edges of org by ID.
func (s *Service) Edges(ctx context.Context, org string) ([]Edge, error) {
	if !meta.Text(org) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("edges of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Edge
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
	// By ID in byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b Edge) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Connected returns the organisations with an enrolled edge that is not
// revoked.
func (s *Service) Connected(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT org FROM edges WHERE enrolled <> 0 AND NOT revoked`)
	if err != nil {
		return nil, fmt.Errorf("connected organisations: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var org string
		if err := rows.Scan(&org); err != nil {
			return nil, fmt.Errorf("connected organisations: %w", err)
		}
		out[org] = true
	}
	return out, rows.Err()
}

// Revoke marks an edge of org revoked: its credential stops working at
// once. meta.ErrNotFound if org has no such edge.
func (s *Service) Revoke(ctx context.Context, org, id string) error {
	err := error(meta.ErrNotFound)
	if meta.Text(org) && meta.Text(id) {
		err = meta.Changed(s.db.ExecContext(ctx, `UPDATE edges SET revoked = $1 WHERE org = $2 AND id = $3`, true, org, id))
	}
	if err != nil {
		return fmt.Errorf("revoke edge %s of %s: %w", id, org, err)
	}
	return nil
}

// consume spends a one-time enrollment token: the edge whose EnrollHash
// is enrollHash, not revoked and not expired at now, gets credHash as its
// credential (or pubkey as its key), its EnrollHash cleared and Enrolled
// set to now. The check
// and the update are one UPDATE, which both databases run atomically (on
// PostgreSQL the second of two concurrent ones waits for the first's row
// lock, re-checks the row and updates nothing), so a token works once.
// meta.ErrNotFound otherwise; meta.ErrExists if credHash or pubkey
// belongs to another edge.
func (s *Service) consume(ctx context.Context, enrollHash, credHash, pubkey string, now time.Time) (Edge, error) {
	e, err := scanEdge(s.db.QueryRowContext(ctx, `UPDATE edges SET cred_hash = $1, pubkey = $4, enroll_hash = '', enrolled = $2
		WHERE enroll_hash = $3 AND enroll_hash <> '' AND NOT revoked AND enroll_expires > $2
		RETURNING `+edgeColumns, credHash, meta.Nanos(now), enrollHash, pubkey))
	if meta.Unique(err) {
		err = meta.ErrExists
	}
	return e, err
}

// Enroll exchanges a one-time enrollment token for an edge credential and
// returns the edge with it. The edge should propose its own credential
// (generated and stored before it asks): then a lost answer costs
// nothing, because asking again with the same credential is answered with
// the same enrollment, even though the token is used up. Possession of an
// enrolled, unrevoked credential is the proof. With credential "" the hub
// generates one (for scripts). A token that is unknown, used (by another
// credential), expired or revoked is api.ErrUnauthenticated; a malformed
// proposal api.ErrBadRequest.
func (s *Service) Enroll(ctx context.Context, token, credential string) (Edge, string, error) {
	cred := credential
	if cred == "" {
		cred = secret.New(secret.PrefixCredential)
	} else if !secret.WellFormed(cred, secret.PrefixCredential) {
		return Edge{}, "", api.BadRequest("credential: must be %s followed by 43 base64url characters (256 random bits)", secret.PrefixCredential)
	}
	err := error(meta.ErrNotFound)
	var e Edge
	if token != "" && meta.Text(token) {
		e, err = s.consume(ctx, secret.Hash(token), secret.Hash(cred), "", s.now())
	}
	if errors.Is(err, meta.ErrNotFound) && credential != "" {
		// Asked again after a lost answer?
		if prev, perr := s.byCredential(ctx, cred); perr == nil {
			return prev, cred, nil
		}
	}
	if errors.Is(err, meta.ErrNotFound) {
		return Edge{}, "", api.ErrUnauthenticated
	}
	if err != nil {
		return Edge{}, "", fmt.Errorf("enroll: %w", err)
	}
	s.enrolledNow(ctx, e, "credential")
	return e, cred, nil
}

// EnrollKey spends a one-time enrollment token for an edge that
// authenticates by key: pub is its Ed25519 public key and proof its
// signature of uplink.EnrollProof(token), which shows that the edge
// holds the key. Asking again with the same key and token after a lost
// answer is answered with the same enrollment (the proof is the
// possession of the key). Errors as Enroll's; api.ErrBadRequest for a
// proof that does not verify.
func (s *Service) EnrollKey(ctx context.Context, token string, pub ed25519.PublicKey, proof string) (Edge, error) {
	if !uplink.CheckProof(pub, uplink.EnrollProof(token), proof) {
		return Edge{}, api.BadRequest("proof: must be the key's Ed25519 signature of the enrollment statement (docs/api.md)")
	}
	return s.enrollPublicKey(ctx, token, pub, "key")
}

// enrollPublicKey spends token for an edge whose possession of pub was
// proven (by says how), or answers the enrollment of before for pub.
func (s *Service) enrollPublicKey(ctx context.Context, token string, pub ed25519.PublicKey, by string) (Edge, error) {
	key := uplink.EncodeKey(pub)
	err := error(meta.ErrNotFound)
	var e Edge
	if token != "" && meta.Text(token) {
		e, err = s.consume(ctx, secret.Hash(token), "", key, s.now())
	}
	if errors.Is(err, meta.ErrNotFound) {
		// Asked again after a lost answer?
		if prev, perr := scanEdge(s.db.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE pubkey = $1`, key)); perr == nil && !prev.Revoked {
			return prev, nil
		}
		return Edge{}, api.ErrUnauthenticated
	}
	if err != nil {
		return Edge{}, fmt.Errorf("enroll: %w", err)
	}
	s.enrolledNow(ctx, e, by)
	return e, nil
}

// enrolledNow counts, logs and records an enrollment that took place.
func (s *Service) enrolledNow(ctx context.Context, e Edge, by string) {
	s.enrolled.Inc()
	s.log.Info("edge enrolled", "edge", e.ID, "org", e.Org, "name", e.Name, "by", by)
	detail := map[string]string{"name": e.Name, "by": by}
	if e.PublicKey != "" {
		detail["key"] = uplink.Fingerprint(e.PublicKey)
	}
	s.record(ctx, audit.Entry{Org: e.Org, Actor: e.ID, Action: "edge.enrolled", Target: e.ID, Detail: detail})
}

// record writes e to the audit log, if there is one; a failure is logged
// (the change it records has happened).
func (s *Service) record(ctx context.Context, e audit.Entry) {
	if s.audit == nil {
		return
	}
	if _, err := s.audit.Record(ctx, e); err != nil {
		s.log.Error("not recorded in the audit log", "action", e.Action, "edge", e.Target, "err", err)
	}
}

// byCredential returns the enrolled, unrevoked edge whose credential is
// cred: api.ErrUnauthenticated for an unknown one, api.ErrRevoked for a
// revoked one (so that its log can say why it is refused).
func (s *Service) byCredential(ctx context.Context, cred string) (Edge, error) {
	if !strings.HasPrefix(cred, secret.PrefixCredential) || !meta.Text(cred) {
		return Edge{}, api.ErrUnauthenticated
	}
	h := secret.Hash(cred)
	e, err := s.edgeByCredHash(ctx, h)
	if errors.Is(err, meta.ErrNotFound) {
		return Edge{}, api.ErrUnauthenticated
	}
	if err != nil {
		return Edge{}, fmt.Errorf("look up edge credential: %w", err)
	}
	// The lookup was by hash already; compare again in constant time so a
	// database that matched loosely (collation) cannot let one in.
	if subtle.ConstantTimeCompare([]byte(e.CredHash), []byte(h)) != 1 {
		return Edge{}, api.ErrUnauthenticated
	}
	if e.Revoked {
		return Edge{}, api.ErrRevoked
	}
	return e, nil
}

// edgeByCredHash returns the enrolled edge whose credential has hash h,
// revoked or not, or meta.ErrNotFound.
func (s *Service) edgeByCredHash(ctx context.Context, h string) (Edge, error) {
	if h == "" {
		return Edge{}, meta.ErrNotFound
	}
	return scanEdge(s.db.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE cred_hash = $1`, h))
}

// Authenticate implements api.Authenticator for edge credentials.
func (s *Service) Authenticate(ctx context.Context, cred string) (api.Principal, error) {
	e, err := s.byCredential(ctx, cred)
	if err != nil {
		return api.Principal{}, err
	}
	return api.Principal{Org: e.Org, Role: api.RoleEdge, Name: e.Name, Edge: e.ID}, nil
}
