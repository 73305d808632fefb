package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// Server serves /api/v1/.
type Server struct {
	Store    store.Store
	Auth     *auth.Authenticator
	Receiver *uplink.Receiver
	Log      *slog.Logger
	Now      func() time.Time // default time.Now
	// MaxUplinks bounds the uplink batches stored at once; more get 503 and
	// the edge retries. Default DefaultMaxUplinks.
	MaxUplinks int
	// DefaultRetention is the retention of an organisation that has set
	// none (GET /api/v1/retention shows it as the default).
	DefaultRetention store.Retention

	metrics *metrics
	uplinks chan struct{} // semaphore of MaxUplinks
}

// DefaultMaxUplinks is the default bound on concurrent uplink batches: each
// holds up to uplink.MaxBatchBytes decoded, and storage serialises writes.
const DefaultMaxUplinks = 8

type metrics struct {
	batches  *prometheus.CounterVec
	records  *prometheus.CounterVec
	points   prometheus.Counter
	enrolled prometheus.Counter
}

// Register adds the API's metrics to reg.
func (s *Server) Register(reg prometheus.Registerer) {
	s.metrics = &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_hub_uplink_batches_total", Help: "Uplink batches by result (stored, unauthorized, malformed, busy, error)."}, []string{"result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_hub_uplink_records_total", Help: "Uplink records received, by outcome (stored, duplicate)."}, []string{"outcome"}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_hub_points_stored_total", Help: "Points stored from uplinks."}),
		enrolled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_hub_edges_enrolled_total", Help: "Successful edge enrollments."}),
	}
	for _, r := range []string{"stored", "unauthorized", "malformed", "busy", "error"} {
		s.metrics.batches.WithLabelValues(r)
	}
	reg.MustRegister(s.metrics.batches, s.metrics.records, s.metrics.points, s.metrics.enrolled)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler returns the API routes.
func (s *Server) Handler() http.Handler {
	if s.metrics == nil {
		s.Register(prometheus.NewRegistry())
	}
	if s.MaxUplinks <= 0 {
		s.MaxUplinks = DefaultMaxUplinks
	}
	s.uplinks = make(chan struct{}, s.MaxUplinks)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/enroll", s.enroll)
	mux.HandleFunc("POST /api/v1/uplink", s.uplink)
	mux.HandleFunc("GET /api/v1/whoami", s.viewer(s.whoami))
	mux.HandleFunc("GET /api/v1/series", s.viewer(s.series))
	mux.HandleFunc("GET /api/v1/latest", s.viewer(s.latest))
	mux.HandleFunc("GET /api/v1/query", s.viewer(s.query))
	mux.HandleFunc("GET /api/v1/events", s.viewer(s.events))
	mux.HandleFunc("GET /api/v1/export", s.viewer(s.export))
	mux.HandleFunc("GET /api/v1/oee", s.viewer(s.oee))
	mux.HandleFunc("GET /api/v1/downtime/pareto", s.viewer(s.pareto))
	mux.HandleFunc("GET /api/v1/retention", s.viewer(s.getRetention))
	mux.HandleFunc("PUT /api/v1/retention", s.admin(s.putRetention))
	mux.HandleFunc("DELETE /api/v1/retention", s.admin(s.deleteRetention))
	mux.HandleFunc("GET /api/v1/edges", s.admin(s.listEdges))
	mux.HandleFunc("POST /api/v1/edges", s.admin(s.createEdge))
	mux.HandleFunc("POST /api/v1/edges/{id}/revoke", s.admin(s.revokeEdge))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such API endpoint: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal)

func (s *Server) withRole(role store.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := auth.Bearer(r)
		if !ok {
			writeError(w, s.Log, r, auth.ErrUnauthenticated)
			return
		}
		p, err := s.Auth.Token(r.Context(), secret)
		if err != nil {
			writeError(w, s.Log, r, err)
			return
		}
		if !p.Can(role) {
			writeError(w, s.Log, r, auth.ErrForbidden)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) viewer(h handler) http.HandlerFunc { return s.withRole(store.Viewer, h) }
func (s *Server) admin(h handler) http.HandlerFunc  { return s.withRole(store.Admin, h) }

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"org": p.Org, "role": string(p.Role), "name": p.Name})
}

// pointJSON is a point on the API: time in unix ms, value as JSON.
type pointJSON struct {
	Series string `json:"series"`
	TS     int64  `json:"ts"`
	Value  any    `json:"value"`
	Q      string `json:"q"`
}

func toJSON(p uns.Point) pointJSON {
	return pointJSON{Series: p.Series, TS: p.TS / 1e6, Value: p.Value.Any(), Q: p.Quality.String()}
}

// prefixQuery reads the prefix and limit parameters of the listing endpoints.
func prefixQuery(r *http.Request) (prefix string, limit int, err error) {
	q := r.URL.Query()
	prefix = q.Get("prefix")
	if err := uns.ValidatePrefix(prefix); err != nil {
		return "", 0, badRequest("prefix: %v", err)
	}
	limit, err = parseLimit("limit", q.Get("limit"), DefaultLimit, MaxLimit)
	return prefix, limit, err
}

