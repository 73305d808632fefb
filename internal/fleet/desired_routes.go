package fleet

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// desiredRoutes are the inventory's and the desired state's: edges report
// and fetch their manifest; people read the inventory (viewer) and change
// places, groups and layers (engineer, recorded in the audit log by the
// router).
func (s *Service) desiredRoutes() []api.Route {
	return []api.Route{
		{Method: "POST", Path: "/api/v1/edge/report", Auth: api.Edge, Handle: s.report, MaxBody: 256 << 10},
		{Method: "GET", Path: "/api/v1/edge/manifest", Auth: api.Edge, Stream: s.edgeManifest},
		{Method: "GET", Path: "/api/v1/fleet/edges", Auth: api.Viewer, Area: "fleet", Handle: s.inventory},
		{Method: "GET", Path: "/api/v1/fleet/edges/{edge}", Auth: api.Viewer, Area: "fleet", Handle: s.edgeDetail},
		{Method: "PUT", Path: "/api/v1/fleet/edges/{edge}/place", Auth: api.Engineer, Area: "fleet", Handle: s.putPlace},
		{Method: "GET", Path: "/api/v1/fleet/groups", Auth: api.Viewer, Area: "fleet", Handle: s.listGroups},
		{Method: "PUT", Path: "/api/v1/fleet/groups/{group}", Auth: api.Engineer, Area: "fleet", Handle: s.putGroup},
		{Method: "DELETE", Path: "/api/v1/fleet/groups/{group}", Auth: api.Engineer, Area: "fleet", Handle: s.deleteGroup},
		{Method: "GET", Path: "/api/v1/fleet/layers", Auth: api.Viewer, Area: "fleet", Handle: s.listLayers},
		{Method: "PUT", Path: "/api/v1/fleet/layers/org", Auth: api.Engineer, Area: "fleet", Handle: s.putLayer, MaxBody: 1 << 20},
		{Method: "DELETE", Path: "/api/v1/fleet/layers/org", Auth: api.Engineer, Area: "fleet", Handle: s.deleteLayer},
		{Method: "PUT", Path: "/api/v1/fleet/layers/{scope}/{target}", Auth: api.Engineer, Area: "fleet", Handle: s.putLayer, MaxBody: 1 << 20},
		{Method: "DELETE", Path: "/api/v1/fleet/layers/{scope}/{target}", Auth: api.Engineer, Area: "fleet", Handle: s.deleteLayer},
		{Method: "PUT", Path: "/api/v1/fleet/layers/org/secrets/{name}", Auth: api.Engineer, Area: "fleet", Handle: s.putSecret, MaxBody: 2 * MaxSecret},
		{Method: "DELETE", Path: "/api/v1/fleet/layers/org/secrets/{name}", Auth: api.Engineer, Area: "fleet", Handle: s.deleteSecret},
		{Method: "PUT", Path: "/api/v1/fleet/layers/{scope}/{target}/secrets/{name}", Auth: api.Engineer, Area: "fleet", Handle: s.putSecret, MaxBody: 2 * MaxSecret},
		{Method: "DELETE", Path: "/api/v1/fleet/layers/{scope}/{target}/secrets/{name}", Auth: api.Engineer, Area: "fleet", Handle: s.deleteSecret},
	}
}

