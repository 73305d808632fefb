package programme

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
	"github.com/molen-io/molen/internal/secret"
)

// Gaps is how many of a company's lowest dimensions its recommendations
// address, as the gap priorities of its result.
const Gaps = 2

// perKind is the most recommendations of one kind for one gap.
const perKind = 2

// The kinds of recommendation.
const (
	KindService  = "service"  // a marketplace service
	KindFieldlab = "fieldlab" // a fieldlab's offer
	KindCourse   = "course"   // an academy course
)

// dimensionTechnologies are the fieldlab technologies that work on each
// DMA dimension, the first the most direct.
var dimensionTechnologies = map[string][]string{
	"strategy":   {"digital-twin", "data", "ai"},
	"readiness":  {"iot", "robotics", "additive", "digital-twin"},
	"human":      {"xr", "robotics"},
	"data":       {"data", "cybersecurity", "iot"},
	"automation": {"ai", "robotics", "vision", "maintenance"},
	"green":      {"energy"},
}

// Recommendation is a next step for a company: a marketplace service, a
// fieldlab's offer or an academy course, for one of its gaps, with the
// reason in words.
type Recommendation struct {
	Kind      string  `json:"kind"`
	Item      string  `json:"item"` // the listing's, fieldlab's or course's ID
	Name      string  `json:"name"`
	Dimension string  `json:"dimension"`
	Score     float64 `json:"score"` // the dimension's, 0–100
	Reason    string  `json:"reason"`
	// Provider is a marketplace service's provider by name.
	Provider string `json:"provider,omitempty"`
	// Recommended is when the hub's advisor recommended it to the
	// company; zero: a suggestion only.
	Recommended time.Time `json:"recommended,omitzero"`
}

// Recommended is a recommendation an advisor recorded for a customer.
type Recommended struct {
	ID        string    `json:"id"`
	Hub       string    `json:"hub"`
	Company   string    `json:"company"`
	Kind      string    `json:"kind"`
	Item      string    `json:"item"`
	Dimension string    `json:"dimension"`
	Note      string    `json:"note"`
	Created   time.Time `json:"created"`
	Actor     string    `json:"actor"`
}

// Event is a step of a company's journey.
type Event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // assessment, service, recommended, enrolled, completed, edge, installed
	// What names it in the asked language: "T0 (41.7)", a service's type
	// and provider, a course's title.
	What string `json:"what"`
	Ref  string `json:"ref,omitempty"` // the assessment's, service's, recommendation's or course's ID
}

// Install is an edge or a service installed at a company's factory, for
// its timeline.
type Install struct {
	At   time.Time
	Kind string // InstallEdge or InstallService
	What string // an edge's name; a service's install name
	// Service is the installed service's listing ID; its timeline names
	// the listing and its provider.
	Service string
}

// The kinds of Install, as its timeline event's kind.
const (
	InstallEdge    = "edge"      // an edge connected
	InstallService = "installed" // a marketplace service installed
)

// Journey is a company's recommendations and timeline.
type Journey struct {
	Recommendations []Recommendation `json:"recommendations"`
	Timeline        []Event          `json:"timeline"`
}

// gaps are the lowest Gaps dimensions of res, lowest first.
func gaps(res dma.Result) []dma.DimensionScore {
	ds := slices.Clone(res.Dimensions)
	slices.SortStableFunc(ds, func(a, b dma.DimensionScore) int { return cmp.Compare(a.Score, b.Score) })
	return ds[:min(Gaps, len(ds))]
}

