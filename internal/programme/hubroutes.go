package programme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
)

// hubRoutes are the registry's, the customers' and the KPIs': the public
// catalogue needs no credential; the rest is a hub's own (its staff read,
// its advisors, engineers and up register customers and record services and collaborations, its admins keep
// its profile, fieldlabs and snapshots), and the KPIs are also the
// platform organisation's, nationally.
func (s *Service) hubRoutes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/catalogue", Auth: api.Public, Handle: s.catalogue},
		{Method: "GET", Path: "/api/v1/catalogue/library", Auth: api.Public, Handle: s.publicLibrary},
		{Method: "GET", Path: "/api/v1/library", Auth: api.Viewer, Area: "programme", Handle: s.listLibrary},
		{Method: "PUT", Path: "/api/v1/library/{entry}", Auth: api.Advisor, Area: "programme", Handle: s.putEntry, SelfAudited: true, MaxBody: 96 << 10},
		{Method: "GET", Path: "/api/v1/programme/hub", Auth: api.Viewer, Area: "programme", Handle: s.getHub},
		{Method: "PUT", Path: "/api/v1/programme/hub", Auth: api.Admin, Area: "programme", Handle: s.putHub, MaxBody: 16 << 10},
		{Method: "GET", Path: "/api/v1/programme/fieldlabs", Auth: api.Viewer, Area: "programme", Handle: s.listFieldlabs},
		{Method: "PUT", Path: "/api/v1/programme/fieldlabs/{fieldlab}", Auth: api.Admin, Area: "programme", Handle: s.putFieldlab, MaxBody: 64 << 10},
		{Method: "GET", Path: "/api/v1/programme/customers", Auth: api.Viewer, Area: "programme", Handle: s.listCustomers},
		{Method: "POST", Path: "/api/v1/programme/customers", Auth: api.Advisor, Area: "programme", Handle: s.register, SelfAudited: true, MaxBody: 8 << 10},
		{Method: "GET", Path: "/api/v1/programme/customers/{company}", Auth: api.Viewer, Area: "programme", Handle: s.customer},
		{Method: "POST", Path: "/api/v1/programme/customers/{company}/services", Auth: api.Advisor, Area: "programme", Handle: s.recordService, SelfAudited: true, MaxBody: 8 << 10},
		{Method: "GET", Path: "/api/v1/programme/customers/{company}/report.pdf", Auth: api.Viewer, Area: "programme", Stream: s.reportPDF},
		{Method: "POST", Path: "/api/v1/programme/customers/{company}/recommendations", Auth: api.Advisor, Area: "programme", Handle: s.recommend, SelfAudited: true, MaxBody: 4 << 10},
		{Method: "GET", Path: "/api/v1/journey", Auth: api.Viewer, Area: "programme", Handle: s.journey},
		{Method: "GET", Path: "/api/v1/programme/collaborations", Auth: api.Viewer, Area: "programme", Handle: s.listCollaborations},
		{Method: "POST", Path: "/api/v1/programme/collaborations", Auth: api.Advisor, Area: "programme", Handle: s.collaborate, MaxBody: 4 << 10},
		{Method: "GET", Path: "/api/v1/programme/kpi", Auth: api.Viewer, Area: "programme", Stream: s.kpi},
		{Method: "GET", Path: "/api/v1/programme/edih-report", Auth: api.Viewer, Area: "programme", Stream: s.edihReport},
		{Method: "GET", Path: "/api/v1/programme/snapshots", Auth: api.Viewer, Area: "programme", Handle: s.listSnapshots},
		{Method: "POST", Path: "/api/v1/programme/snapshots", Auth: api.Admin, Area: "programme", Handle: s.freeze, MaxBody: 1024},
		{Method: "GET", Path: "/api/v1/programme/snapshots/{month}", Auth: api.Viewer, Area: "programme", Stream: s.snapshot},
	}
}

// ownHub is p's hub when p acts in its own right for a hub.
func ownHub(p api.Principal) (string, error) {
	if p.OrgKind != "hub" || p.Via != "" {
		return "", fmt.Errorf("%w: this is a hub's; organisation %s is a %s", api.ErrForbidden, p.Org, p.OrgKind)
	}
	return p.Org, nil
}

// kpiScope is whose KPIs p reads: its hub's, or the programme's for the
// platform organisation.
func kpiScope(p api.Principal) (string, error) {
	if p.OrgKind == "platform" && p.Via == "" {
		return National, nil
	}
	return ownHub(p)
}

