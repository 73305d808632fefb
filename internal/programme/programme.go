package programme

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
	"github.com/molen-io/molen/internal/secret"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: the assessments, the network's
// (prog_…) and the academy's (acad_…).
var Migrations = meta.Migrations{Domain: "programme", FS: meta.Dir(migrations, "migrations")}

// Assessment is one digital maturity assessment of a company.
type Assessment struct {
	ID      string
	Org     string // the company
	Stage   dma.Stage
	Version int // of the questionnaire
	Answers dma.Answers
	Created time.Time
	// Actor made it (a user or token ID); ActorOrg is the actor's own
	// organisation when it is not Org (a hub's advisor by consent), else "".
	Actor, ActorOrg string
}

// Auditor records in the audit log within a transaction (*audit.Log).
type Auditor interface {
	RecordTx(ctx context.Context, tx *sql.Tx, e audit.Entry) (audit.Entry, error)
}

// Config is what New needs.
type Config struct {
	DB    *meta.DB
	Audit Auditor // required: every assessment is recorded
	// HubOf returns the hub a company belongs to (for its intervals), or
	// "" when it is under none.
	HubOf func(ctx context.Context, org string) (string, error)
	// Orgs is the organisation tree, for the registry and customers;
	// required.
	Orgs Orgs
	// Connected returns the companies with an enrolled edge, for the
	// funnel and the factories digitalising; nil: none.
	Connected func(ctx context.Context) (map[string]bool, error)
	// Evidence returns what molen measures of a company's factory; nil:
	// none.
	Evidence func(ctx context.Context, org string) (Evidence, error)
	// PublicURL is the hub's address as people reach it, for the
	// credentials' issuer; nil: http://localhost.
	PublicURL func() string
	// EmailOf returns a person's e-mail address by user ID, for their
	// skills passport; nil: no passports.
	EmailOf func(ctx context.Context, user string) (string, error)
	// Listings are the marketplace's services the journeys recommend;
	// nil: none.
	Listings Listings
	// Installs returns the edges and services installed at a company's
	// factory, for its timeline; nil: none.
	Installs func(ctx context.Context, org string) ([]Install, error)
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	Reg      prometheus.Registerer
}

// Service keeps assessments and hubs' intervals.
type Service struct {
	db       *meta.DB
	audit    Auditor
	hubOf    func(ctx context.Context, org string) (string, error)
	log      *slog.Logger
	now      func() time.Time
	rejected *prometheus.CounterVec
	made     prometheus.Counter

	orgs              Orgs
	connected         func(ctx context.Context) (map[string]bool, error)
	evidence          func(ctx context.Context, org string) (Evidence, error)
	scores            sync.Map // assessment ID → overall score
	questionnaires    sync.Map // version → *dma.Questionnaire
	rejectedCompanies *prometheus.CounterVec
	rejectedServices  *prometheus.CounterVec
	rejectedAcademy   *prometheus.CounterVec
	publicURL         func() string
	emailOf           func(ctx context.Context, user string) (string, error)
	learnerKeyCache   atomic.Pointer[[]byte]
	listings          Listings
	installs          func(ctx context.Context, org string) ([]Install, error)
}

// New returns the service, migrating its tables.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.HubOf == nil || cfg.Orgs == nil || cfg.Reg == nil {
		return nil, errors.New("programme: DB, Audit, HubOf, Orgs and Reg are required")
	}
	if err := cfg.DB.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	s := &Service{db: cfg.DB, audit: cfg.Audit, hubOf: cfg.HubOf, log: cfg.Log, now: cfg.Now,
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_dma_rejected_total",
			Help: "Digital maturity assessments refused, by reason (incomplete, contradictory, out_of_scale, unknown, malformed, order)."}, []string{"reason"}),
		made: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_dma_assessments_total",
			Help: "Digital maturity assessments stored."}),
		orgs: cfg.Orgs, connected: cfg.Connected, evidence: cfg.Evidence, publicURL: cfg.PublicURL, emailOf: cfg.EmailOf,
		listings: cfg.Listings, installs: cfg.Installs,
		rejectedAcademy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_academy_rejected_total",
			Help: "Academy and library records refused, by kind (course, route, learner, enrolment, completion, import, library)."}, []string{"kind"}),
		rejectedCompanies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_programme_companies_rejected_total",
			Help: "Customer registrations refused, by reason (invalid, duplicate)."}, []string{"reason"}),
		rejectedServices: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_programme_services_rejected_total",
			Help: "Service records and recommendations refused, by reason (invalid, market_price, recommendation)."}, []string{"reason"}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	cfg.Reg.MustRegister(s.rejected, s.made, s.rejectedCompanies, s.rejectedServices, s.rejectedAcademy)
	return s, nil
}

