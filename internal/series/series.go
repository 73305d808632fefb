package series

import (
	"context"
	"embed"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/promql"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: the retention organisations set.
var Migrations = meta.Migrations{Domain: "series", FS: meta.Dir(migrations, "migrations"), Adopt: []string{"retention"}}

// Query limits: a request that would exceed them gets a 400 naming the limit.
const (
	MaxBuckets      = 10_000
	DefaultRawLimit = 10_000
	MaxRawLimit     = 100_000
	DefaultLimit    = 10_000
	MaxLimit        = 100_000
	// MaxEventsLimit bounds one events query.
	MaxEventsLimit = 10_000
)

// Store is the time-series storage the domain reads and expires.
type Store interface {
	store.Events
	store.SeriesAdmin
	Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error)
	Latest(ctx context.Context, org, prefix string, limit int) ([]uns.Point, error)
	Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error)
	Aggregate(ctx context.Context, org, series string, from, to, step int64, agg store.Agg) ([]store.Bucket, error)
	Expire(ctx context.Context, org string, r store.Retention, now time.Time) (store.ExpireStats, error)
}

// Config configures the Service.
type Config struct {
	Store Store
	Meta  *meta.DB
	// DefaultRetention applies to an organisation that has set none.
	DefaultRetention store.Retention
	// Audit records the series administrators delete, rename and merge.
	Audit audit.Recorder
	// Changed, if set, is told of each organisation whose series an
	// administrator deleted, renamed or merged (the quota counts them).
	Changed func(org string)
	Log     *slog.Logger     // default: discard
	Now     func() time.Time // default: time.Now
	// Registry takes the metrics of the Prometheus API; nil: none.
	Registry prometheus.Registerer
	// PromLimits bound a query of the Prometheus API; zero:
	// promql.DefaultLimits.
	PromLimits promql.Limits
}

// Service answers queries of series and events, and keeps and applies
// retention.
type Service struct {
	st      Store
	db      *meta.DB
	def     store.Retention
	aud     audit.Recorder
	changed func(org string)
	log     *slog.Logger
	now     func() time.Time

	promLimits promql.Limits
	promM      *promMetrics
}

// New returns the service, migrating its tables.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Meta.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	s := &Service{st: cfg.Store, db: cfg.Meta, def: cfg.DefaultRetention, aud: cfg.Audit, changed: cfg.Changed, log: cfg.Log, now: cfg.Now,
		promLimits: cfg.PromLimits, promM: newPromMetrics(cfg.Registry)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Routes are the domain's: series, latest values, queries, events,
// retention, and the Prometheus query API under PromPrefix.
func (s *Service) Routes() []api.Route {
	return append([]api.Route{
		{Method: "GET", Path: "/api/v1/series", Auth: api.Viewer, Area: "series", Handle: s.series},
		{Method: "GET", Path: "/api/v1/latest", Auth: api.Viewer, Area: "series", Handle: s.latest},
		{Method: "GET", Path: "/api/v1/query", Auth: api.Viewer, Area: "series", Handle: s.query},
		{Method: "GET", Path: "/api/v1/events", Auth: api.Viewer, Area: "series", Handle: s.events},
		{Method: "GET", Path: "/api/v1/retention", Auth: api.Viewer, Area: "series", Handle: s.getRetention},
		{Method: "PUT", Path: "/api/v1/retention", Auth: api.Admin, Area: "series", Handle: s.putRetention},
		{Method: "DELETE", Path: "/api/v1/retention", Auth: api.Admin, Area: "series", Handle: s.deleteRetention},
		{Method: "DELETE", Path: "/api/v1/series", Auth: api.Admin, Area: "series", Handle: s.deleteSeries, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/series/rename", Auth: api.Admin, Area: "series", Handle: s.renameSeries, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/series/merge", Auth: api.Admin, Area: "series", Handle: s.mergeSeries, SelfAudited: true},
	}, s.promRoutes()...)
}

