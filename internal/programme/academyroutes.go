package programme

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
)

// academyRoutes are the academy's: a hub's courses and learning routes
// (its staff read, its admins keep them), enrolments and completions (its
// advisors, engineers and up record them), a credential of a completion;
// a person's own skills passport; and, public, the courses in the
// catalogue, each hub's issuer profile with its keys, and verification.
func (s *Service) academyRoutes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/academy/catalogue", Auth: api.Public, Handle: s.courseCatalogue},
		{Method: "GET", Path: "/api/v1/academy/issuers/{hub}", Auth: api.Public, Handle: s.issuer},
		{Method: "GET", Path: "/api/v1/academy/issuers/{hub}/jwks.json", Auth: api.Public, Handle: s.jwks},
		{Method: "POST", Path: "/api/v1/academy/verify", Auth: api.Public, Handle: s.verify, MaxBody: 64 << 10},
		{Method: "GET", Path: "/api/v1/academy/passport", Auth: api.Person, Handle: s.passport},
		{Method: "GET", Path: "/api/v1/academy/courses", Auth: api.Viewer, Area: "programme", Handle: s.listCourses},
		{Method: "PUT", Path: "/api/v1/academy/courses/{course}", Auth: api.Admin, Area: "programme", Handle: s.putCourse, SelfAudited: true, MaxBody: 32 << 10},
		{Method: "GET", Path: "/api/v1/academy/routes", Auth: api.Viewer, Area: "programme", Handle: s.listRoutes},
		{Method: "PUT", Path: "/api/v1/academy/routes/{route}", Auth: api.Admin, Area: "programme", Handle: s.putRoute, SelfAudited: true, MaxBody: 8 << 10},
		{Method: "GET", Path: "/api/v1/academy/enrolments", Auth: api.Viewer, Area: "programme", Handle: s.listEnrolments},
		{Method: "POST", Path: "/api/v1/academy/enrolments", Auth: api.Advisor, Area: "programme", Handle: s.enrol, SelfAudited: true, MaxBody: 4 << 10},
		{Method: "POST", Path: "/api/v1/academy/enrolments/{enrolment}/completion", Auth: api.Advisor, Area: "programme", Handle: s.complete, SelfAudited: true, MaxBody: 1024},
		{Method: "GET", Path: "/api/v1/academy/enrolments/{enrolment}/credential", Auth: api.Viewer, Area: "programme", Stream: s.credential},
		{Method: "DELETE", Path: "/api/v1/academy/learners/{learner}", Auth: api.Admin, Area: "programme", Handle: s.eraseLearner, SelfAudited: true},
	}
}

func (s *Service) courseCatalogue(r *http.Request, _ api.Principal) (any, error) {
	list, err := s.Courses(r.Context(), "", true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"courses": list, "technologies": Technologies, "dimensions": Dimensions()}, nil
}

// issuer is a hub's Open Badges issuer profile, naming its keys.
func (s *Service) issuer(r *http.Request, _ api.Principal) (any, error) {
	hub := r.PathValue("hub")
	name, kind, _, err := s.org(r.Context(), hub)
	if err != nil || kind != "hub" {
		return nil, fmt.Errorf("issuer %.40q: %w", hub, meta.ErrNotFound)
	}
	url := s.IssuerURL(hub)
	return map[string]any{"@context": Contexts, "id": url, "type": []string{"Profile"}, "name": name, "jwks_uri": url + "/jwks.json"}, nil
}

func (s *Service) jwks(r *http.Request, _ api.Principal) (any, error) {
	hub := r.PathValue("hub")
	if _, kind, _, err := s.org(r.Context(), hub); err != nil || kind != "hub" {
		return nil, fmt.Errorf("issuer %.40q: %w", hub, meta.ErrNotFound)
	}
	return s.Keys(r.Context(), hub)
}

// AllKeys are every hub's public keys: what this molen verifies against.
func (s *Service) AllKeys(ctx context.Context) (JWKS, error) {
	ks := JWKS{Keys: []JWK{}}
	err := s.scan(ctx, `SELECT public FROM acad_keys WHERE hub <> ''`, nil, func(sc func(...any) error) error {
		var x string
		if err := sc(&x); err != nil {
			return err
		}
		pub, err := b64.DecodeString(x)
		if err == nil {
			ks.Keys = append(ks.Keys, jwkOf(pub))
		}
		return err
	})
	return ks, err
}

