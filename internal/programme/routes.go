package programme

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
)

// Routes are the domain's: the questionnaire (public), the assessments of
// the caller's company (its members, or a hub's advisor acting for it by
// its consent: viewers read, engineers submit), a hub's intervals (its
// admins), and the network's and the KPIs' (hubRoutes).
func (s *Service) Routes() []api.Route {
	return append([]api.Route{
		{Method: "GET", Path: "/api/v1/dma/questionnaire", Auth: api.Public, Handle: s.questionnaire},
		{Method: "GET", Path: "/api/v1/dma/intervals", Auth: api.Viewer, Area: "programme", Handle: s.getIntervals},
		{Method: "PUT", Path: "/api/v1/dma/intervals", Auth: api.Admin, Area: "programme", Handle: s.putIntervals, MaxBody: 1024},
		{Method: "GET", Path: "/api/v1/assessments", Auth: api.Viewer, Area: "programme", Handle: s.list},
		{Method: "POST", Path: "/api/v1/assessments", Auth: api.Engineer, Area: "programme", Handle: s.submit, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/assessments/comparison", Auth: api.Viewer, Area: "programme", Handle: s.compare},
		{Method: "GET", Path: "/api/v1/assessments/{assessment}", Auth: api.Viewer, Area: "programme", Handle: s.get},
	}, append(s.hubRoutes(), s.academyRoutes()...)...)
}

func (s *Service) questionnaire(r *http.Request, _ api.Principal) (any, error) {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "en"
	}
	if !slices.Contains(dma.Langs, lang) {
		return nil, api.BadRequest("lang: want one of %v", dma.Langs)
	}
	v := dma.Latest
	if vs := r.URL.Query().Get("version"); vs != "" {
		n, err := strconv.Atoi(vs)
		if err != nil {
			return nil, api.BadRequest("version: want a number")
		}
		v = n
	}
	q, err := dma.Load(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", meta.ErrNotFound, err)
	}
	return q.In(lang), nil
}

type stageJSON struct {
	Stage dma.Stage `json:"stage"`
	Due   time.Time `json:"due"`
}

type assessmentJSON struct {
	ID       string       `json:"id"`
	Org      string       `json:"org"`
	Stage    dma.Stage    `json:"stage"`
	Version  int          `json:"version"`
	Created  time.Time    `json:"created"`
	Actor    string       `json:"actor"`
	ActorOrg string       `json:"actor_org,omitempty"`
	Answers  *dma.Answers `json:"answers,omitempty"` // in the answer about one assessment
	Result   dma.Result   `json:"result"`
}

func toJSON(a Assessment, res dma.Result, answers bool) assessmentJSON {
	out := assessmentJSON{ID: a.ID, Org: a.Org, Stage: a.Stage, Version: a.Version, Created: a.Created.UTC(),
		Actor: a.Actor, ActorOrg: a.ActorOrg, Result: res}
	if answers {
		out.Answers = &a.Answers
	}
	return out
}

func (s *Service) submit(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Stage   dma.Stage   `json:"stage"`
		Version int         `json:"version"`
		Answers dma.Answers `json:"answers"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"stage": "T0|T1|T2", "version": <questionnaire version, default latest>, "answers": {"company": {…}, "questions": {…}}}`); err != nil {
		s.rejected.WithLabelValues("malformed").Inc()
		return nil, err
	}
	a, res, err := s.Submit(r.Context(), p, req.Stage, req.Version, req.Answers, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(toJSON(a, res, true)), nil
}

func (s *Service) list(r *http.Request, p api.Principal) (any, error) {
	list, err := s.Assessments(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	out := make([]assessmentJSON, 0, len(list))
	for _, a := range list {
		res, err := s.Score(a)
		if err != nil {
			return nil, fmt.Errorf("assessment %s: %w", a.ID, err)
		}
		out = append(out, toJSON(a, res, false))
	}
	body := map[string]any{"assessments": out}
	if p.OrgKind == "company" {
		st, due, err := s.Next(r.Context(), p.Org, list)
		if err != nil {
			return nil, err
		}
		if st != "" {
			body["next"] = stageJSON{Stage: st, Due: due.UTC()}
		}
		// The company's own factory, and its peers when a hub registered it.
		if s.evidence != nil {
			ev, err := s.evidence(r.Context(), p.Org)
			if err != nil {
				return nil, fmt.Errorf("evidence of %s: %w", p.Org, err)
			}
			body["evidence"] = ev
		}
		c, err := scanCompany(s.db.QueryRowContext(r.Context(), `SELECT `+companyColumns+` FROM prog_companies WHERE org = $1`, p.Org))
		switch {
		case err == nil:
			if body["peers"], err = s.PeersOf(r.Context(), c); err != nil {
				return nil, err
			}
		case !errors.Is(err, meta.ErrNotFound):
			return nil, fmt.Errorf("profile of %s: %w", p.Org, err)
		}
	}
	return body, nil
}

func (s *Service) get(r *http.Request, p api.Principal) (any, error) {
	a, err := s.Assessment(r.Context(), p.Org, r.PathValue("assessment"))
	if err != nil {
		return nil, err
	}
	res, err := s.Score(a)
	if err != nil {
		return nil, fmt.Errorf("assessment %s: %w", a.ID, err)
	}
	return toJSON(a, res, true), nil
}

func (s *Service) compare(r *http.Request, p api.Principal) (any, error) {
	list, err := s.Assessments(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	if len(list) < 2 || list[0].Stage != dma.T0 {
		return nil, fmt.Errorf("comparison of %s: needs a T0 and a later assessment: %w", p.Org, meta.ErrNotFound)
	}
	from, to := list[0], list[len(list)-1]
	rf, err := s.Score(from)
	if err != nil {
		return nil, err
	}
	rt, err := s.Score(to)
	if err != nil {
		return nil, err
	}
	return Compare(from, rf, to, rt), nil
}

func (s *Service) getIntervals(r *http.Request, p api.Principal) (any, error) {
	hub := p.Org
	if p.OrgKind != "hub" {
		var err error
		if hub, err = s.hubOf(r.Context(), p.Org); err != nil {
			return nil, err
		}
	}
	iv, err := s.Intervals(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	return map[string]any{"hub": hub, "intervals": iv}, nil
}

func (s *Service) putIntervals(r *http.Request, p api.Principal) (any, error) {
	if p.OrgKind != "hub" || p.Via != "" {
		return nil, fmt.Errorf("%w: only a hub sets its intervals", api.ErrForbidden)
	}
	var iv dma.Intervals
	if err := api.ReadJSON(r, &iv, `body must be {"t1_months": 1..60, "t2_months": 1..60}`); err != nil {
		return nil, err
	}
	if err := s.SetIntervals(r.Context(), p.Org, iv); err != nil {
		return nil, err
	}
	return map[string]any{"hub": p.Org, "intervals": iv}, nil
}
