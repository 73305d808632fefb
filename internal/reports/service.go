package reports

import (
	"context"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Store is the time-series storage reports read.
type Store interface {
	store.Events
	Series(ctx context.Context, org, prefix string, limit int) ([]store.SeriesInfo, error)
	Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error)
}

// Service computes reports and exports from stored series and events of
// the caller's organisation.
type Service struct {
	st  Store
	now func() time.Time
}

// New returns the service reading st; now is the clock (nil: time.Now).
func New(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now}
}

// Routes are the domain's: OEE, the downtime Pareto and exports, for any
// token of the organisation.
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/oee", Auth: api.Viewer, Area: "reports", Handle: s.oee},
		{Method: "GET", Path: "/api/v1/downtime/pareto", Auth: api.Viewer, Area: "reports", Handle: s.pareto},
		{Method: "GET", Path: "/api/v1/export", Auth: api.Viewer, Area: "reports", Stream: s.export},
	}
}
