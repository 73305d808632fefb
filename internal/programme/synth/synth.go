// Package synth generates a national programme of synthetic data,
// deterministically from a seed: five regional hubs with their regions,
// about fifty fieldlabs, thousands of companies with their profiles,
// services, collaborations and digital maturity assessments (T0, T1,
// T2). It stores everything through the programme domain's own methods,
// so what it makes passes the checks a hub's staff pass. It feeds
// `molen demo --programme` and the programme's benchmarks.
package synth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme"
	"github.com/molen-io/molen/internal/programme/dma"
)

// Config says how much to make.
type Config struct {
	Seed        uint64
	Companies   int       // 3,500 nationally
	Assessments int       // 10,000: a T0 for every company, then T1s, then T2s
	Now         time.Time // the day the data ends; assessments and services lie before it
	// People are the academy's learners to train (about 200,000
	// nationally); the records are imported in bulk.
	People int
	// Known are companies that exist already (the demo's), registered
	// with their hub first; they get services but no assessments.
	Known []programme.Company
}

// Tree makes organisations (the auth domain's tree) and records that a
// company connected an edge (the fleet's record of an enrolled edge; a
// synthetic edge sends nothing).
type Tree interface {
	CreateOrg(ctx context.Context, id, name, kind, parent string) error
	Connect(ctx context.Context, org string, at time.Time) error
}

// Stats counts what Generate made.
type Stats struct {
	Hubs, Fieldlabs, Companies, Assessments, Services, Collaborations, Connected int
	// The academy's: enrolments, completions and the distinct people
	// with a completion.
	Enrolments, Completions, Learners int
	// Library is the knowledge library's entries.
	Library int
}

// Hub is one of the five regional hubs.
type Hub struct {
	ID, Name string
	Regions  []string
	Cities   []string
	EN, NL   string
}

// Hubs are the programme's five regional hubs. The demo's edih-noord and
// edih-zuid are two of them.
var Hubs = []Hub{
	{"edih-noord", "EDIH Noord — Smart Industry Hub", []string{"NL11", "NL12", "NL13", "NL21"}, []string{"Groningen", "Leeuwarden", "Assen", "Zwolle", "Emmen", "Enschede"},
		"Digitalisation for manufacturers in the north and Overijssel.", "Digitalisering voor maakbedrijven in het noorden en Overijssel."},
	{"edih-oost", "EDIH Oost — Gelderland Digital", []string{"NL22", "NL23"}, []string{"Arnhem", "Nijmegen", "Apeldoorn", "Doetinchem", "Almere", "Lelystad"},
		"Smart manufacturing in Gelderland and Flevoland.", "Slim produceren in Gelderland en Flevoland."},
	{"edih-west", "EDIH West — Randstad Smart Industry", []string{"NL32", "NL36", "NL34"}, []string{"Rotterdam", "Delft", "Amsterdam", "Haarlem", "Leiden", "Vlissingen"},
		"Digital innovation for the Randstad and Zeeland.", "Digitale innovatie voor de Randstad en Zeeland."},
	{"edih-midden", "EDIH Midden — Utrecht Digital Hub", []string{"NL35"}, []string{"Utrecht", "Amersfoort", "Nieuwegein", "Veenendaal"},
		"Data and AI for manufacturers in the centre.", "Data en AI voor maakbedrijven in het midden."},
	{"edih-zuid", "EDIH Zuid — Brainport Digital Hub", []string{"NL41", "NL42"}, []string{"Eindhoven", "Helmond", "Tilburg", "Breda", "Venlo", "Maastricht"},
		"High-tech manufacturing in Brabant and Limburg.", "Hightech maakindustrie in Brabant en Limburg."},
}