// reasons name the sentinels of dma for the rejected counter.
var reasons = []struct {
	err  error
	name string
}{
	{dma.ErrIncomplete, "incomplete"}, {dma.ErrContradictory, "contradictory"}, {dma.ErrOutOfScale, "out_of_scale"},
	{dma.ErrUnknown, "unknown"}, {dma.ErrMalformed, "malformed"}, {dma.ErrOrder, "order"}, {dma.ErrUnknownVersion, "unknown"},
}

// refuse counts err (once per reason it holds) and returns it as a bad
// request naming every problem.
func (s *Service) refuse(err error) error {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			s.rejected.WithLabelValues(r.name).Inc()
		}
	}
	return api.BadRequest("%v", err)
}

// Submit validates and stores an assessment of stage made by p for p's
// organisation, which must be a company, and records it in the company's
// audit log in the same transaction. Bad answers and an assessment out of
// order (a T1 without or before its T0, a second T0) are
// api.ErrBadRequest naming every problem.
func (s *Service) Submit(ctx context.Context, p api.Principal, stage dma.Stage, version int, a dma.Answers, addr string) (Assessment, dma.Result, error) {
	return s.SubmitAt(ctx, p, stage, version, a, addr, s.now())
}

// SubmitAt is Submit for an assessment made at at rather than now: for
// importing earlier assessments and for the demo's history.
func (s *Service) SubmitAt(ctx context.Context, p api.Principal, stage dma.Stage, version int, a dma.Answers, addr string, at time.Time) (Assessment, dma.Result, error) {
	if p.OrgKind != "company" {
		return Assessment{}, dma.Result{}, fmt.Errorf("%w: assessments are of companies; organisation %s is a %s (an advisor acts for a company after switching to it under its consent)", api.ErrForbidden, p.Org, p.OrgKind)
	}
	if version == 0 {
		version = dma.Latest
	}
	q, err := s.load(version)
	if err != nil {
		return Assessment{}, dma.Result{}, s.refuse(err)
	}
	res, err := q.Score(a)
	if err != nil {
		return Assessment{}, dma.Result{}, s.refuse(err)
	}
	for _, v := range a.Company {
		if err := meta.CheckText(v); err != nil {
			return Assessment{}, dma.Result{}, s.refuse(fmt.Errorf("company: %w", dma.ErrMalformed))
		}
	}
	body, err := json.Marshal(a)
	if err != nil {
		return Assessment{}, dma.Result{}, err
	}
	as := Assessment{ID: "dma_" + secret.New("")[:16], Org: p.Org, Stage: stage, Version: version, Answers: a,
		Created: at, Actor: p.Actor(), ActorOrg: p.Via}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		made, err := stagesTx(ctx, tx, p.Org)
		if err != nil {
			return err
		}
		if err := dma.CheckOrder(stage, as.Created, made); err != nil {
			return s.refuse(err)
		}
		if err := meta.Inserted(tx.ExecContext(ctx, `INSERT INTO dma_assessments (`+assessmentColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			as.ID, as.Org, string(as.Stage), as.Version, string(body), meta.Nanos(as.Created), as.Actor, as.ActorOrg)); err != nil {
			if errors.Is(err, meta.ErrExists) {
				// Another request stored this stage first.
				return s.refuse(fmt.Errorf("%s: the company has one already: %w", stage, dma.ErrOrder))
			}
			return err
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: as.Org, At: as.Created, Actor: as.Actor, ActorOrg: as.ActorOrg,
			Action: "dma.assessed", Target: as.ID, Addr: addr, Detail: map[string]string{
				"stage": string(stage), "version": strconv.Itoa(version),
				"overall": strconv.FormatFloat(res.Overall, 'f', 1, 64), "band": string(res.Band)}})
		return err
	})
	if err != nil {
		return Assessment{}, dma.Result{}, fmt.Errorf("store %s assessment of %s: %w", stage, p.Org, err)
	}
	s.made.Inc()
	return as, res, nil
}

const assessmentColumns = `id, org, stage, version, answers, created, actor, actor_org`

func scanAssessment(sc interface{ Scan(...any) error }) (Assessment, error) {
	var a Assessment
	var stage, body string
	var created int64
	if err := meta.Found(sc.Scan(&a.ID, &a.Org, &stage, &a.Version, &body, &created, &a.Actor, &a.ActorOrg)); err != nil {
		return Assessment{}, err
	}
	a.Stage, a.Created = dma.Stage(stage), meta.Time(created)
	if err := json.Unmarshal([]byte(body), &a.Answers); err != nil {
		return Assessment{}, fmt.Errorf("assessment %s: stored answers: %w", a.ID, err)
	}
	return a, nil
}