// words are the sentences of a reason and the PDF report's texts, in
// English and Dutch.
var words = map[string][2]string{
	"score":       {"your %s score is %s", "uw score voor %s is %s"},
	"fieldlab":    {"%s offers %s in %s %s", "%s biedt %s in %s %s"},
	"inRegion":    {"in your region", "in uw regio"},
	"nearby":      {"through %s", "via %s"},
	"service":     {"%s (%s) works on %s at your machines", "%s (%s) werkt aan %s bij uw machines"},
	"course":      {"the course %s (%d h) trains your people in it", "de cursus %s (%d uur) leidt uw mensen erin op"},
	"title":       {"Digital maturity report", "Rapport digitale volwassenheid"},
	"of":          {"Customer of %s · made %s", "Klant van %s · gemaakt %s"},
	"profile":     {"KvK %s · size %s · NACE %s · %s", "KvK %s · omvang %s · NACE %s · %s"},
	"radar":       {"The six dimensions (0–100)", "De zes dimensies (0–100)"},
	"dimension":   {"Dimension", "Dimensie"},
	"change":      {"Change", "Verandering"},
	"overall":     {"Overall", "Totaal"},
	"band":        {"Band", "Niveau"},
	"none":        {"No assessment yet: the report starts with a T0.", "Nog geen meting: het rapport begint met een T0."},
	"gaps":        {"Gap priorities: the lowest dimensions", "Prioriteiten: de laagste dimensies"},
	"peers":       {"Peer benchmark", "Vergelijking met branchegenoten"},
	"peersShown":  {"The mean of %d companies of the same size (%s), sector (%s) and province: %s; this company: %s.", "Het gemiddelde van %d bedrijven van dezelfde omvang (%s), sector (%s) en provincie: %s; dit bedrijf: %s."},
	"peersHidden": {"Not shown: fewer than %d companies of the same size, sector and province have an assessment.", "Niet getoond: minder dan %d bedrijven van dezelfde omvang, sector en provincie hebben een meting."},
	"evidence":    {"Evidence from the factory", "Bewijs uit de fabriek"},
	"evShown":     {"Edges connected %d · machines %d · series %d · days of data %d · services installed %d", "Aangesloten edges %d · machines %d · reeksen %d · dagen aan data %d · geïnstalleerde diensten %d"},
	"evNone":      {"The company shares no machine data with the hub.", "Het bedrijf deelt geen machinedata met de hub."},
	"next":        {"Next steps", "Volgende stappen"},
	"services":    {"Services delivered", "Geleverde diensten"},
	"noServices":  {"None yet.", "Nog geen."},
	"page":        {"page %d", "pagina %d"},
}

// say is the text key in lang (nl, else English), with args filled in.
func say(lang, key string, args ...any) string {
	i := 0
	if lang == "nl" {
		i = 1
	}
	if len(args) == 0 {
		return words[key][i]
	}
	return fmt.Sprintf(words[key][i], args...)
}

func score1(v float64) string { return fmt.Sprintf("%.0f", math.Round(v)) }

// offer is what the recommendations choose from: every fieldlab, the
// hub's courses, the marketplace's listings; and the names of the
// organisations it names by ID.
type offer struct {
	labs     []Fieldlab
	courses  []Course
	listings []Listing
	orgNames map[string]string
}

// orgName is the name of organisation id, or id (a partner outside
// molen, named on a service record).
func (o offer) orgName(id string) string { return cmp.Or(o.orgNames[id], id) }

// listingName is listing id's name in lang with its provider's name ("SPC
// · Molen"), or id for a listing no longer released.
func (o offer) listingName(id, lang string) string {
	for _, l := range o.listings {
		if l.ID == id {
			return l.Name(lang) + " · " + o.orgName(l.Provider)
		}
	}
	return id
}

// offerOf reads the offer for hub's customers.
func (s *Service) offerOf(ctx context.Context, hub string) (offer, error) {
	var o offer
	var err error
	if o.labs, err = s.Fieldlabs(ctx, ""); err != nil {
		return offer{}, err
	}
	if o.courses, err = s.Courses(ctx, hub, false); err != nil {
		return offer{}, err
	}
	if s.listings != nil {
		if o.listings, err = s.listings.Listings(ctx); err != nil {
			return offer{}, fmt.Errorf("listings: %w", err)
		}
	}
	o.orgNames = map[string]string{}
	for _, l := range o.labs {
		o.orgNames[l.ID] = l.Name
	}
	for _, l := range o.listings {
		if err := s.nameOrg(ctx, o.orgNames, l.Provider); err != nil {
			return offer{}, err
		}
	}
	return o, nil
}

// nameOrg adds organisation id's name to names, once; an ID that is no
// organisation (a partner's name on a service record) is left out.
func (s *Service) nameOrg(ctx context.Context, names map[string]string, id string) error {
	if _, ok := names[id]; ok || id == "" {
		return nil
	}
	name, _, _, err := s.orgs.Org(ctx, id)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		names[id] = ""
	case err != nil:
		return fmt.Errorf("organisation %s: %w", id, err)
	default:
		names[id] = name
	}
	return nil
}

