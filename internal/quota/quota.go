package quota

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: quotas and daily usage.
var Migrations = meta.Migrations{Domain: "quota", FS: meta.Dir(migrations, "migrations")}

// Limits is an organisation's quota; 0 means no limit of that kind.
type Limits struct {
	Series       int64 `json:"series"`         // series it may have
	PointsPerDay int64 `json:"points_per_day"` // points it may store per UTC day
}

// The default quota: generous, so that only a runaway source reaches it. A
// factory with 2,000 series sampled once a second stores 172.8 million
// points a day.
var Default = Limits{Series: 100_000, PointsPerDay: 500_000_000}

// Reasons a point is refused, as counted and reported to the edge.
const (
	ReasonSeries = "series"         // its series would exceed the series quota
	ReasonPoints = "points_per_day" // the day's points quota is used up
)

// usageDays is how long daily usage is kept.
const usageDays = 7

// Lister lists an organisation's series: the store.
type Lister interface {
	Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error)
}

// Config configures the Service.
type Config struct {
	Meta  *meta.DB
	Store Lister
	// Default applies to organisations without their own quota; nil:
	// the package's Default. A limit of 0 in it means no limit.
	Default *Limits
	// OrgExists reports meta.ErrNotFound for an unknown organisation.
	OrgExists func(ctx context.Context, org string) error
	// Audit records quota changes.
	Audit    audit.Recorder
	Log      *slog.Logger     // default: discard
	Now      func() time.Time // default: time.Now
	Registry prometheus.Registerer
}

// Service keeps and enforces quotas.
type Service struct {
	db      *meta.DB
	st      Lister
	def     Limits
	exists  func(ctx context.Context, org string) error
	aud     audit.Recorder
	log     *slog.Logger
	now     func() time.Time
	refused *prometheus.CounterVec

	mu   sync.Mutex
	orgs map[string]*orgState
}

// orgState is what the Service keeps of one organisation in memory. Its
// mutex is held from Admit to Commit or Release, so one organisation's
// batches are admitted one at a time (other organisations' are not held).
type orgState struct {
	mu     sync.Mutex
	known  map[string]struct{} // its series; nil until loaded
	pruned int64               // the day usage was last pruned
}

// New returns the service, migrating its tables.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Meta.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	s := &Service{db: cfg.Meta, st: cfg.Store, def: Default, exists: cfg.OrgExists, aud: cfg.Audit, log: cfg.Log, now: cfg.Now,
		orgs: map[string]*orgState{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_quota_refused_points_total",
			Help: "Points refused by an organisation's quota, by organisation and reason (series, points_per_day)."}, []string{"org", "reason"}),
	}
	if cfg.Default != nil {
		s.def = *cfg.Default
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.exists == nil {
		s.exists = func(context.Context, string) error { return nil }
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(s.refused)
	}
	return s, nil
}

// Set stores the quota of org, replacing the one it had.
func (s *Service) Set(ctx context.Context, org string, l Limits) error {
	if l.Series < 0 || l.PointsPerDay < 0 {
		return fmt.Errorf("%w: quota of %s: negative limit", store.ErrInvalid, org)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO quota (org, series, points_per_day) VALUES ($1, $2, $3)
		ON CONFLICT (org) DO UPDATE SET series = excluded.series, points_per_day = excluded.points_per_day`, org, l.Series, l.PointsPerDay)
	if err != nil {
		return fmt.Errorf("set quota of %s: %w", org, err)
	}
	return nil
}

// Clear removes the quota of org: the default applies again.
func (s *Service) Clear(ctx context.Context, org string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM quota WHERE org = $1`, org); err != nil {
		return fmt.Errorf("clear quota of %s: %w", org, err)
	}
	return nil
}

// Limits returns the quota that applies to org and whether it is the
// default.
func (s *Service) Limits(ctx context.Context, org string) (Limits, bool, error) {
	var l Limits
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT series, points_per_day FROM quota WHERE org = $1`, org).Scan(&l.Series, &l.PointsPerDay))
	switch {
	case err == nil:
		return l, false, nil
	case errors.Is(err, meta.ErrNotFound):
		return s.def, true, nil
	}
	return Limits{}, false, fmt.Errorf("quota of %s: %w", org, err)
}

// Usage is what an organisation used of its quota today (UTC).
type Usage struct {
	Series        int64 `json:"series"`
	Points        int64 `json:"points"`         // stored today
	RefusedSeries int64 `json:"refused_series"` // points refused today by the series quota
	RefusedPoints int64 `json:"refused_points"` // points refused today by the day's quota
}

// day is the UTC day of t.
func day(t time.Time) int64 { return t.Unix() / 86400 }

// Usage returns what org used today.
func (s *Service) Usage(ctx context.Context, org string) (Usage, error) {
	st := s.state(org)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := s.load(ctx, org, st); err != nil {
		return Usage{}, err
	}
	u := Usage{Series: int64(len(st.known))}
	if err := s.today(ctx, org, &u); err != nil {
		return Usage{}, err
	}
	return u, nil
}

// today reads the day's counts of org into u.
func (s *Service) today(ctx context.Context, org string, u *Usage) error {
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT points, refused_series, refused_points FROM quota_usage WHERE org = $1 AND day = $2`,
		org, day(s.now())).Scan(&u.Points, &u.RefusedSeries, &u.RefusedPoints))
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("usage of %s: %w", org, err)
	}
	return nil
}