var (
	labThemes = []struct {
		name, en, nl string
		tech         []string
		services     []string
	}{
		{"Smart Maintenance", "Predictive maintenance on real machines.", "Voorspellend onderhoud aan echte machines.", []string{"maintenance", "iot", "data"}, []string{"test-before-invest", "skills"}},
		{"Cobots", "Try a collaborative robot on your product.", "Probeer een cobot op uw product.", []string{"robotics", "vision"}, []string{"test-before-invest", "skills"}},
		{"Vision & AI", "Quality inspection with cameras and AI.", "Kwaliteitscontrole met camera's en AI.", []string{"vision", "ai"}, []string{"test-before-invest", "investment"}},
		{"Additive", "Metal and polymer 3D printing.", "3D-printen in metaal en kunststof.", []string{"additive", "digital-twin"}, []string{"test-before-invest", "skills"}},
		{"Digital Twin", "Simulate your line before you change it.", "Simuleer uw lijn voordat u hem verandert.", []string{"digital-twin", "data"}, []string{"test-before-invest", "ecosystem"}},
		{"OT Security", "Secure your machines and network.", "Beveilig uw machines en netwerk.", []string{"cybersecurity", "iot"}, []string{"skills", "ecosystem"}},
		{"Energy", "Measure and cut energy use.", "Energieverbruik meten en verlagen.", []string{"energy", "iot", "data"}, []string{"test-before-invest", "investment"}},
		{"XR Training", "Train operators with augmented reality.", "Operators trainen met augmented reality.", []string{"xr"}, []string{"skills"}},
		{"Data Factory", "From machine data to decisions.", "Van machinedata naar beslissingen.", []string{"data", "ai", "iot"}, []string{"test-before-invest", "skills", "investment"}},
		{"Flexible Assembly", "Flexible, digital assembly lines.", "Flexibele, digitale assemblagelijnen.", []string{"robotics", "digital-twin"}, []string{"test-before-invest", "ecosystem"}},
	}
	prefixes = []string{"Van der Berg", "De Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "De Boer", "Mulder", "De Groot",
		"Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok", "Vermeulen", "Postma", "Hoekstra", "Koster", "Prins", "Huisman"}
	trades = []struct{ word, nace string }{
		{"Metaalbewerking", "C25"}, {"Kunststoffen", "C22"}, {"Machinebouw", "C28"}, {"Voedingsmiddelen", "C10"}, {"Gieterij", "C24"},
		{"Precisietechniek", "C25"}, {"Meubelmakerij", "C31"}, {"Elektrotechniek", "C27"}, {"Verpakkingen", "C17"}, {"Onderhoud", "C33"},
		{"Carrosseriebouw", "C29"}, {"Medische Techniek", "C32"}, {"Drukkerij", "C18"}, {"Engineering", "M71"}, {"Software", "J62"},
	}
	forms    = []string{"B.V.", "B.V.", "B.V.", "& Zn. B.V.", "Techniek B.V.", "Groep B.V."}
	partners = []string{"Saxion", "Fontys", "TU Eindhoven", "Universiteit Twente", "TU Delft", "Hanzehogeschool", "Avans", "ROC Twente", "Summa College", "TNO"}
	ascii    = map[rune]string{'—': "", '&': "en", '.': "", ' ': "-"}
)

func slug(s string) string {
	var out []rune
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			out = append(out, r)
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		default:
			if rep, ok := ascii[r]; ok {
				out = append(out, []rune(rep)...)
			}
		}
	}
	for len(out) > 0 && out[len(out)-1] == '-' {
		out = out[:len(out)-1]
	}
	s = string(out)
	for len(s) > 40 || len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// Generate makes the programme. It is deterministic in cfg: the same