// PointJSON is a point on the API: time in unix ms, value as JSON.
type PointJSON struct {
	Series string `json:"series"`
	TS     int64  `json:"ts"`
	Value  any    `json:"value"`
	Q      string `json:"q"`
}

// Point returns p as the API shows it.
func Point(p uns.Point) PointJSON {
	return PointJSON{Series: p.Series, TS: p.TS / 1e6, Value: p.Value.Any(), Q: p.Quality.String()}
}

func points(pts []uns.Point) []PointJSON {
	out := make([]PointJSON, len(pts))
	for i, pt := range pts {
		out[i] = Point(pt)
	}
	return out
}

// prefixQuery reads the prefix and limit parameters of the listing endpoints.
func prefixQuery(r *http.Request) (prefix string, limit int, err error) {
	q := r.URL.Query()
	prefix = q.Get("prefix")
	if err := uns.ValidatePrefix(prefix); err != nil {
		return "", 0, api.BadRequest("prefix: %v", err)
	}
	limit, err = api.Limit("limit", q.Get("limit"), DefaultLimit, MaxLimit)
	return prefix, limit, err
}

func (s *Service) series(r *http.Request, p api.Principal) (any, error) {
	prefix, limit, err := prefixQuery(r)
	if err != nil {
		return nil, err
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataAggregates, prefix)
	if err != nil {
		return nil, err
	}
	infos, err := s.st.Series(r.Context(), org, prefix, limit)
	if err != nil {
		return nil, err
	}
	type seriesJSON struct {
		Path  string `json:"path"`
		Kind  string `json:"kind"`
		First int64  `json:"first"`
		Last  int64  `json:"last"`
	}
	out := make([]seriesJSON, len(infos))
	for i, in := range infos {
		out[i] = seriesJSON{Path: in.Path, Kind: in.Kind.String(), First: in.First / 1e6, Last: in.Last / 1e6}
	}
	return map[string]any{"series": out}, nil
}

func (s *Service) latest(r *http.Request, p api.Principal) (any, error) {
	prefix, limit, err := prefixQuery(r)
	if err != nil {
		return nil, err
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataSeries, prefix)
	if err != nil {
		return nil, err
	}
	pts, err := s.st.Latest(r.Context(), org, prefix, limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"points": points(pts)}, nil
}

func (s *Service) query(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	series := q.Get("series")
	if err := uns.ValidatePath(series); err != nil {
		return nil, api.BadRequest("series: %v", err)
	}
	from, to, err := api.Range(q, s.now())
	if err != nil {
		return nil, err
	}
	aggName := q.Get("agg")
	if aggName == "" {
		aggName = "avg"
	}
	if aggName == "raw" {
		return s.raw(r, p, series, from, to)
	}
	agg, err := store.ParseAgg(aggName)
	if err != nil {
		return nil, api.BadRequest("agg: %v (or raw)", err)
	}
	org, err := api.DataOrg(r, p, api.DataAggregates, series)
	if err != nil {
		return nil, err
	}
	var step int64
	switch st, pts := q.Get("step"), q.Get("points"); {
	case st != "" && pts != "":
		return nil, api.BadRequest("give step or points, not both")
	case st != "":
		if step, err = parseStep(st); err != nil {
			return nil, err
		}
	default:
		n, err := api.Limit("points", pts, 300, MaxBuckets)
		if err != nil {
			return nil, err
		}
		step = autoStep(to-from, n)
	}
	// to > from >= 0, so this cannot overflow (to - from + step - 1 could).
	n := (to - from) / step
	if (to-from)%step != 0 {
		n++
	}
	if n > MaxBuckets {
		return nil, api.BadRequest("%d buckets of %s over this range; the limit is %d: use a larger step or a shorter range",
			n, time.Duration(step), MaxBuckets)
	}
	buckets, err := s.st.Aggregate(r.Context(), org, series, from, to, step, agg)
	if err != nil {
		return nil, err
	}
	type bucketJSON struct {
		TS    int64 `json:"ts"`
		Value any   `json:"value"`
		Count int64 `json:"count"`
	}
	out := make([]bucketJSON, len(buckets))
	for i, b := range buckets {
		out[i] = bucketJSON{TS: b.Start / 1e6, Value: b.Value.Any(), Count: b.Count}
		if f, ok := out[i].Value.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			out[i].Value = nil // a sum beyond float64; JSON has no number for it
		}
	}
	return map[string]any{
		"series": series, "agg": agg, "from": from / 1e6, "to": to / 1e6, "step_ms": step / 1e6, "buckets": out,
	}, nil
}