// suggest suggests next steps for c, a customer of its hub, from the
// gaps of its latest result: the hub's fieldlabs and other hubs' public
// ones of the company's region whose technologies work on the gap, the
// listings for it and the hub's courses for it. Recorded lists what the
// hub's advisors recommended already.
func (s *Service) suggest(c Company, latest dma.Result, recorded []Recommended, lang string, o offer) ([]Recommendation, error) {
	q, err := s.load(dma.Latest)
	if err != nil {
		return nil, err
	}
	dimName := map[string]string{}
	for _, d := range q.Dimensions {
		dimName[d.ID] = strings.ToLower(d.Text.In(lang)[:1]) + d.Text.In(lang)[1:]
	}
	labs, courses, listings := o.labs, o.courses, o.listings
	when := map[string]time.Time{}
	for _, r := range recorded {
		if t, ok := when[r.Kind+"/"+r.Item]; !ok || r.Created.Before(t) {
			when[r.Kind+"/"+r.Item] = r.Created
		}
	}
	out := []Recommendation{}
	seen := map[string]bool{} // an item is recommended for its first gap only
	add := func(r Recommendation) {
		r.Recommended = when[r.Kind+"/"+r.Item]
		out = append(out, r)
		seen[r.Kind+"/"+r.Item] = true
	}
	for _, g := range gaps(latest) {
		lead := say(lang, "score", dimName[g.ID], score1(g.Score))
		rank := func(l Fieldlab) int { // lower is better; -1: not for this gap
			best := -1
			for i, t := range dimensionTechnologies[g.ID] {
				if slices.Contains(l.Technologies, t) && (best < 0 || i < best) {
					best = i
				}
			}
			if best < 0 || (l.Hub != c.Hub && !(l.Public && l.Region == c.NUTS)) {
				return -1
			}
			if l.Region != c.NUTS {
				best += 10
			}
			return best
		}
		var fit []Fieldlab
		for _, l := range labs {
			if rank(l) >= 0 && !seen[KindFieldlab+"/"+l.ID] {
				fit = append(fit, l)
			}
		}
		slices.SortStableFunc(fit, func(a, b Fieldlab) int { return cmp.Compare(rank(a), rank(b)) })
		for _, l := range fit[:min(perKind, len(fit))] {
			tech := ""
			for _, t := range dimensionTechnologies[g.ID] {
				if slices.Contains(l.Technologies, t) {
					tech = termLabel(Technologies, t, lang)
					break
				}
			}
			svc := termLabel(ServiceTypes, "test-before-invest", lang)
			if len(l.Services) > 0 && !slices.Contains(l.Services, "test-before-invest") {
				svc = termLabel(ServiceTypes, l.Services[0], lang)
			}
			where := say(lang, "inRegion")
			if l.Region != c.NUTS {
				where = say(lang, "nearby", termLabel(Regions, l.Region, lang))
			}
			add(Recommendation{Kind: KindFieldlab, Item: l.ID, Name: l.Name, Dimension: g.ID, Score: g.Score,
				Reason: lead + "; " + say(lang, "fieldlab", l.Name, strings.ToLower(svc), strings.ToLower(tech), where)})
		}
		n := 0
		for _, l := range listings {
			if n < perKind && slices.Contains(l.Dimensions, g.ID) && !seen[KindService+"/"+l.ID] {
				n++
				provider := o.orgName(l.Provider)
				add(Recommendation{Kind: KindService, Item: l.ID, Name: l.Name(lang), Provider: provider, Dimension: g.ID, Score: g.Score,
					Reason: lead + "; " + say(lang, "service", l.Name(lang), provider, dimName[g.ID])})
			}
		}
		n = 0
		for _, co := range courses {
			if n < perKind && slices.Contains(co.Dimensions, g.ID) && !seen[KindCourse+"/"+co.ID] {
				n++
				title := co.TitleEN
				if lang == "nl" {
					title = co.TitleNL
				}
				add(Recommendation{Kind: KindCourse, Item: co.ID, Name: title, Dimension: g.ID, Score: g.Score,
					Reason: lead + "; " + say(lang, "course", title, co.Hours)})
			}
		}
	}
	return out, nil
}