func (s *Service) state(org string) *orgState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.orgs[org]
	if st == nil {
		st = &orgState{}
		s.orgs[org] = st
	}
	return st
}

// load reads the series of org once.
func (s *Service) load(ctx context.Context, org string, st *orgState) error {
	if st.known != nil {
		return nil
	}
	infos, err := s.st.Series(ctx, org, "", 0)
	if err != nil {
		return fmt.Errorf("series of %s: %w", org, err)
	}
	st.known = make(map[string]struct{}, len(infos))
	for _, in := range infos {
		st.known[in.Path] = struct{}{}
	}
	return nil
}

// Forget drops what the Service remembers of org's series, after series
// were deleted, renamed or merged: the next Admit reads them again.
func (s *Service) Forget(org string) {
	st := s.state(org)
	st.mu.Lock()
	st.known = nil
	st.mu.Unlock()
}

// Admission is one batch's admission: the points it refused, by reason.
// Its caller stores the batch, then calls Commit, or Release if storing
// failed; until then the organisation's other batches wait.
type Admission struct {
	Refused map[string]int // points refused, by reason; empty if none

	s        *Service
	org      string
	st       *orgState
	day      int64
	points   int64
	series   []string // admitted new series
	released bool
}

// Admit takes the points of recs (the batch's records not yet stored)
// that exceed org's quota out of them, in place, and returns what it took.
// Events are not counted.
func (s *Service) Admit(ctx context.Context, org string, recs []store.Record) (*Admission, error) {
	lim, _, err := s.Limits(ctx, org)
	if err != nil {
		return nil, err
	}
	st := s.state(org)
	st.mu.Lock()
	a := &Admission{s: s, org: org, st: st, day: day(s.now()), Refused: map[string]int{}}
	if err := s.load(ctx, org, st); err != nil {
		a.Release()
		return nil, err
	}
	var used Usage
	if err := s.today(ctx, org, &used); err != nil {
		a.Release()
		return nil, err
	}
	fresh := map[string]struct{}{}
	for i := range recs {
		kept := recs[i].Points[:0:0]
		for _, p := range recs[i].Points {
			_, known := st.known[p.Series]
			if _, ok := fresh[p.Series]; !known && !ok {
				if lim.Series > 0 && int64(len(st.known)+len(fresh)) >= lim.Series {
					a.Refused[ReasonSeries]++
					continue
				}
			}
			if lim.PointsPerDay > 0 && used.Points+a.points >= lim.PointsPerDay {
				a.Refused[ReasonPoints]++
				continue
			}
			if !known {
				if _, ok := fresh[p.Series]; !ok {
					fresh[p.Series] = struct{}{}
					a.series = append(a.series, p.Series)
				}
			}
			a.points++
			kept = append(kept, p)
		}
		if len(kept) < len(recs[i].Points) {
			recs[i].Points = kept
		}
	}
	return a, nil
}

// Commit records the admitted batch as stored: its points and series
// count against the quota from now on, and its refusals are counted.
func (a *Admission) Commit(ctx context.Context) error {
	if a.released {
		return nil
	}
	defer a.Release()
	s := a.s
	for _, p := range a.series {
		a.st.known[p] = struct{}{}
	}
	for reason, n := range a.Refused {
		s.refused.WithLabelValues(a.org, reason).Add(float64(n))
	}
	if a.points == 0 && len(a.Refused) == 0 {
		return nil
	}
	rs, rp := a.Refused[ReasonSeries], a.Refused[ReasonPoints]
	if _, err := s.db.ExecContext(ctx, `INSERT INTO quota_usage (org, day, points, refused_series, refused_points) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org, day) DO UPDATE SET points = quota_usage.points + excluded.points,
			refused_series = quota_usage.refused_series + excluded.refused_series,
			refused_points = quota_usage.refused_points + excluded.refused_points`,
		a.org, a.day, a.points, rs, rp); err != nil {
		return fmt.Errorf("usage of %s: %w", a.org, err)
	}
	if len(a.Refused) > 0 {
		s.log.Warn("quota refused points", "org", a.org, "series", rs, "points_per_day", rp)
	}
	if a.st.pruned != a.day {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM quota_usage WHERE org = $1 AND day < $2`, a.org, a.day-usageDays); err != nil {
			return fmt.Errorf("prune usage of %s: %w", a.org, err)
		}
		a.st.pruned = a.day
	}
	return nil
}

// Release ends the admission without recording it. It may follow Commit.
func (a *Admission) Release() {
	if !a.released {
		a.released = true
		a.st.mu.Unlock()
	}
}
