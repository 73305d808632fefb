package programme

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
)

// The registry's vocabularies: the EDIH service types, the technologies a
// fieldlab works with and the Dutch provinces as NUTS 2021 level-2
// regions. Each has a Dutch and an English label (Label).
var (
	// ServiceTypes are the four EDIH service types.
	ServiceTypes = []Term{
		{"test-before-invest", "Test before invest", "Testen voor investeren"},
		{"skills", "Skills and training", "Vaardigheden en training"},
		{"investment", "Support to find investment", "Hulp bij het vinden van investeringen"},
		{"ecosystem", "Ecosystem and networking", "Ecosysteem en netwerken"},
	}
	// Technologies are what fieldlabs offer.
	Technologies = []Term{
		{"ai", "Artificial intelligence", "Kunstmatige intelligentie"},
		{"robotics", "Robotics and cobots", "Robotica en cobots"},
		{"iot", "Industrial IoT and sensors", "Industrieel IoT en sensoren"},
		{"additive", "Additive manufacturing", "Additieve productie (3D-printen)"},
		{"vision", "Machine vision", "Machinevisie"},
		{"digital-twin", "Digital twins and simulation", "Digital twins en simulatie"},
		{"data", "Data platforms and analytics", "Dataplatforms en analyse"},
		{"cybersecurity", "Cybersecurity", "Cyberveiligheid"},
		{"xr", "Augmented and virtual reality", "Augmented en virtual reality"},
		{"maintenance", "Smart maintenance", "Slim onderhoud"},
		{"energy", "Energy and sustainability", "Energie en duurzaamheid"},
	}
	// Regions are the Dutch provinces (NUTS 2021, level 2).
	Regions = []Term{
		{"NL11", "Groningen", "Groningen"}, {"NL12", "Friesland", "Friesland"}, {"NL13", "Drenthe", "Drenthe"},
		{"NL21", "Overijssel", "Overijssel"}, {"NL22", "Gelderland", "Gelderland"}, {"NL23", "Flevoland", "Flevoland"},
		{"NL32", "North Holland", "Noord-Holland"}, {"NL34", "Zeeland", "Zeeland"}, {"NL35", "Utrecht", "Utrecht"},
		{"NL36", "South Holland", "Zuid-Holland"}, {"NL41", "North Brabant", "Noord-Brabant"}, {"NL42", "Limburg", "Limburg"},
	}
)

// Term is one word of a vocabulary.
type Term struct {
	ID string `json:"id"`
	EN string `json:"en"`
	NL string `json:"nl"`
}

// Label is the term in lang ("nl" or else English).
func (t Term) Label(lang string) string {
	if lang == "nl" {
		return t.NL
	}
	return t.EN
}

func known(vocab []Term, id string) bool {
	return slices.ContainsFunc(vocab, func(t Term) bool { return t.ID == id })
}

// checkTerms names every id not in vocab.
func checkTerms(field string, vocab []Term, ids []string) error {
	var bad []string
	for _, id := range ids {
		if !known(vocab, id) {
			bad = append(bad, fmt.Sprintf("%q", id))
		}
	}
	if len(bad) > 0 {
		var want []string
		for _, t := range vocab {
			want = append(want, t.ID)
		}
		return api.BadRequest("%s: unknown %s (want %s)", field, strings.Join(bad, ", "), strings.Join(want, ", "))
	}
	return nil
}

// HubProfile is what a hub publishes about itself.
type HubProfile struct {
	Hub           string   `json:"hub"`
	Name          string   `json:"name"`
	Regions       []string `json:"regions"`
	DescriptionEN string   `json:"description_en"`
	DescriptionNL string   `json:"description_nl"`
	Website       string   `json:"website"`
}

// Fieldlab is a fieldlab's entry in the registry. Notes are for the hub's
// staff; everything else is in the public catalogue when Public.
type Fieldlab struct {
	ID            string   `json:"id"`
	Hub           string   `json:"hub"`
	Name          string   `json:"name"`
	Region        string   `json:"region"`
	Technologies  []string `json:"technologies"`
	Facilities    []string `json:"facilities"`
	Partners      []string `json:"partners"`
	UseCases      []string `json:"use_cases"`
	Services      []string `json:"services"`
	DescriptionEN string   `json:"description_en"`
	DescriptionNL string   `json:"description_nl"`
	Website       string   `json:"website"`
	Notes         string   `json:"notes"`
	Public        bool     `json:"public"`
}

