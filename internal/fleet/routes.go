package fleet

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/uplink"
)

// Routes are the domain's: the edges of the caller's organisation
// (engineers list and register them, admins revoke them), enrollment
// (public: the enrollment token is the credential) and an edge's change
// of its own key.
func (s *Service) Routes() []api.Route {
	return append([]api.Route{
		{Method: "POST", Path: "/api/v1/enroll", Auth: api.Public, Handle: s.enroll, MaxBody: 4096},
		{Method: "POST", Path: "/api/v1/edge/key", Auth: api.Edge, Handle: s.changeKey, MaxBody: 4096},
		{Method: "GET", Path: "/api/v1/edges", Auth: api.Engineer, Area: "fleet", Handle: s.listEdges},
		{Method: "POST", Path: "/api/v1/edges", Auth: api.Engineer, Area: "fleet", Handle: s.createEdge, MaxBody: 4096},
		{Method: "POST", Path: "/api/v1/edges/{edge}/revoke", Auth: api.Admin, Area: "fleet", Handle: s.revokeEdge, SelfAudited: true},
	}, slices.Concat(s.desiredRoutes(), s.rolloutRoutes(), s.commandRoutes(), s.margoRoutes(), s.releaseRoutes())...)
}

func (s *Service) enroll(r *http.Request, _ api.Principal) (any, error) {
	var req struct {
		Token      string `json:"token"`
		Credential string `json:"credential"`
		PublicKey  string `json:"public_key"`
		Proof      string `json:"proof"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Token == "" {
		return nil, api.BadRequest(`body must be {"token": "<enrollment token>", "public_key": "<Ed25519 key>", "proof": "<its signature>"} or {"token": "<enrollment token>", "credential": "<optional proposed credential>"}`)
	}
	if req.PublicKey != "" {
		if req.Credential != "" {
			return nil, api.BadRequest("public_key and credential: give one of them")
		}
		pub, err := uplink.DecodePublicKey(req.PublicKey)
		if err != nil {
			return nil, api.BadRequest("%v", err)
		}
		e, err := s.EnrollKey(r.Context(), req.Token, pub, req.Proof)
		if err != nil {
			return nil, err
		}
		return uplink.Enrollment{EdgeID: e.ID, Org: e.Org, Name: e.Name, ReleaseKeys: s.releaseKeys(), MarketKeys: s.marketKeys()}, nil
	}
	e, cred, err := s.Enroll(r.Context(), req.Token, req.Credential)
	if err != nil {
		return nil, err
	}
	return uplink.Enrollment{EdgeID: e.ID, Org: e.Org, Name: e.Name, Credential: cred, ReleaseKeys: s.releaseKeys(), MarketKeys: s.marketKeys()}, nil
}

// releaseKeys are the keys the hub accepts releases signed with, as an
// enrolling edge learns them.
func (s *Service) releaseKeys() []string {
	var out []string
	for _, k := range s.releases.Keys {
		out = append(out, uplink.EncodeKey(k))
	}
	return out
}

// marketKeys are the platform's marketplace keys, as an enrolling edge
// learns them.
func (s *Service) marketKeys() []string {
	var out []string
	for _, k := range s.market {
		out = append(out, uplink.EncodeKey(k))
	}
	return out
}

type edgeJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Org           string     `json:"org"`
	Enrolled      *time.Time `json:"enrolled,omitempty"`
	Revoked       bool       `json:"revoked"`
	Auth          string     `json:"auth,omitempty"` // "key" or "credential" once enrolled
	Key           string     `json:"key,omitempty"`  // the key's fingerprint`
	Created       time.Time  `json:"created"`
	EnrollToken   string     `json:"enroll_token,omitempty"` // only in the answer that creates it
	EnrollExpires *time.Time `json:"enroll_expires,omitempty"`
}

func edgeToJSON(e Edge) edgeJSON {
	out := edgeJSON{ID: e.ID, Name: e.Name, Org: e.Org, Revoked: e.Revoked, Created: e.Created.UTC()}
	if !e.Enrolled.IsZero() {
		t := e.Enrolled.UTC()
		out.Enrolled = &t
		out.Auth = "credential"
	}
	if e.PublicKey != "" {
		out.Auth, out.Key = "key", uplink.Fingerprint(e.PublicKey)
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
	actor := p.User
	if actor == "" {
		actor = p.Token
	}
	s.record(r.Context(), audit.Entry{Org: p.Org, Actor: actor, ActorOrg: p.Via, Action: "edge.revoked", Target: id, Addr: api.ClientAddr(r)})
	e, err := s.Edge(r.Context(), p.Org, id)
	if err != nil {
		return nil, err
	}
	return edgeToJSON(e), nil
}

// changeKey registers the calling edge's new key (uplink.KeyChange),
// authorised by its current key or, for an edge enrolled with a
// credential, by that credential.
func (s *Service) changeKey(r *http.Request, p api.Principal) (any, error) {
	var req uplink.KeyChange
	if err := api.ReadJSON(r, &req, `body must be {"public_key": "<Ed25519 key, base64url>", "proof": "<its signature of the key statement>"}`); err != nil {
		return nil, err
	}
	pub, err := uplink.DecodePublicKey(req.PublicKey)
	if err != nil {
		return nil, api.BadRequest("%v", err)
	}
	if !uplink.CheckProof(pub, uplink.KeyProof(p.Edge, pub), req.Proof) {
		return nil, api.BadRequest("proof: must be the new key's Ed25519 signature of the key statement (docs/api.md)")
	}
	if err := s.SetKey(r.Context(), p.Org, p.Edge, pub); err != nil {
		return nil, err
	}
	return map[string]string{"edge_id": p.Edge, "key": uplink.Fingerprint(req.PublicKey)}, nil
}
