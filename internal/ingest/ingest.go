package ingest

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/quota"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uplink"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxUplinks is the default bound on concurrent uplink batches: each
// holds up to uplink.MaxBatchBytes decoded, and storage serialises writes.
const DefaultMaxUplinks = 8

// Service receives uplink batches over HTTP.
type Service struct {
	receiver *Receiver
	log      *slog.Logger
	uplinks  chan struct{} // semaphore of the concurrent uplinks
	stored   func(org string, recs []store.Record)
	cluster  *clustered // nil: a single hub, storing batches itself

	batches *prometheus.CounterVec
	records *prometheus.CounterVec
	points  prometheus.Counter
}

// New returns a Service storing into st, at most maxUplinks batches at
// once (0: DefaultMaxUplinks), with its metrics registered in reg.
func New(st Ingester, maxUplinks int, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	rcv, err := NewReceiver(st)
	if err != nil {
		return nil, err
	}
	if maxUplinks <= 0 {
		maxUplinks = DefaultMaxUplinks
	}
	s := &Service{
		receiver: rcv,
		log:      log,
		uplinks:  make(chan struct{}, maxUplinks),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_hub_uplink_batches_total", Help: "Uplink batches by result (stored, unauthorized, malformed, busy, error)."}, []string{"result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_hub_uplink_records_total", Help: "Uplink records received, by outcome (stored, duplicate)."}, []string{"outcome"}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_hub_points_stored_total", Help: "Points stored from uplinks."}),
	}
	for _, r := range []string{"stored", "unauthorized", "malformed", "busy", "error"} {
		s.batches.WithLabelValues(r)
	}
	reg.MustRegister(s.batches, s.records, s.points)
	return s, nil
}

// OnStored has fn called with the new records of each batch once they are
// stored (committed), before the edge gets its answer. fn must not block:
// the hub publishes them to live streams.
func (s *Service) OnStored(fn func(org string, recs []store.Record)) { s.stored = fn }

// LimitBy has each batch's points admitted by q's quotas before they are
// stored: the ones beyond them are left out, counted and reported to the
// edge in the answer.
func (s *Service) LimitBy(q *quota.Service) {
	s.receiver.quota, s.receiver.log = q, s.log
}

// Close releases the decoder.
func (s *Service) Close() { s.receiver.Close() }

// Routes are the uplink's: POST /api/v1/uplink, for enrolled edges.
func (s *Service) Routes() []api.Route {
	return []api.Route{{
		Method: "POST", Path: "/api/v1/uplink", Auth: api.Edge, Handle: s.uplink,
		// The receiver reads one byte more than a batch may have, to tell
		// a batch at the limit from one over it.
		MaxBody: uplink.MaxBatchBytes + 1,
		Refused: s.refused,
	}}
}

// refused counts a batch the router refused before it was read.
func (s *Service) refused(err error) {
	if errors.Is(err, api.ErrUnauthenticated) || errors.Is(err, api.ErrRevoked) || errors.Is(err, api.ErrForbidden) || errors.Is(err, uplink.ErrBadSignature) {
		s.batches.WithLabelValues("unauthorized").Inc()
		return
	}
	s.batches.WithLabelValues("error").Inc()
}

// uplink receives a batch from an enrolled edge. The answer is 200 only
// after the batch is stored; the edge deletes it from its outbox then.
func (s *Service) uplink(r *http.Request, p api.Principal) (any, error) {
	select {
	case s.uplinks <- struct{}{}:
		defer func() { <-s.uplinks }()
	default:
		s.batches.WithLabelValues("busy").Inc()
		return nil, uplink.ErrBusy
	}
	// The edge's send is the parent of the receipt, when it sent a
	// traceparent and traces are exported (internal/tracing).
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := uplink.Tracer().Start(ctx, "uplink.receive", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("molen.edge", p.Edge), attribute.String("molen.org", p.Org)))
	defer span.End()
	var res Received
	var err error
	if s.cluster != nil {
		var raw []byte
		if raw, err = readBody(r.Body); err == nil {
			res, err = s.accept(ctx, p.Org, p.Edge, r.Header.Get("Content-Encoding"), raw)
		}
	} else {
		res, err = s.receiver.Receive(ctx, p.Org, p.Edge, r.Header.Get("Content-Encoding"), r.Body)
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		if errors.Is(err, uplink.ErrMalformed) || errors.Is(err, uplink.ErrTooLarge) || errors.Is(err, uplink.ErrInvalidRecord) {
			s.batches.WithLabelValues("malformed").Inc()
			s.log.Warn("malformed uplink batch", "edge", p.Edge, "err", err)
		} else if errors.Is(err, uplink.ErrBusy) {
			s.batches.WithLabelValues("busy").Inc()
		} else {
			s.batches.WithLabelValues("error").Inc()
		}
		return nil, err
	}
	s.batches.WithLabelValues("stored").Inc()
	if s.cluster != nil {
		return res.Ack, nil // counted by the replica that stores them
	}
	if s.stored != nil && len(res.New) > 0 {
		s.stored(p.Org, res.New)
	}
	s.records.WithLabelValues("stored").Add(float64(res.Stored))
	s.records.WithLabelValues("duplicate").Add(float64(res.Records - res.Stored))
	s.points.Add(float64(res.StoredPoints))
	return res.Ack, nil
}