// termLabel is id's label in vocab, or id.
func termLabel(vocab []Term, id, lang string) string {
	for _, t := range vocab {
		if t.ID == id {
			return t.Label(lang)
		}
	}
	return id
}

// RecordRecommendation records that p's hub's advisor recommended an item
// to the hub's customer r.Company: a listing, a fieldlab (any hub's) or
// one of the hub's courses, for one of the DMA's dimensions. Recorded in
// the hub's audit log.
func (s *Service) RecordRecommendation(ctx context.Context, p api.Principal, r Recommended, addr string) (Recommended, error) {
	if _, err := s.Company(ctx, p.Org, r.Company); err != nil {
		return Recommended{}, err
	}
	var errs []string
	switch r.Kind {
	case KindService:
		found := false
		if s.listings != nil {
			ls, err := s.listings.Listings(ctx)
			if err != nil {
				return Recommended{}, fmt.Errorf("listings: %w", err)
			}
			found = slices.ContainsFunc(ls, func(l Listing) bool { return l.ID == r.Item })
		}
		if !found {
			errs = append(errs, fmt.Sprintf("item: no service %.40q in the marketplace", r.Item))
		}
	case KindFieldlab:
		labs, err := s.Fieldlabs(ctx, "")
		if err != nil {
			return Recommended{}, err
		}
		if !slices.ContainsFunc(labs, func(l Fieldlab) bool { return l.ID == r.Item && (l.Hub == p.Org || l.Public) }) {
			errs = append(errs, fmt.Sprintf("item: no fieldlab %.40q of this hub or public", r.Item))
		}
	case KindCourse:
		if _, err := s.Course(ctx, p.Org, r.Item); err != nil {
			errs = append(errs, fmt.Sprintf("item: no course %.40q of this hub", r.Item))
		}
	default:
		errs = append(errs, "kind: want service, fieldlab or course")
	}
	if !slices.Contains(Dimensions(), r.Dimension) {
		errs = append(errs, "dimension: want one of "+strings.Join(Dimensions(), ", "))
	}
	if checkText("note", r.Note, 1000) != nil {
		errs = append(errs, "note: at most 1000 characters")
	}
	if len(errs) > 0 {
		s.rejectedServices.WithLabelValues("recommendation").Inc()
		return Recommended{}, api.BadRequest("%s", strings.Join(errs, "; "))
	}
	r.ID, r.Hub, r.Created, r.Actor = "rec_"+secret.New("")[:16], p.Org, s.now().UTC(), p.Actor()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO prog_recommendations (id, hub, company, kind, item, dimension, note, created, actor)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r.ID, r.Hub, r.Company, r.Kind, r.Item, r.Dimension, r.Note, meta.Nanos(r.Created), r.Actor); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: r.Hub, At: r.Created, Actor: r.Actor, Action: "programme.recommended", Target: r.ID, Addr: addr,
			Detail: map[string]string{"company": r.Company, "kind": r.Kind, "item": r.Item, "dimension": r.Dimension}})
		return err
	})
	if err != nil {
		return Recommended{}, fmt.Errorf("recommendation for %s: %w", r.Company, err)
	}
	return r, nil
}