// checkList bounds a list of free texts.
func checkList(field string, l []string) error {
	if len(l) > 50 {
		return api.BadRequest("%s: at most 50 entries", field)
	}
	for _, v := range l {
		if strings.TrimSpace(v) == "" || len(v) > 300 || !meta.Text(v) || strings.ContainsAny(v, "\r\n") {
			return api.BadRequest("%s: each entry 1 to 300 characters of text on one line", field)
		}
	}
	return nil
}

func checkText(field, v string, n int) error {
	if len(v) > n || !meta.Text(v) {
		return api.BadRequest("%s: at most %d characters of text", field, n)
	}
	return nil
}

func checkWebsite(v string) error {
	if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") || checkText("website", v, 300) != nil {
		return api.BadRequest("website: an http(s) address of at most 300 characters")
	}
	return nil
}

func (p *HubProfile) check() error {
	if len(p.Regions) == 0 {
		return api.BadRequest("regions: want at least one NUTS 2021 region (NL11 … NL42)")
	}
	if err := checkTerms("regions", Regions, p.Regions); err != nil {
		return err
	}
	if err := errors.Join(checkText("description_en", p.DescriptionEN, 2000), checkText("description_nl", p.DescriptionNL, 2000), checkWebsite(p.Website)); err != nil {
		return err
	}
	return nil
}

func (f *Fieldlab) check() error {
	if strings.TrimSpace(f.Name) == "" || checkText("name", f.Name, 200) != nil {
		return api.BadRequest("name: 1 to 200 characters")
	}
	if !known(Regions, f.Region) {
		return checkTerms("region", Regions, []string{f.Region})
	}
	if err := checkTerms("technologies", Technologies, f.Technologies); err != nil {
		return err
	}
	if err := checkTerms("services", ServiceTypes, f.Services); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		l    []string
	}{{"facilities", f.Facilities}, {"partners", f.Partners}, {"use_cases", f.UseCases}} {
		if err := checkList(l.name, l.l); err != nil {
			return err
		}
	}
	return errors.Join(checkText("description_en", f.DescriptionEN, 2000), checkText("description_nl", f.DescriptionNL, 2000),
		checkText("notes", f.Notes, 2000), checkWebsite(f.Website))
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func parseList(s string) []string {
	var l []string
	_ = json.Unmarshal([]byte(s), &l)
	if l == nil {
		l = []string{}
	}
	return l
}

// SetHub stores a hub's profile; hub must be an organisation of kind hub.
func (s *Service) SetHub(ctx context.Context, p HubProfile) error {
	if err := p.check(); err != nil {
		return err
	}
	name, kind, _, err := s.org(ctx, p.Hub)
	if err != nil {
		return err
	}
	if kind != "hub" {
		return api.BadRequest("%s is a %s, not a hub", p.Hub, kind)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO prog_hubs (hub, name, regions, description_en, description_nl, website, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hub) DO UPDATE SET name = excluded.name, regions = excluded.regions,
		description_en = excluded.description_en, description_nl = excluded.description_nl, website = excluded.website, updated = excluded.updated`,
		p.Hub, name, strings.Join(p.Regions, ","), p.DescriptionEN, p.DescriptionNL, p.Website, meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("profile of hub %s: %w", p.Hub, err)
	}
	return nil
}

// Hubs lists the hubs' profiles by ID.
func (s *Service) Hubs(ctx context.Context) ([]HubProfile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hub, name, regions, description_en, description_nl, website FROM prog_hubs`)
	if err != nil {
		return nil, fmt.Errorf("hubs: %w", err)
	}
	defer rows.Close()
	var out []HubProfile
	for rows.Next() {
		var h HubProfile
		var regions string
		if err := rows.Scan(&h.Hub, &h.Name, &regions, &h.DescriptionEN, &h.DescriptionNL, &h.Website); err != nil {
			return nil, fmt.Errorf("hubs: %w", err)
		}
		h.Regions = strings.Split(regions, ",")
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b HubProfile) int { return strings.Compare(a.Hub, b.Hub) })
	return out, rows.Err()
}