func (s *Service) catalogue(r *http.Request, _ api.Principal) (any, error) {
	q := r.URL.Query()
	f := Filter{Region: q.Get("region"), Technology: q.Get("technology"), Service: q.Get("service"), Lang: q.Get("lang")}
	if f.Lang == "" {
		f.Lang = "en"
	}
	return s.Catalogue(r.Context(), f)
}

func (s *Service) getHub(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	hubs, err := s.Hubs(r.Context())
	if err != nil {
		return nil, err
	}
	for _, h := range hubs {
		if h.Hub == hub {
			return map[string]any{"profile": h}, nil
		}
	}
	return map[string]any{"profile": HubProfile{Hub: hub, Regions: []string{}}}, nil
}

func (s *Service) putHub(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	var h HubProfile
	if err := api.ReadJSON(r, &h, `body must be {"regions": ["NL11", …], "description_en": "…", "description_nl": "…", "website": "https://…"}`); err != nil {
		return nil, err
	}
	h.Hub = hub
	if err := s.SetHub(r.Context(), h); err != nil {
		return nil, err
	}
	return map[string]any{"profile": h}, nil
}

func (s *Service) listFieldlabs(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	labs, err := s.Fieldlabs(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	if labs == nil {
		labs = []Fieldlab{}
	}
	return map[string]any{"fieldlabs": labs, "technologies": Technologies, "service_types": ServiceTypes, "regions": Regions}, nil
}

func (s *Service) putFieldlab(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	var f Fieldlab
	if err := api.ReadJSON(r, &f, `body must be {"name": "…", "region": "NL21", "technologies": ["robotics"], "services": ["test-before-invest"], "facilities": [], "partners": [], "use_cases": [], "description_en": "…", "description_nl": "…", "website": "https://…", "notes": "…", "public": true}`); err != nil {
		return nil, err
	}
	f.ID = r.PathValue("fieldlab")
	if err := s.SetFieldlab(r.Context(), hub, f); err != nil {
		return nil, err
	}
	f.Hub = hub
	return map[string]any{"fieldlab": f}, nil
}

func (s *Service) listCustomers(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	list, err := s.Companies(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []Company{}
	}
	return map[string]any{"customers": list}, nil
}

func (s *Service) register(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var c Company
	if err := api.ReadJSON(r, &c, `body must be {"org": "acme", "name": "Acme B.V.", "kvk": "12345678", "vat": "NL123456789B01", "size": "0-49|50-249|250+", "nace": "C25", "nuts": "NL21", "contact_name": "…", "contact_email": "…", "consent": true}`); err != nil {
		s.rejectedCompanies.WithLabelValues("invalid").Inc()
		return nil, err
	}
	c.Reached, c.Registered = time.Time{}, time.Time{}
	out, err := s.Register(r.Context(), p, c, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"customer": out}), nil
}

// Report is what a hub sees of its customer: the profile, the services
// delivered, and the assessments with their scores and the change since
// T0.
type Report struct {
	Company     Company          `json:"customer"`
	Services    []ServiceRecord  `json:"services"`
	Assessments []assessmentJSON `json:"assessments"`
	Comparison  *Comparison      `json:"comparison,omitempty"`
	Next        *stageJSON       `json:"next,omitempty"`
	Peers       Peers            `json:"peers"`
	// Evidence is what molen measures of the company's factory, when the
	// company shares data with the hub (a grant); else absent.
	Evidence *Evidence `json:"evidence,omitempty"`
	// Journey is the next steps for its gaps and its timeline.
	Journey Journey `json:"journey"`
}

