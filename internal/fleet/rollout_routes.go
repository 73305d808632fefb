package fleet

import (
	"net/http"

	"github.com/molen-io/molen/internal/api"
)

// rolloutRoutes are the rollouts': people read them (viewer) and start,
// pause, resume and abort them (engineer). The service records each
// change in the audit log itself, with the steps' outcomes.
func (s *Service) rolloutRoutes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/fleet/rollouts", Auth: api.Viewer, Area: "fleet", Handle: s.listRollouts},
		{Method: "POST", Path: "/api/v1/fleet/rollouts", Auth: api.Engineer, Area: "fleet", Handle: s.startRollout, MaxBody: 1 << 20, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/fleet/rollouts/{rollout}", Auth: api.Viewer, Area: "fleet", Handle: s.getRollout},
		{Method: "POST", Path: "/api/v1/fleet/rollouts/{rollout}/pause", Auth: api.Engineer, Area: "fleet", Handle: s.changeRollout(ActionPause), SelfAudited: true},
		{Method: "POST", Path: "/api/v1/fleet/rollouts/{rollout}/resume", Auth: api.Engineer, Area: "fleet", Handle: s.changeRollout(ActionResume), SelfAudited: true},
		{Method: "POST", Path: "/api/v1/fleet/rollouts/{rollout}/abort", Auth: api.Engineer, Area: "fleet", Handle: s.changeRollout(ActionAbort), SelfAudited: true},
	}
}

func (s *Service) listRollouts(r *http.Request, p api.Principal) (any, error) {
	rs, err := s.Rollouts(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"rollouts": rs}, nil
}

func (s *Service) startRollout(r *http.Request, p api.Principal) (any, error) {
	var spec RolloutSpec
	if err := api.ReadJSON(r, &spec, `body must be {"scope": "group", "target": "<group>", "pipelines": {...}, "canary_count": 1, ...} (docs/fleet.md#rollouts)`); err != nil {
		return nil, err
	}
	ro, err := s.StartRollout(r.Context(), p.Org, p.Actor(), spec)
	if err != nil {
		return nil, err
	}
	return api.Created(ro), nil
}

func (s *Service) getRollout(r *http.Request, p api.Principal) (any, error) {
	return s.Rollout(r.Context(), p.Org, r.PathValue("rollout"))
}

func (s *Service) changeRollout(action string) func(r *http.Request, p api.Principal) (any, error) {
	return func(r *http.Request, p api.Principal) (any, error) {
		return s.ChangeRollout(r.Context(), p.Org, r.PathValue("rollout"), action, p.Actor())
	}
}