// SetFieldlab stores a fieldlab's entry, made by its hub: the fieldlab
// must be an organisation below hub (else meta.ErrNotFound).
func (s *Service) SetFieldlab(ctx context.Context, hub string, f Fieldlab) error {
	_, kind, _, err := s.org(ctx, f.ID)
	if err == nil && kind != "fieldlab" {
		err = meta.ErrNotFound
	}
	if err == nil {
		var h string
		if h, err = s.hubOf(ctx, f.ID); err == nil && h != hub {
			err = meta.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("fieldlab %s of %s: %w", f.ID, hub, err)
	}
	if err := f.check(); err != nil {
		return err
	}
	f.Hub = hub
	_, err = s.db.ExecContext(ctx, `INSERT INTO prog_fieldlabs (`+fieldlabColumns+`, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (fieldlab) DO UPDATE SET hub = excluded.hub, name = excluded.name, region = excluded.region,
		technologies = excluded.technologies, facilities = excluded.facilities, partners = excluded.partners,
		use_cases = excluded.use_cases, services = excluded.services, description_en = excluded.description_en,
		description_nl = excluded.description_nl, website = excluded.website, notes = excluded.notes,
		public = excluded.public, updated = excluded.updated`,
		f.ID, f.Hub, f.Name, f.Region, jsonList(f.Technologies), jsonList(f.Facilities), jsonList(f.Partners),
		jsonList(f.UseCases), jsonList(f.Services), f.DescriptionEN, f.DescriptionNL, f.Website, f.Notes, boolInt(f.Public), meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("fieldlab %s: %w", f.ID, err)
	}
	return nil
}

const fieldlabColumns = `fieldlab, hub, name, region, technologies, facilities, partners, use_cases, services, description_en, description_nl, website, notes, public`

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Fieldlabs lists the fieldlabs of hub ("" for every hub), by ID.
func (s *Service) Fieldlabs(ctx context.Context, hub string) ([]Fieldlab, error) {
	q, args := `SELECT `+fieldlabColumns+` FROM prog_fieldlabs`, []any{}
	if hub != "" {
		q, args = q+` WHERE hub = $1`, append(args, hub)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("fieldlabs: %w", err)
	}
	defer rows.Close()
	var out []Fieldlab
	for rows.Next() {
		var f Fieldlab
		var tech, fac, part, uc, svc string
		var public int64
		if err := rows.Scan(&f.ID, &f.Hub, &f.Name, &f.Region, &tech, &fac, &part, &uc, &svc, &f.DescriptionEN, &f.DescriptionNL, &f.Website, &f.Notes, &public); err != nil {
			return nil, fmt.Errorf("fieldlabs: %w", err)
		}
		f.Technologies, f.Facilities, f.Partners, f.UseCases, f.Services, f.Public = parseList(tech), parseList(fac), parseList(part), parseList(uc), parseList(svc), public == 1
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fieldlab) int { return strings.Compare(a.ID, b.ID) })
	return out, rows.Err()
}

// Catalogue is the public catalogue: the hubs and the public fieldlabs, in
// one language, without anything for the hubs' staff only.
type Catalogue struct {
	Lang         string          `json:"lang"`
	Hubs         []CatalogueHub  `json:"hubs"`
	Fieldlabs    []CatalogueLab  `json:"fieldlabs"`
	Regions      []CatalogueTerm `json:"regions"`
	Technologies []CatalogueTerm `json:"technologies"`
	ServiceTypes []CatalogueTerm `json:"service_types"`
}

// CatalogueTerm is a vocabulary term in the catalogue's language.
type CatalogueTerm struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// CatalogueHub is a hub as the public sees it.
type CatalogueHub struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Regions     []string `json:"regions"`
	Description string   `json:"description"`
	Website     string   `json:"website"`
}