func (s *Service) report(r *http.Request, p api.Principal) (any, error) {
	var rep uplink.Report
	if err := api.ReadJSON(r, &rep, "body must be an edge report (docs/api.md)"); err != nil {
		return nil, err
	}
	if err := s.StoreReport(r.Context(), p.Org, p.Edge, rep); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

// ETag is the entity tag of a manifest: its version and digest.
func ETag(m uplink.Manifest) string {
	return `"` + strings.TrimPrefix(m.Digest, "sha256:")[:16] + "-" + strconv.FormatUint(m.Version, 10) + `"`
}

// edgeManifest answers the calling edge's manifest, or 304 Not Modified
// when If-None-Match holds its ETag.
func (s *Service) edgeManifest(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	d, err := s.Desired(r.Context(), p.Org, p.Edge)
	if err != nil {
		return err
	}
	tag := ETag(d.Manifest)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	api.WriteJSON(w, d.Manifest)
	return nil
}

func (s *Service) inventory(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	f := Filter{Site: q.Get("site"), Group: q.Get("group"), Health: q.Get("health"), Text: q.Get("q")}
	for _, l := range q["label"] {
		k, v, _ := strings.Cut(l, "=")
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	edges, err := s.Inventory(r.Context(), p.Org, f)
	if err != nil {
		return nil, err
	}
	return map[string]any{"edges": edges}, nil
}

func (s *Service) edgeDetail(r *http.Request, p api.Principal) (any, error) {
	id := r.PathValue("edge")
	if _, err := s.Edge(r.Context(), p.Org, id); err != nil {
		return nil, err
	}
	edges, err := s.Inventory(r.Context(), p.Org, Filter{})
	if err != nil {
		return nil, err
	}
	d, err := s.Desired(r.Context(), p.Org, id)
	if err != nil {
		return nil, err
	}
	mr, err := s.Margo(r.Context(), p.Org, id)
	if err != nil {
		return nil, err
	}
	for _, e := range edges {
		if e.ID == id {
			return map[string]any{"edge": e, "desired": d, "margo": mr}, nil
		}
	}
	return nil, meta.ErrNotFound
}

func (s *Service) putPlace(r *http.Request, p api.Principal) (any, error) {
	var pl Place
	if err := api.ReadJSON(r, &pl, `body must be {"site": "<site>", "labels": {"<key>": "<value>"}}`); err != nil {
		return nil, err
	}
	if err := s.SetPlace(r.Context(), p.Org, r.PathValue("edge"), pl); err != nil {
		return nil, err
	}
	return pl, nil
}

func (s *Service) listGroups(r *http.Request, p api.Principal) (any, error) {
	gs, err := s.Groups(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	if gs == nil {
		gs = []Group{}
	}
	return map[string]any{"groups": gs}, nil
}

func (s *Service) putGroup(r *http.Request, p api.Principal) (any, error) {
	var g Group
	if err := api.ReadJSON(r, &g.Selector, `body must be the selector {"<label>": "<value>"}`); err != nil {
		return nil, err
	}
	g.Name = r.PathValue("group")
	if err := s.PutGroup(r.Context(), p.Org, g); err != nil {
		return nil, err
	}
	return g, nil
}

func (s *Service) deleteGroup(r *http.Request, p api.Principal) (any, error) {
	if err := s.DeleteGroup(r.Context(), p.Org, r.PathValue("group")); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

func (s *Service) listLayers(r *http.Request, p api.Principal) (any, error) {
	ls, err := s.Layers(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	if ls == nil {
		ls = []Layer{}
	}
	return map[string]any{"layers": ls}, nil
}

// scopeOf is the scope and target of a layer route.
// An unknown scope is not found, as an unknown target is.
func scopeOf(r *http.Request) (string, string, error) {
	scope := r.PathValue("scope")
	if scope == "" {
		return ScopeOrg, "", nil
	}
	if scope == ScopeOrg || scopeRank(scope) == 0 {
		return "", "", fmt.Errorf("layer scope %q: %w", scope, meta.ErrNotFound)
	}
	return scope, r.PathValue("target"), nil
}

func (s *Service) putLayer(r *http.Request, p api.Principal) (any, error) {
	var l Layer
	if err := api.ReadJSON(r, &l, `body must be {"inputs": {...}, "pipelines": {...}, "settings": {...}} (docs/fleet.md)`); err != nil {
		return nil, err
	}
	l.Org = p.Org
	var err error
	if l.Scope, l.Target, err = scopeOf(r); err != nil {
		return nil, err
	}
	if err := s.PutLayer(r.Context(), &l); err != nil {
		return nil, err
	}
	return l, nil
}

func (s *Service) deleteLayer(r *http.Request, p api.Principal) (any, error) {
	scope, target, err := scopeOf(r)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteLayer(r.Context(), p.Org, scope, target); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

// putSecret sets a layer's secret from {"value": "…"}; the answer is
// empty (the value is never answered).
func (s *Service) putSecret(r *http.Request, p api.Principal) (any, error) {
	var body struct {
		Value string `json:"value"`
	}
	if err := api.ReadJSON(r, &body, `body must be {"value": "<the secret>"}`); err != nil {
		return nil, err
	}
	scope, target, err := scopeOf(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if err := s.PutSecret(r.Context(), p.Org, scope, target, name, body.Value); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

func (s *Service) deleteSecret(r *http.Request, p api.Principal) (any, error) {
	scope, target, err := scopeOf(r)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteSecret(r.Context(), p.Org, scope, target, r.PathValue("name")); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}