// config makes the same hubs, fieldlabs, companies, answers and money.
// Hubs and fieldlabs that exist already are kept (and described).
func Generate(ctx context.Context, s *programme.Service, tree Tree, cfg Config) (Stats, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d6f6c656e))
	var st Stats
	type lab struct{ id, hub string }
	var labs []lab
	var refs []labRef
	for _, h := range Hubs {
		if err := tree.CreateOrg(ctx, h.ID, h.Name, "hub", "platform"); err != nil && !errors.Is(err, meta.ErrExists) {
			return st, err
		}
		if err := s.SetHub(ctx, programme.HubProfile{Hub: h.ID, Regions: h.Regions, DescriptionEN: h.EN, DescriptionNL: h.NL,
			Website: "https://" + h.ID + ".example"}); err != nil {
			return st, err
		}
		st.Hubs++
		for i, th := range labThemes {
			city := h.Cities[i%len(h.Cities)]
			id := slug("fieldlab-" + th.name + "-" + city)
			if err := tree.CreateOrg(ctx, id, "Fieldlab "+th.name+" "+city, "fieldlab", h.ID); err != nil && !errors.Is(err, meta.ErrExists) {
				return st, err
			}
			region := h.Regions[i%len(h.Regions)]
			f := programme.Fieldlab{ID: id, Name: "Fieldlab " + th.name + " " + city, Region: region, Technologies: th.tech, Services: th.services,
				Facilities: []string{th.name + " demo line", "meeting room for 20"}, Partners: []string{partners[rng.IntN(len(partners))], partners[rng.IntN(len(partners))]},
				UseCases: []string{fmt.Sprintf("%s at a %s company", th.name, trades[rng.IntN(len(trades))].word)}, DescriptionEN: th.en, DescriptionNL: th.nl,
				Website: "https://" + id + ".example", Notes: "capacity " + fmt.Sprint(2+rng.IntN(6)) + " companies a month", Public: rng.IntN(10) > 0}
			if err := s.SetFieldlab(ctx, h.ID, f); err != nil {
				return st, err
			}
			labs = append(labs, lab{id, h.ID})
			refs = append(refs, labRef{id: id, name: f.Name, city: city, theme: i})
			st.Fieldlabs++
		}
	}
	if err := library(ctx, s, cfg.Seed, refs, &st); err != nil {
		return st, err
	}
	hubOf := map[string]string{}
	for _, r := range Hubs {
		for _, reg := range r.Regions {
			hubOf[reg] = r.ID
		}
	}
	system := func(hub string) api.Principal { return api.Principal{Org: hub, OrgKind: "hub", Role: api.RoleAdmin} }
	q := dma.MustLoad(dma.Latest)
	type made struct {
		org, hub, size, sector string
		level                  float64
		t0                     time.Time
	}
	var companies []made
	register := func(c programme.Company) (programme.Company, error) {
		c.Reached = cfg.Now.AddDate(0, -(38 + rng.IntN(12)), -rng.IntN(28))
		c.Registered = c.Reached.AddDate(0, 0, 7+rng.IntN(60))
		c, err := s.Register(ctx, system(c.Hub), c, "")
		if err != nil {
			return c, err
		}
		st.Companies++
		return c, nil
	}
	for _, c := range cfg.Known {
		if _, err := register(c); err != nil {
			return st, fmt.Errorf("known company %s: %w", c.Org, err)
		}
	}
	regions := programme.Regions
	for i := range cfg.Companies - len(cfg.Known) {
		tr := trades[rng.IntN(len(trades))]
		name := fmt.Sprintf("%s %s %s", prefixes[rng.IntN(len(prefixes))], tr.word, forms[rng.IntN(len(forms))])
		size := programme.SizeSmall
		switch r := rng.IntN(100); {
		case r >= 95:
			size = programme.SizeLarge
		case r >= 75:
			size = programme.SizeMedium
		}
		region := regions[rng.IntN(len(regions))].ID
		c := programme.Company{Org: fmt.Sprintf("co-%04d", i+1), Hub: hubOf[region], Name: name, KvK: fmt.Sprintf("%08d", 60000000+i*37),
			VAT: fmt.Sprintf("NL%09dB01", 800000000+i*37), Size: size, NACE: tr.nace, NUTS: region,
			ContactName: "Contact " + fmt.Sprint(i+1), ContactEmail: fmt.Sprintf("info@co-%04d.example", i+1), Consent: rng.IntN(50) > 0}
		c, err := register(c)
		if err != nil {
			return st, err
		}
		if c.Consent {
			companies = append(companies, made{org: c.Org, hub: c.Hub, size: size, sector: tr.nace[:1], level: 0.1 + 0.6*rng.Float64(),
				t0: c.Reached.AddDate(0, 1, rng.IntN(28))})
		}
	}
	// Services: every registered company one to three; large companies at
	// the market price.
	all, err := s.Companies(ctx, "")
	if err != nil {
		return st, err
	}
	known := map[string]bool{}
	for _, c := range cfg.Known {
		known[c.Org] = true
	}
	for _, c := range all {
		if !c.Consent {
			continue
		}
		// About a third of the synthetic companies connected an edge after
		// their first service.
		if !known[c.Org] && rng.IntN(3) == 0 {
			if err := tree.Connect(ctx, c.Org, c.Registered.AddDate(0, 2, 0)); err != nil {
				return st, fmt.Errorf("edge of %s: %w", c.Org, err)
			}
			st.Connected++
		}
		hubLabs := []string{}
		for _, l := range labs {
			if l.hub == c.Hub {
				hubLabs = append(hubLabs, l.id)
			}
		}
		for range 1 + rng.IntN(3) {
			t := programme.ServiceTypes[rng.IntN(len(programme.ServiceTypes))].ID
			market := int64(1000+rng.IntN(9000)) * 100
			r := programme.ServiceRecord{Company: c.Org, Type: t, Day: c.Registered.AddDate(0, 1+rng.IntN(10), 0).Format(time.DateOnly),
				Provider: hubLabs[rng.IntN(len(hubLabs))], MarketPrice: market, Price: market / 4, Subsidy: market - market/4}
			if c.Size == programme.SizeLarge {
				r.Price, r.Subsidy = market, 0
			}
			switch t {
			case "skills":
				r.People = int64(2 + rng.IntN(25))
			case "investment":
				r.Investment = int64(20000+rng.IntN(480000)) * 100
			case "test-before-invest":
				r.People = int64(1 + rng.IntN(4))
				if rng.IntN(3) == 0 {
					r.Investment = int64(10000+rng.IntN(190000)) * 100
				}
			default:
				r.People = int64(1 + rng.IntN(3))
			}
			if _, err := s.Record(ctx, system(c.Hub), r, ""); err != nil {
				return st, fmt.Errorf("service for %s: %w", c.Org, err)
			}
			st.Services++
		}
	}
	for i := range 40 {
		h, p := Hubs[i%len(Hubs)], Hubs[(i+1+rng.IntN(len(Hubs)-1))%len(Hubs)]
		if _, err := s.Collaborate(ctx, system(h.ID), programme.Collaboration{Partner: p.ID, Topic: "Joint " + labThemes[rng.IntN(len(labThemes))].name + " day",
			Day: cfg.Now.AddDate(0, -rng.IntN(24), 0).Format(time.DateOnly)}); err != nil {
			return st, err
		}
		st.Collaborations++
	}
	// Assessments: a T0 for every company, then T1s, then T2s, until
	// cfg.Assessments are made; most companies improve.
	for stage, n := range []dma.Stage{dma.T0, dma.T1, dma.T2} {
		for _, c := range companies {
			if st.Assessments >= cfg.Assessments {
				break
			}
			at := c.t0.AddDate(0, 12*stage+rng.IntN(2), rng.IntN(20))
			if at.After(cfg.Now) {
				continue
			}
			level := math.Min(0.95, c.level+float64(stage)*(0.02+0.1*rng.Float64()))
			p := api.Principal{Org: c.org, OrgKind: "company", Role: api.RoleEngineer, Via: c.hub}
			if _, _, err := s.SubmitAt(ctx, p, n, dma.Latest, answers(rng, q, c.size, c.sector, level), "", at); err != nil {
				return st, fmt.Errorf("%s of %s: %w", n, c.org, err)
			}
			st.Assessments++
		}
	}
	byHub := map[string][]string{}
	for _, c := range all {
		if c.Consent {
			byHub[c.Hub] = append(byHub[c.Hub], c.Org)
		}
	}
	if err := academy(ctx, s, rng, cfg, byHub, &st); err != nil {
		return st, err
	}
	return st, nil
}