// Report assembles hub's report of its customer org (meta.ErrNotFound
// for anyone else's), with the evidence from its factory when shared and
// its journey in lang.
func (s *Service) Report(ctx context.Context, hub, org string, shared bool, lang string) (Report, error) {
	c, err := s.Company(ctx, hub, org)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Company: c, Assessments: []assessmentJSON{}}
	if rep.Services, err = s.Services(ctx, hub, org); err != nil {
		return Report{}, err
	}
	if rep.Services == nil {
		rep.Services = []ServiceRecord{}
	}
	// The providers by name: a fieldlab of the registry's, or an
	// organisation's.
	labs, err := s.Fieldlabs(ctx, "")
	if err != nil {
		return Report{}, err
	}
	names := map[string]string{}
	for _, l := range labs {
		names[l.ID] = l.Name
	}
	for i, r := range rep.Services {
		if err := s.nameOrg(ctx, names, r.Provider); err != nil {
			return Report{}, err
		}
		rep.Services[i].ProviderName = names[r.Provider]
	}
	list, err := s.Assessments(ctx, org)
	if err != nil {
		return Report{}, err
	}
	results := make([]dma.Result, len(list))
	for i, a := range list {
		if results[i], err = s.Score(a); err != nil {
			return Report{}, fmt.Errorf("assessment %s: %w", a.ID, err)
		}
		rep.Assessments = append(rep.Assessments, toJSON(a, results[i], false))
	}
	if len(list) >= 2 && list[0].Stage == dma.T0 {
		cmp := Compare(list[0], results[0], list[len(list)-1], results[len(list)-1])
		rep.Comparison = &cmp
	}
	st, due, err := s.Next(ctx, org, list)
	if err != nil {
		return Report{}, err
	}
	if st != "" {
		rep.Next = &stageJSON{Stage: st, Due: due.UTC()}
	}
	if rep.Peers, err = s.PeersOf(ctx, c); err != nil {
		return Report{}, err
	}
	if shared && s.evidence != nil {
		ev, err := s.evidence(ctx, org)
		if err != nil {
			return Report{}, fmt.Errorf("evidence of %s: %w", org, err)
		}
		rep.Evidence = &ev
	}
	if rep.Journey, err = s.JourneyOf(ctx, c, list, results, rep.Services, lang); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// langOf is the request's ?lang: nl or (by default) en.
func langOf(r *http.Request) (string, error) {
	switch l := r.URL.Query().Get("lang"); l {
	case "", "en":
		return "en", nil
	case "nl":
		return l, nil
	}
	return "", api.BadRequest("lang: want nl or en")
}

func (s *Service) customer(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	org := r.PathValue("company")
	shared := slices.ContainsFunc(p.Grants, func(g api.Grant) bool { return g.Org == org })
	lang, err := langOf(r)
	if err != nil {
		return nil, err
	}
	return s.Report(r.Context(), hub, org, shared, lang)
}

// reportPDF is the customer's report as a PDF, in ?lang.
func (s *Service) reportPDF(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	hub, err := ownHub(p)
	if err != nil {
		return err
	}
	org := r.PathValue("company")
	shared := slices.ContainsFunc(p.Grants, func(g api.Grant) bool { return g.Org == org })
	lang, err := langOf(r)
	if err != nil {
		return err
	}
	rep, err := s.Report(r.Context(), hub, org, shared, lang)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	now := s.now().UTC()
	if err := s.WritePDF(&buf, rep, lang, now); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s-%s.pdf"`, org, now.Format("2006-01-02")))
	_, err = w.Write(buf.Bytes())
	return err
}

func (s *Service) recommend(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var rec Recommended
	if err := api.ReadJSON(r, &rec, `body must be {"kind": "service|fieldlab|course", "item": "<its ID>", "dimension": "strategy|readiness|human|data|automation|green", "note": "…"}`); err != nil {
		s.rejectedServices.WithLabelValues("recommendation").Inc()
		return nil, err
	}
	rec.Company = r.PathValue("company")
	out, err := s.RecordRecommendation(r.Context(), p, rec, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"recommendation": out}), nil
}

// journey is a company's own: its recommendations and timeline at the hub
// whose customer it is (empty when it is none's).
func (s *Service) journey(r *http.Request, p api.Principal) (any, error) {
	if p.OrgKind != "company" {
		return nil, fmt.Errorf("%w: a journey is a company's; organisation %s is a %s", api.ErrForbidden, p.Org, p.OrgKind)
	}
	lang, err := langOf(r)
	if err != nil {
		return nil, err
	}
	hub, err := s.hubOf(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	c, err := s.Company(r.Context(), hub, p.Org)
	if errors.Is(err, meta.ErrNotFound) {
		return map[string]any{"hub": "", "journey": Journey{Recommendations: []Recommendation{}, Timeline: []Event{}}}, nil
	}
	if err != nil {
		return nil, err
	}
	rep, err := s.Report(r.Context(), hub, p.Org, false, lang)
	if err != nil {
		return nil, err
	}
	return map[string]any{"hub": c.Hub, "journey": rep.Journey}, nil
}

func (s *Service) recordService(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var rec ServiceRecord
	if err := api.ReadJSON(r, &rec, `body must be {"type": "test-before-invest|skills|investment|ecosystem", "day": "2026-05-01", "provider": "<fieldlab ID or partner>", "price": <euro cents>, "market_price": <euro cents>, "subsidy": <euro cents>, "investment": <euro cents triggered>, "people": <count>, "description": "…"}`); err != nil {
		s.rejectedServices.WithLabelValues("invalid").Inc()
		return nil, err
	}
	rec.Company = r.PathValue("company")
	out, err := s.Record(r.Context(), p, rec, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"service": out}), nil
}

