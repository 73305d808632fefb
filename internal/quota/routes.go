package quota

import (
	"net/http"
	"strconv"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
)

// Routes are the domain's: an organisation's members see its quota and
// usage; platform admins read and set any organisation's quota.
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/quota", Auth: api.Viewer, Area: "series", Handle: s.getOwn},
		{Method: "GET", Path: "/api/v1/quotas/{org}", Auth: api.PlatformAdmin, Handle: s.getOrg},
		{Method: "PUT", Path: "/api/v1/quotas/{org}", Auth: api.PlatformAdmin, Handle: s.putOrg, MaxBody: 1 << 10, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/quotas/{org}", Auth: api.PlatformAdmin, Handle: s.deleteOrg, SelfAudited: true},
	}
}

// quotaJSON is an organisation's quota and its usage today.
type quotaJSON struct {
	Org     string `json:"org"`
	Limits  Limits `json:"limits"`
	Default bool   `json:"default"` // the hub's default applies
	Today   Usage  `json:"today"`
}

func (s *Service) answer(r *http.Request, org string) (any, error) {
	l, def, err := s.Limits(r.Context(), org)
	if err != nil {
		return nil, err
	}
	u, err := s.Usage(r.Context(), org)
	if err != nil {
		return nil, err
	}
	return quotaJSON{Org: org, Limits: l, Default: def, Today: u}, nil
}

func (s *Service) getOwn(r *http.Request, p api.Principal) (any, error) {
	return s.answer(r, p.Org)
}

// target is the organisation in the path, which must exist.
func (s *Service) target(r *http.Request) (string, error) {
	org := r.PathValue("org")
	if err := s.exists(r.Context(), org); err != nil {
		return "", err
	}
	return org, nil
}

func (s *Service) getOrg(r *http.Request, _ api.Principal) (any, error) {
	org, err := s.target(r)
	if err != nil {
		return nil, err
	}
	return s.answer(r, org)
}

// putOrg sets an organisation's quota. Lowering it below what the
// organisation has refuses only new series and further points: nothing
// stored is removed.
func (s *Service) putOrg(r *http.Request, p api.Principal) (any, error) {
	const usage = `body must be {"series": 100000, "points_per_day": 500000000}: each a number of 0 (no limit) or more`
	org, err := s.target(r)
	if err != nil {
		return nil, err
	}
	var req struct {
		Series       *int64 `json:"series"`
		PointsPerDay *int64 `json:"points_per_day"`
	}
	if err := api.ReadJSON(r, &req, usage); err != nil {
		return nil, err
	}
	if req.Series == nil || req.PointsPerDay == nil || *req.Series < 0 || *req.PointsPerDay < 0 {
		return nil, api.BadRequest("%s", usage)
	}
	l := Limits{Series: *req.Series, PointsPerDay: *req.PointsPerDay}
	if err := s.Set(r.Context(), org, l); err != nil {
		return nil, err
	}
	s.log.Info("quota set", "org", org, "by", p.Name, "series", l.Series, "points_per_day", l.PointsPerDay)
	if err := s.record(r, p, "quota.set", org, map[string]string{
		"series": strconv.FormatInt(l.Series, 10), "points_per_day": strconv.FormatInt(l.PointsPerDay, 10)}); err != nil {
		return nil, err
	}
	return s.answer(r, org)
}

// record appends the change to the audit log of the organisation whose
// quota changed, naming the platform admin, and to the platform's own.
func (s *Service) record(r *http.Request, p api.Principal, action, org string, detail map[string]string) error {
	if s.aud == nil {
		return nil
	}
	e := audit.RequestEntry(r, p, action, org, detail)
	if _, err := s.aud.Record(r.Context(), e); err != nil {
		return err
	}
	if org == p.Org {
		return nil
	}
	e.Org, e.ActorOrg = org, p.Org
	_, err := s.aud.Record(r.Context(), e)
	return err
}

// deleteOrg gives an organisation the hub's default quota again.
func (s *Service) deleteOrg(r *http.Request, p api.Principal) (any, error) {
	org, err := s.target(r)
	if err != nil {
		return nil, err
	}
	if err := s.Clear(r.Context(), org); err != nil {
		return nil, err
	}
	s.log.Info("quota back to the hub's default", "org", org, "by", p.Name)
	if err := s.record(r, p, "quota.cleared", org, nil); err != nil {
		return nil, err
	}
	return s.answer(r, org)
}