// answers fills the questionnaire for a company of maturity level (0–1).
func answers(rng *rand.Rand, q *dma.Questionnaire, size, sector string, level float64) dma.Answers {
	dmaSize := map[string]string{programme.SizeSmall: "small", programme.SizeMedium: "medium", programme.SizeLarge: "small-midcap"}[size]
	a := dma.Answers{Company: map[string]string{"name": "synthetic", "size": dmaSize, "sector": sector, "country": "NL"}, Questions: map[string]dma.Answer{}}
	for _, d := range q.Dimensions {
		for _, qu := range d.Questions {
			var ans dma.Answer
			switch qu.Kind {
			case dma.KindCheckbox:
				ans.Items = []string{}
				for _, it := range qu.Items {
					if !it.Exclusive && rng.Float64() < level {
						ans.Items = append(ans.Items, it.ID)
					}
				}
			case dma.KindInvestment:
				for _, it := range qu.Items {
					if rng.Float64() < level {
						ans.Invested = append(ans.Invested, it.ID)
					}
					if rng.Float64() < level/2 {
						ans.Planned = append(ans.Planned, it.ID)
					}
				}
			case dma.KindScale:
				top := 0
				for _, l := range q.Scales[qu.Scale] {
					top = max(top, l.Value)
				}
				ans.Levels = map[string]int{}
				for _, it := range qu.Items {
					v := int(math.Round(level*float64(top) + rng.NormFloat64()*0.7))
					ans.Levels[it.ID] = min(top, max(0, v))
				}
			}
			a.Questions[qu.ID] = ans
		}
	}
	return a
}