// verify checks a credential (the body as issued, or {"credential":
// "…"}) against the keys of this molen's hubs.
func (s *Service) verify(r *http.Request, _ api.Principal) (any, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, api.BadRequest("body: the credential, as issued (a vc+jwt)")
	}
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
		var req struct {
			Credential string `json:"credential"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, api.BadRequest(`body: the credential, as issued, or {"credential": "…"}`)
		}
		body = []byte(req.Credential)
	}
	keys, err := s.AllKeys(r.Context())
	if err != nil {
		return nil, err
	}
	v, err := Verify(body, keys)
	if err != nil {
		s.rejectedAcademy.WithLabelValues("credential").Inc()
		return map[string]any{"valid": false, "error": err.Error()}, nil
	}
	return map[string]any{"valid": true, "verified": v}, nil
}

func (s *Service) passport(r *http.Request, p api.Principal) (any, error) {
	if s.emailOf == nil || p.User == "" {
		return nil, fmt.Errorf("%w: a passport is a person's", api.ErrForbidden)
	}
	email, err := s.emailOf(r.Context(), p.User)
	if err != nil {
		return nil, err
	}
	return s.PassportOf(r.Context(), email)
}

func (s *Service) listCourses(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	list, err := s.Courses(r.Context(), hub, false)
	if err != nil {
		return nil, err
	}
	labs, err := s.Fieldlabs(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	providers := []string{hub}
	for _, l := range labs {
		providers = append(providers, l.ID)
	}
	return map[string]any{"courses": list, "technologies": Technologies, "dimensions": Dimensions(), "providers": providers}, nil
}

func (s *Service) putCourse(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var c Course
	if err := api.ReadJSON(r, &c, `body must be {"title_en": "…", "title_nl": "…", "description_en": "…", "description_nl": "…", "technology": "ai", "dimensions": ["readiness"], "hours": 2..6, "provider": "<the hub or a fieldlab>", "modules": ["…"], "public": true}`); err != nil {
		s.rejectedAcademy.WithLabelValues("course").Inc()
		return nil, err
	}
	c.ID = r.PathValue("course")
	out, err := s.SetCourse(r.Context(), p, c, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"course": out}, nil
}

func (s *Service) listRoutes(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	list, err := s.LearningRoutes(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	return map[string]any{"routes": list}, nil
}

func (s *Service) putRoute(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var lr LearningRoute
	if err := api.ReadJSON(r, &lr, `body must be {"title_en": "…", "title_nl": "…", "courses": ["<course ID>", …]}`); err != nil {
		s.rejectedAcademy.WithLabelValues("route").Inc()
		return nil, err
	}
	lr.ID = r.PathValue("route")
	out, err := s.SetRoute(r.Context(), p, lr, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"route": out}, nil
}

func (s *Service) listEnrolments(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	list, err := s.Enrolments(r.Context(), hub, r.URL.Query().Get("course"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"enrolments": list}, nil
}

func (s *Service) enrol(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var req struct {
		Email, Name, Course, Company string
	}
	if err := api.ReadJSON(r, &req, `body must be {"email": "…", "name": "…", "course": "<course ID>", "company": "<optional customer>"}`); err != nil {
		s.rejectedAcademy.WithLabelValues("enrolment").Inc()
		return nil, err
	}
	en, err := s.Enrol(r.Context(), p, req.Email, req.Name, req.Course, req.Company, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"enrolment": en}), nil
}

func (s *Service) complete(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var req struct {
		Day string `json:"day"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"day": "YYYY-MM-DD"} (or {} for today)`); err != nil {
		s.rejectedAcademy.WithLabelValues("completion").Inc()
		return nil, err
	}
	en, cred, err := s.Complete(r.Context(), p, r.PathValue("enrolment"), req.Day, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"enrolment": en, "credential": cred}, nil
}

func (s *Service) eraseLearner(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	n, err := s.EraseLearner(r.Context(), p, r.PathValue("learner"), api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"erased": n}, nil
}

// credential answers the signed credential as a file to keep.
func (s *Service) credential(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	hub, err := ownHub(p)
	if err != nil {
		return err
	}
	id := r.PathValue("enrolment")
	cred, err := s.Credential(r.Context(), hub, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/vc+jwt")
	if slices.Contains(r.URL.Query()["download"], "1") {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.jwt"`, id))
	}
	_, err = io.WriteString(w, cred)
	return err
}