func (s *Server) series(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	prefix, limit, err := prefixQuery(r)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	infos, err := s.Store.Series(r.Context(), p.Org, prefix, limit)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
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
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

func (s *Server) latest(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	prefix, limit, err := prefixQuery(r)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	pts, err := s.Store.Latest(r.Context(), p.Org, prefix, limit)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"points": pointsJSON(pts)})
}

func pointsJSON(pts []uns.Point) []pointJSON {
	out := make([]pointJSON, len(pts))
	for i, pt := range pts {
		out[i] = toJSON(pt)
	}
	return out
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	series := q.Get("series")
	if err := uns.ValidatePath(series); err != nil {
		writeError(w, s.Log, r, badRequest("series: %v", err))
		return
	}
	from, to, err := parseRange(q, s.now())
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	aggName := q.Get("agg")
	if aggName == "" {
		aggName = "avg"
	}
	if aggName == "raw" {
		s.raw(w, r, p, series, from, to)
		return
	}
	agg, err := store.ParseAgg(aggName)
	if err != nil {
		writeError(w, s.Log, r, badRequest("agg: %v (or raw)", err))
		return
	}
	var step int64
	switch st, pts := q.Get("step"), q.Get("points"); {
	case st != "" && pts != "":
		writeError(w, s.Log, r, badRequest("give step or points, not both"))
		return
	case st != "":
		if step, err = parseStep(st); err != nil {
			writeError(w, s.Log, r, err)
			return
		}
	default:
		n, err := parseLimit("points", pts, 300, MaxBuckets)
		if err != nil {
			writeError(w, s.Log, r, err)
			return
		}
		step = autoStep(to-from, n)
	}
	// to > from >= 0, so this cannot overflow (to - from + step - 1 could).
	n := (to - from) / step
	if (to-from)%step != 0 {
		n++
	}
	if n > MaxBuckets {
		writeError(w, s.Log, r, badRequest("%d buckets of %s over this range; the limit is %d: use a larger step or a shorter range",
			n, time.Duration(step), MaxBuckets))
		return
	}
	buckets, err := s.Store.Aggregate(r.Context(), p.Org, series, from, to, step, agg)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
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
	writeJSON(w, http.StatusOK, map[string]any{
		"series": series, "agg": agg, "from": from / 1e6, "to": to / 1e6, "step_ms": step / 1e6, "buckets": out,
	})
}

// MaxEventsLimit bounds one events query.
const MaxEventsLimit = 10_000

func (s *Server) events(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	eq := store.EventQuery{AssetPrefix: q.Get("asset"), Kind: q.Get("kind")}
	if err := uns.ValidatePrefix(eq.AssetPrefix); err != nil {
		writeError(w, s.Log, r, badRequest("asset: %v", err))
		return
	}
	if eq.Kind != "" {
		if err := uns.ValidateEvent(uns.Event{Asset: "x", Kind: eq.Kind}); err != nil {
			writeError(w, s.Log, r, badRequest("kind: %v", err))
			return
		}
	}
	var err error
	if eq.From, eq.To, err = parseRange(q, s.now()); err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	if eq.Limit, err = parseLimit("limit", q.Get("limit"), 1000, MaxEventsLimit); err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	evs, err := s.Store.Events(r.Context(), p.Org, eq)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	type eventJSON struct {
		Asset string            `json:"asset"`
		Kind  string            `json:"kind"`
		Start int64             `json:"start"`
		End   *int64            `json:"end,omitempty"`
		Attrs map[string]string `json:"attrs,omitempty"`
	}
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventJSON{Asset: e.Asset, Kind: e.Kind, Start: e.Start / 1e6, Attrs: e.Attrs}
		if e.End != 0 {
			end := e.End / 1e6
			out[i].End = &end
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "truncated": len(evs) == eq.Limit})
}

func (s *Server) raw(w http.ResponseWriter, r *http.Request, p auth.Principal, series string, from, to int64) {
	limit, err := parseLimit("limit", r.URL.Query().Get("limit"), DefaultRawLimit, MaxRawLimit)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	pts, err := s.Store.Raw(r.Context(), p.Org, series, from, to, limit)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"series": series, "agg": "raw", "from": from / 1e6, "to": to / 1e6, "points": pointsJSON(pts), "truncated": len(pts) == limit,
	})
}