func (s *Service) listCollaborations(r *http.Request, p api.Principal) (any, error) {
	hub, err := ownHub(p)
	if err != nil {
		return nil, err
	}
	list, err := s.Collaborations(r.Context(), hub)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []Collaboration{}
	}
	return map[string]any{"collaborations": list}, nil
}

func (s *Service) collaborate(r *http.Request, p api.Principal) (any, error) {
	if _, err := ownHub(p); err != nil {
		return nil, err
	}
	var c Collaboration
	if err := api.ReadJSON(r, &c, `body must be {"partner": "<hub ID>", "company": "<optional customer>", "topic": "…", "day": "2026-05-01"}`); err != nil {
		return nil, err
	}
	out, err := s.Collaborate(r.Context(), p, c)
	if err != nil {
		return nil, err
	}
	return api.Created(map[string]any{"collaboration": out}), nil
}

// writeKPIs answers k as JSON, or as CSV with ?format=csv.
func writeKPIs(w http.ResponseWriter, r *http.Request, k KPIs, name string) error {
	switch r.URL.Query().Get("format") {
	case "", "json":
		api.WriteJSON(w, k)
		return nil
	case "csv":
		b, err := k.CSV()
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, name))
		_, err = w.Write(b)
		return err
	}
	return api.BadRequest("format: want json or csv")
}

func (s *Service) kpi(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	scope, err := kpiScope(p)
	if err != nil {
		return err
	}
	k, err := s.KPIs(r.Context(), scope)
	if err != nil {
		return err
	}
	return writeKPIs(w, r, k, "kpi-"+scope+"-"+k.At.Format("2006-01-02"))
}

// edihReport answers the EDIH report of p's hub (or the programme's) as
// JSON, or one of its tables as CSV (?format=csv&table=customers).
func (s *Service) edihReport(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	scope, err := kpiScope(p)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format, table := q.Get("format"), q.Get("table")
	if format == "csv" && !slices.Contains(EDIHTables, table) {
		return api.BadRequest("table: want one of %s", strings.Join(EDIHTables, ", "))
	}
	if format != "" && format != "json" && format != "csv" {
		return api.BadRequest("format: want json or csv")
	}
	rep, err := s.EDIH(r.Context(), scope)
	if err != nil {
		return err
	}
	name := "edih-" + scope + "-" + rep.Generated.Format("2006-01-02")
	if format != "csv" {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.json"`, name))
		api.WriteJSON(w, rep)
		return nil
	}
	b, err := rep.CSV(table)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, table))
	_, err = w.Write(b)
	return err
}

func (s *Service) listSnapshots(r *http.Request, p api.Principal) (any, error) {
	scope, err := kpiScope(p)
	if err != nil {
		return nil, err
	}
	list, err := s.Snapshots(r.Context(), scope)
	if err != nil {
		return nil, err
	}
	return map[string]any{"scope": scope, "snapshots": list}, nil
}

func (s *Service) freeze(r *http.Request, p api.Principal) (any, error) {
	scope, err := kpiScope(p)
	if err != nil {
		return nil, err
	}
	var req struct {
		Month string `json:"month"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"month": "YYYY-MM"}`); err != nil {
		return nil, err
	}
	sn, err := s.Freeze(r.Context(), p, scope, req.Month)
	if err != nil {
		return nil, err
	}
	return api.Created(sn), nil
}

func (s *Service) snapshot(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	scope, err := kpiScope(p)
	if err != nil {
		return err
	}
	sn, err := s.SnapshotOf(r.Context(), scope, r.PathValue("month"))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		return writeKPIs(w, r, sn.KPIs, "kpi-"+scope+"-"+sn.Month)
	}
	api.WriteJSON(w, sn)
	return nil
}