func (s *Service) raw(r *http.Request, p api.Principal, series string, from, to int64) (any, error) {
	limit, err := api.Limit("limit", r.URL.Query().Get("limit"), DefaultRawLimit, MaxRawLimit)
	if err != nil {
		return nil, err
	}
	org, err := api.DataOrg(r, p, api.DataSeries, series)
	if err != nil {
		return nil, err
	}
	pts, err := s.st.Raw(r.Context(), org, series, from, to, limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"series": series, "agg": "raw", "from": from / 1e6, "to": to / 1e6, "points": points(pts), "truncated": len(pts) == limit,
	}, nil
}

// EventQuery reads the asset and kind parameters of an events request.
func EventQuery(r *http.Request) (store.EventQuery, error) {
	q := r.URL.Query()
	eq := store.EventQuery{AssetPrefix: q.Get("asset"), Kind: q.Get("kind")}
	if err := uns.ValidatePrefix(eq.AssetPrefix); err != nil {
		return eq, api.BadRequest("asset: %v", err)
	}
	if eq.Kind != "" {
		if err := uns.ValidateEvent(uns.Event{Asset: "x", Kind: eq.Kind}); err != nil {
			return eq, api.BadRequest("kind: %v", err)
		}
	}
	return eq, nil
}

// EventJSON is an event on the API: times in unix ms, no end while open.
type EventJSON struct {
	Asset string            `json:"asset"`
	Kind  string            `json:"kind"`
	Start int64             `json:"start"`
	End   *int64            `json:"end,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Event returns e as the API shows it.
func Event(e uns.Event) EventJSON {
	out := EventJSON{Asset: e.Asset, Kind: e.Kind, Start: e.Start / 1e6, Attrs: e.Attrs}
	if e.End != 0 {
		end := e.End / 1e6
		out.End = &end
	}
	return out
}

func (s *Service) events(r *http.Request, p api.Principal) (any, error) {
	eq, err := EventQuery(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if eq.From, eq.To, err = api.Range(q, s.now()); err != nil {
		return nil, err
	}
	if eq.Limit, err = api.Limit("limit", q.Get("limit"), 1000, MaxEventsLimit); err != nil {
		return nil, err
	}
	org, asset, err := api.DataPrefix(r, p, api.DataSeries, eq.AssetPrefix)
	if err != nil {
		return nil, err
	}
	eq.AssetPrefix = asset
	evs, err := s.st.Events(r.Context(), org, eq)
	if err != nil {
		return nil, err
	}
	out := make([]EventJSON, len(evs))
	for i, e := range evs {
		out[i] = Event(e)
	}
	return map[string]any{"events": out, "truncated": len(evs) == eq.Limit}, nil
}

// parseStep reads a bucket width: a duration ("10s") or milliseconds.
func parseStep(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return 0, api.BadRequest("step=%q: must be a positive number of milliseconds", s)
		}
		return ms * 1e6, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		return 0, api.BadRequest("step=%q: want a duration of at least 1ms like 10s, or milliseconds", s)
	}
	return int64(d), nil
}

// niceSteps are the bucket widths automatic steps round up to, so charts
// get readable bucket boundaries.
var niceSteps = []time.Duration{
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// autoStep picks the smallest nice step giving at most n buckets over span.
func autoStep(span int64, n int) int64 {
	want := (span + int64(n) - 1) / int64(n)
	for _, s := range niceSteps {
		if int64(s) >= want {
			return int64(s)
		}
	}
	// Beyond a week: whole days.
	day := int64(24 * time.Hour)
	return (want + day - 1) / day * day
}