// uplink receives a batch from an enrolled edge. The answer is 200 only
// after the batch is stored; the edge deletes it from its outbox then.
func (s *Server) uplink(w http.ResponseWriter, r *http.Request) {
	secret, ok := auth.Bearer(r)
	if !ok {
		s.metrics.batches.WithLabelValues("unauthorized").Inc()
		writeError(w, s.Log, r, auth.ErrUnauthenticated)
		return
	}
	e, err := s.Auth.Edge(r.Context(), secret)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) || errors.Is(err, auth.ErrRevoked) {
			s.metrics.batches.WithLabelValues("unauthorized").Inc()
		} else {
			s.metrics.batches.WithLabelValues("error").Inc()
		}
		writeError(w, s.Log, r, err)
		return
	}
	select {
	case s.uplinks <- struct{}{}:
		defer func() { <-s.uplinks }()
	default:
		s.metrics.batches.WithLabelValues("busy").Inc()
		writeError(w, s.Log, r, errBusy)
		return
	}
	res, err := s.Receiver.Receive(r.Context(), e.Org, e.ID, r.Header.Get("Content-Encoding"), r.Body)
	if err != nil {
		if errors.Is(err, uplink.ErrMalformed) || errors.Is(err, uplink.ErrTooLarge) || errors.Is(err, uplink.ErrInvalidRecord) {
			s.metrics.batches.WithLabelValues("malformed").Inc()
			s.Log.Warn("malformed uplink batch", "edge", e.ID, "err", err)
		} else {
			s.metrics.batches.WithLabelValues("error").Inc()
		}
		writeError(w, s.Log, r, err)
		return
	}
	s.metrics.batches.WithLabelValues("stored").Inc()
	s.metrics.records.WithLabelValues("stored").Add(float64(res.Stored))
	s.metrics.records.WithLabelValues("duplicate").Add(float64(res.Records - res.Stored))
	s.metrics.points.Add(float64(res.StoredPoints))
	writeJSON(w, http.StatusOK, res.Ack)
}

// enroll exchanges a one-time enrollment token for an edge credential.
//
// The edge should propose its own credential (generated and stored before
// it asks): then a lost answer costs nothing, because asking again with the
// same credential is answered with the same enrollment, even though the
// token is used up. Possession of an enrolled, unrevoked credential is the
// proof. Without a proposal the hub generates the credential (for scripts).
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token      string `json:"token"`
		Credential string `json:"credential"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Token == "" {
		writeError(w, s.Log, r, badRequest(`body must be {"token": "<enrollment token>", "credential": "<optional proposed credential>"}`))
		return
	}
	cred := req.Credential
	if cred == "" {
		cred = auth.NewSecret(auth.PrefixCredential)
	} else if !auth.WellFormed(cred, auth.PrefixCredential) {
		writeError(w, s.Log, r, badRequest("credential: must be %s followed by 43 base64url characters (256 random bits)", auth.PrefixCredential))
		return
	}
	e, err := s.Store.Enroll(r.Context(), auth.Hash(req.Token), auth.Hash(cred), s.now())
	if errors.Is(err, store.ErrNotFound) && req.Credential != "" {
		// Asked again after a lost answer?
		if prev, perr := s.Auth.Edge(r.Context(), cred); perr == nil {
			writeJSON(w, http.StatusOK, uplink.Enrollment{EdgeID: prev.ID, Org: prev.Org, Name: prev.Name, Credential: cred})
			return
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, s.Log, r, auth.ErrUnauthenticated)
		return
	}
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	s.metrics.enrolled.Inc()
	s.Log.Info("edge enrolled", "edge", e.ID, "org", e.Org, "name", e.Name)
	writeJSON(w, http.StatusOK, uplink.Enrollment{EdgeID: e.ID, Org: e.Org, Name: e.Name, Credential: cred})
}

type edgeJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Org           string     `json:"org"`
	Enrolled      *time.Time `json:"enrolled,omitempty"`
	Revoked       bool       `json:"revoked"`
	Created       time.Time  `json:"created"`
	EnrollToken   string     `json:"enroll_token,omitempty"` // only in the answer that creates it
	EnrollExpires *time.Time `json:"enroll_expires,omitempty"`
}

func edgeToJSON(e store.Edge) edgeJSON {
	out := edgeJSON{ID: e.ID, Name: e.Name, Org: e.Org, Revoked: e.Revoked, Created: e.Created.UTC()}
	if !e.Enrolled.IsZero() {
		t := e.Enrolled.UTC()
		out.Enrolled = &t
	}
	if e.EnrollHash != "" {
		t := e.EnrollExpires.UTC()
		out.EnrollExpires = &t
	}
	return out
}

func (s *Server) listEdges(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	edges, err := s.Store.Edges(r.Context(), p.Org)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	out := make([]edgeJSON, len(edges))
	for i, e := range edges {
		out[i] = edgeToJSON(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"edges": out})
}

func (s *Server) createEdge(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, s.Log, r, badRequest(`body must be {"name": "<edge name>"}: %v`, err))
		return
	}
	if req.Name == "" || len(req.Name) > 100 {
		writeError(w, s.Log, r, badRequest("name: must be 1..100 characters"))
		return
	}
	e, token, err := fleet.CreateEdge(r.Context(), s.Store, p.Org, req.Name, s.now())
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	out := edgeToJSON(e)
	out.EnrollToken = token
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) revokeEdge(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	if err := s.Store.RevokeEdge(r.Context(), p.Org, id); err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	s.Log.Info("edge revoked", "edge", id, "org", p.Org)
	e, err := s.Store.Edge(r.Context(), p.Org, id)
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, edgeToJSON(e))
}