// stagesTx returns when org made each stage.
func stagesTx(ctx context.Context, tx *sql.Tx, org string) (map[dma.Stage]time.Time, error) {
	rows, err := tx.QueryContext(ctx, `SELECT stage, created FROM dma_assessments WHERE org = $1`, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	made := map[dma.Stage]time.Time{}
	for rows.Next() {
		var stage string
		var created int64
		if err := rows.Scan(&stage, &created); err != nil {
			return nil, err
		}
		made[dma.Stage(stage)] = meta.Time(created)
	}
	return made, rows.Err()
}

// Assessments lists org's assessments in stage order.
func (s *Service) Assessments(ctx context.Context, org string) ([]Assessment, error) {
	if !meta.Text(org) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+assessmentColumns+` FROM dma_assessments WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("assessments of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Assessment
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, fmt.Errorf("assessments of %s: %w", org, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assessments of %s: %w", org, err)
	}
	slices.SortFunc(out, func(a, b Assessment) int { return cmp.Compare(a.Stage, b.Stage) })
	return out, nil
}

// Assessment returns org's assessment id, or meta.ErrNotFound (also for
// another organisation's).
func (s *Service) Assessment(ctx context.Context, org, id string) (Assessment, error) {
	a, err := Assessment{}, error(meta.ErrNotFound)
	if meta.Text(org) && meta.Text(id) {
		a, err = scanAssessment(s.db.QueryRowContext(ctx, `SELECT `+assessmentColumns+` FROM dma_assessments WHERE org = $1 AND id = $2`, org, id))
	}
	if err != nil {
		return Assessment{}, fmt.Errorf("assessment %s of %s: %w", id, org, err)
	}
	return a, nil
}

// Score scores a stored assessment with the questionnaire it was made with.
func (s *Service) Score(a Assessment) (dma.Result, error) {
	q, err := s.load(a.Version)
	if err != nil {
		return dma.Result{}, err
	}
	return q.Score(a.Answers)
}

// load returns version v of the questionnaire, parsed once (a version
// never changes).
func (s *Service) load(v int) (*dma.Questionnaire, error) {
	if q, ok := s.questionnaires.Load(v); ok {
		return q.(*dma.Questionnaire), nil
	}
	q, err := dma.Load(v)
	if err != nil {
		return nil, err
	}
	stored, _ := s.questionnaires.LoadOrStore(v, q)
	return stored.(*dma.Questionnaire), nil
}

// Intervals returns a hub's intervals (the default if it set none).
func (s *Service) Intervals(ctx context.Context, hub string) (dma.Intervals, error) {
	iv := dma.DefaultIntervals
	if hub == "" || !meta.Text(hub) {
		return iv, nil
	}
	err := s.db.QueryRowContext(ctx, `SELECT t1_months, t2_months FROM dma_intervals WHERE hub = $1`, hub).Scan(&iv.T1Months, &iv.T2Months)
	if errors.Is(err, sql.ErrNoRows) {
		return dma.DefaultIntervals, nil
	}
	if err != nil {
		return dma.Intervals{}, fmt.Errorf("intervals of %s: %w", hub, err)
	}
	return iv, nil
}

// SetIntervals sets a hub's intervals.
func (s *Service) SetIntervals(ctx context.Context, hub string, iv dma.Intervals) error {
	if err := iv.Validate(); err != nil {
		return s.refuse(err)
	}
	err := meta.CheckText(hub)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `INSERT INTO dma_intervals (hub, t1_months, t2_months, updated) VALUES ($1, $2, $3, $4)
			ON CONFLICT (hub) DO UPDATE SET t1_months = excluded.t1_months, t2_months = excluded.t2_months, updated = excluded.updated`,
			hub, iv.T1Months, iv.T2Months, meta.Nanos(s.now()))
	}
	if err != nil {
		return fmt.Errorf("set intervals of %s: %w", hub, err)
	}
	return nil
}

// Next is the stage org is due for next and when, by its hub's intervals.
func (s *Service) Next(ctx context.Context, org string, list []Assessment) (dma.Stage, time.Time, error) {
	hub, err := s.hubOf(ctx, org)
	if err != nil {
		return "", time.Time{}, err
	}
	iv, err := s.Intervals(ctx, hub)
	if err != nil {
		return "", time.Time{}, err
	}
	made := map[dma.Stage]time.Time{}
	for _, a := range list {
		made[a.Stage] = a.Created
	}
	st, due := iv.Next(made)
	return st, due, nil
}