// CatalogueLab is a public fieldlab as the public sees it.
type CatalogueLab struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Hub          string   `json:"hub"`
	Region       string   `json:"region"`
	Technologies []string `json:"technologies"`
	Facilities   []string `json:"facilities"`
	Partners     []string `json:"partners"`
	UseCases     []string `json:"use_cases"`
	Services     []string `json:"services"`
	Description  string   `json:"description"`
	Website      string   `json:"website"`
}

// Filter narrows the catalogue; an empty field matches everything.
type Filter struct {
	Region, Technology, Service, Lang string
}

func terms(vocab []Term, lang string) []CatalogueTerm {
	out := make([]CatalogueTerm, len(vocab))
	for i, t := range vocab {
		out[i] = CatalogueTerm{t.ID, t.Label(lang)}
	}
	return out
}

// Catalogue finds the help on offer: the hubs serving f.Region and the
// public fieldlabs of f.Technology and f.Service in f.Region or of a hub
// that serves it.
func (s *Service) Catalogue(ctx context.Context, f Filter) (Catalogue, error) {
	if f.Lang != "nl" && f.Lang != "en" {
		return Catalogue{}, api.BadRequest("lang: want nl or en")
	}
	for _, c := range []struct {
		name, v string
		vocab   []Term
	}{{"region", f.Region, Regions}, {"technology", f.Technology, Technologies}, {"service", f.Service, ServiceTypes}} {
		if c.v != "" && !known(c.vocab, c.v) {
			return Catalogue{}, checkTerms(c.name, c.vocab, []string{c.v})
		}
	}
	hubs, err := s.Hubs(ctx)
	if err != nil {
		return Catalogue{}, err
	}
	labs, err := s.Fieldlabs(ctx, "")
	if err != nil {
		return Catalogue{}, err
	}
	c := Catalogue{Lang: f.Lang, Hubs: []CatalogueHub{}, Fieldlabs: []CatalogueLab{}, Regions: terms(Regions, f.Lang),
		Technologies: terms(Technologies, f.Lang), ServiceTypes: terms(ServiceTypes, f.Lang)}
	serves := map[string]bool{} // hubs serving the region
	for _, h := range hubs {
		if f.Region != "" && !slices.Contains(h.Regions, f.Region) {
			continue
		}
		serves[h.Hub] = true
		d := h.DescriptionEN
		if f.Lang == "nl" {
			d = h.DescriptionNL
		}
		c.Hubs = append(c.Hubs, CatalogueHub{ID: h.Hub, Name: h.Name, Regions: h.Regions, Description: d, Website: h.Website})
	}
	for _, l := range labs {
		switch {
		case !l.Public,
			f.Region != "" && l.Region != f.Region && !serves[l.Hub],
			f.Technology != "" && !slices.Contains(l.Technologies, f.Technology),
			f.Service != "" && !slices.Contains(l.Services, f.Service):
			continue
		}
		d := l.DescriptionEN
		if f.Lang == "nl" {
			d = l.DescriptionNL
		}
		c.Fieldlabs = append(c.Fieldlabs, CatalogueLab{ID: l.ID, Name: l.Name, Hub: l.Hub, Region: l.Region, Technologies: l.Technologies,
			Facilities: l.Facilities, Partners: l.Partners, UseCases: l.UseCases, Services: l.Services, Description: d, Website: l.Website})
	}
	// Fieldlabs in the region itself first.
	slices.SortStableFunc(c.Fieldlabs, func(a, b CatalogueLab) int {
		return boolCmp(b.Region == f.Region, a.Region == f.Region)
	})
	return c, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// org looks an organisation up through the configured tree.
func (s *Service) org(ctx context.Context, id string) (name, kind, parent string, err error) {
	if !meta.Text(id) || id == "" {
		return "", "", "", fmt.Errorf("organisation %q: %w", id, meta.ErrNotFound)
	}
	return s.orgs.Org(ctx, id)
}

// Orgs is the organisation tree as the programme needs it (the auth
// domain's).
type Orgs interface {
	// Org returns an organisation's name, kind and parent, or
	// meta.ErrNotFound.
	Org(ctx context.Context, id string) (name, kind, parent string, err error)
	// CreateOrgTx makes an organisation within tx; meta.ErrExists if its ID
	// is taken.
	CreateOrgTx(ctx context.Context, tx *sql.Tx, id, name, kind, parent string) error
}
