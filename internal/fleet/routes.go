package fleet

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/uplink"
)

// Routes are the domain's: the edges of the caller's organisation
// (engineers list and register them, admins revoke them) and enrollment
// (public: the enrollment token is the credential).
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: "POST", Path: "/api/v1/enroll", Auth: api.Public, Handle: s.enroll, MaxBody: 4096},
		{Method: "GET", Path: "/api/v1/edges", Auth: api.Engineer, Area: "fleet", Handle: s.listEdges},
		{Method: "POST", Path: "/api/v1/edges", Auth: api.Engineer, Area: "fleet", Handle: s.createEdge, MaxBody: 4096},
		{Method: "POST", Path: "/api/v1/edges/{edge}/revoke", Auth: api.Admin, Area: "fleet", Handle: s.revokeEdge},
	}
}

func (s *Service) enroll(r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token      string `json:"token"`
		Credential string `json:"credential"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Token == "" {
		return nil, api.BadRequest(`body must be {"token": "<enrollment token>", "credential": "<optional proposed credential>"}`)
	}
	e, cred, err := s.Enroll(r.Context(), req.Token, req.Credential)
	if err != nil {
		return nil, err
	}
	return uplink.Enrollment{EdgeID: e.ID, Org: e.Org, Name: e.Name, Credential: cred}, nil
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

func edgeToJSON(e Edge) edgeJSON {
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

func (s *Service) listEdges(r *http.Request, p api.Principal) (any, error) {
	edges, err := s.Edges(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	out := make([]edgeJSON, len(edges))
	for i, e := range edges {
		out[i] = edgeToJSON(e)
	}
	return map[string]any{"edges": out}, nil
}

func (s *Service) createEdge(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"name": "<edge name>"}`); err != nil {
		return nil, err
	}
	if req.Name == "" || len(req.Name) > 100 {
		return nil, api.BadRequest("name: must be 1..100 characters")
	}
	e, token, err := s.CreateEdge(r.Context(), p.Org, req.Name)
	if err != nil {
		return nil, err
	}
	out := edgeToJSON(e)
	out.EnrollToken = token
	return api.Created(out), nil
}

func (s *Service) revokeEdge(r *http.Request, p api.Principal) (any, error) {
	id := r.PathValue("edge")
	if err := s.Revoke(r.Context(), p.Org, id); err != nil {
		return nil, err
	}
	s.log.Info("edge revoked", "edge", id, "org", p.Org)
	e, err := s.Edge(r.Context(), p.Org, id)
	if err != nil {
		return nil, err
	}
	return edgeToJSON(e), nil
}