// Recommendations lists what hub recommended to company, oldest first.
func (s *Service) Recommendations(ctx context.Context, hub, company string) ([]Recommended, error) {
	out := []Recommended{}
	err := s.scan(ctx, `SELECT id, hub, company, kind, item, dimension, note, created, actor FROM prog_recommendations WHERE hub = $1 AND company = $2`,
		[]any{hub, company}, func(sc func(...any) error) error {
			var r Recommended
			var created int64
			if err := sc(&r.ID, &r.Hub, &r.Company, &r.Kind, &r.Item, &r.Dimension, &r.Note, &created, &r.Actor); err != nil {
				return err
			}
			r.Created = meta.Time(created).UTC()
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("recommendations for %s: %w", company, err)
	}
	slices.SortFunc(out, func(a, b Recommended) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// JourneyOf assembles c's journey at its hub: the recommendations for
// the gaps of its latest assessment (none before a T0) and its timeline
// of assessments, services, recommendations, trainings and installs,
// oldest first. list and results are its scored assessments and
// services its service records (the report has read them already).
func (s *Service) JourneyOf(ctx context.Context, c Company, list []Assessment, results []dma.Result, services []ServiceRecord, lang string) (Journey, error) {
	j := Journey{Recommendations: []Recommendation{}, Timeline: []Event{}}
	recorded, err := s.Recommendations(ctx, c.Hub, c.Org)
	if err != nil {
		return Journey{}, err
	}
	o, err := s.offerOf(ctx, c.Hub)
	if err != nil {
		return Journey{}, err
	}
	if len(list) > 0 {
		if j.Recommendations, err = s.suggest(c, results[len(results)-1], recorded, lang, o); err != nil {
			return Journey{}, fmt.Errorf("recommendations for %s: %w", c.Org, err)
		}
	}
	for i, a := range list {
		j.Timeline = append(j.Timeline, Event{At: a.Created.UTC(), Kind: "assessment", What: fmt.Sprintf("%s (%.1f)", a.Stage, results[i].Overall), Ref: a.ID})
	}
	for _, r := range services {
		day, _ := time.Parse(time.DateOnly, r.Day)
		j.Timeline = append(j.Timeline, Event{At: day, Kind: "service", What: termLabel(ServiceTypes, r.Type, lang) + " · " + cmp.Or(r.ProviderName, r.Provider), Ref: r.ID})
	}
	titles := map[string]string{}
	for _, co := range o.courses {
		titles[co.ID] = co.TitleEN
		if lang == "nl" {
			titles[co.ID] = co.TitleNL
		}
	}
	if len(recorded) > 0 {
		// What was recommended, by name: the current suggestions may no
		// longer hold it (its gap closed).
		names := map[string]string{}
		for id, title := range titles {
			names[KindCourse+"/"+id] = title
		}
		for _, l := range o.labs {
			names[KindFieldlab+"/"+l.ID] = l.Name
		}
		for _, l := range o.listings {
			names[KindService+"/"+l.ID] = o.listingName(l.ID, lang)
		}
		for _, r := range recorded {
			j.Timeline = append(j.Timeline, Event{At: r.Created, Kind: "recommended", What: cmp.Or(names[r.Kind+"/"+r.Item], r.Item), Ref: r.ID})
		}
	}
	// Trainings: how many of the company's people enrolled in and
	// completed each course on a day (people are not named here).
	type key struct {
		kind, course string
		day          time.Time
	}
	counts := map[key]int{}
	first := map[key]time.Time{} // the group's earliest, to place it on the timeline
	count := func(k key, at time.Time) {
		counts[k]++
		if f, ok := first[k]; !ok || at.Before(f) {
			first[k] = at
		}
	}
	err = s.scan(ctx, `SELECT course, enrolled, completed FROM acad_enrolments WHERE hub = $1 AND company = $2`, []any{c.Hub, c.Org},
		func(sc func(...any) error) error {
			var course string
			var enrolled, completed int64
			if err := sc(&course, &enrolled, &completed); err != nil {
				return err
			}
			at := meta.Time(enrolled).UTC()
			count(key{"enrolled", course, at.Truncate(24 * time.Hour)}, at)
			if completed != 0 {
				at := meta.Time(completed).UTC()
				count(key{"completed", course, at.Truncate(24 * time.Hour)}, at)
			}
			return nil
		})
	if err != nil {
		return Journey{}, fmt.Errorf("trainings of %s: %w", c.Org, err)
	}
	for k, n := range counts {
		j.Timeline = append(j.Timeline, Event{At: first[k], Kind: k.kind, What: fmt.Sprintf("%s × %d", cmp.Or(titles[k.course], k.course), n), Ref: k.course})
	}
	if s.installs != nil {
		ins, err := s.installs(ctx, c.Org)
		if err != nil {
			return Journey{}, fmt.Errorf("installs of %s: %w", c.Org, err)
		}
		for _, in := range ins {
			what := in.What
			if in.Service != "" {
				what = o.listingName(in.Service, lang) + " (" + in.What + ")"
			}
			j.Timeline = append(j.Timeline, Event{At: in.At.UTC(), Kind: cmp.Or(in.Kind, InstallEdge), What: what, Ref: in.Service})
		}
	}
	slices.SortStableFunc(j.Timeline, func(a, b Event) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Ref, b.Ref))
	})
	return j, nil
}
