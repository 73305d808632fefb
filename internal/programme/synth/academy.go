package synth

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/programme"
)

// courseThemes are the Smart Makers Academy's courses each hub gives.
var courseThemes = []struct {
	id, en, nl, tech string
	dims             []string
	hours            int
	modules          []string
}{
	{"sensors-retrofit", "Sensors on existing machines", "Sensoren op bestaande machines", "iot", []string{"readiness", "data"}, 4, []string{"What to measure", "Retrofit sensors", "From signal to value"}},
	{"oee-basics", "OEE: measure what your line does", "OEE: meten wat uw lijn doet", "data", []string{"readiness", "strategy"}, 3, []string{"Availability, performance, quality", "Downtime reasons", "Acting on OEE"}},
	{"cobot-first-steps", "First steps with a cobot", "Eerste stappen met een cobot", "robotics", []string{"automation", "human"}, 6, []string{"Safety", "Programming by demonstration", "Your first cell"}},
	{"vision-inspection", "Quality inspection with cameras", "Kwaliteitscontrole met camera's", "vision", []string{"automation"}, 4, []string{"Lighting and optics", "Training a model", "In the line"}},
	{"ai-for-makers", "AI for manufacturers", "AI voor maakbedrijven", "ai", []string{"automation", "strategy"}, 3, []string{"What AI can do", "Data you need", "A first use case"}},
	{"ot-security", "Securing machines and networks", "Machines en netwerken beveiligen", "cybersecurity", []string{"data"}, 4, []string{"IEC 62443 in short", "Zones and conduits", "An incident drill"}},
	{"energy-monitoring", "Measuring and cutting energy use", "Energieverbruik meten en verlagen", "energy", []string{"green", "data"}, 2, []string{"Metering", "Finding waste"}},
	{"predictive-maintenance", "Predictive maintenance in practice", "Voorspellend onderhoud in de praktijk", "maintenance", []string{"readiness", "automation"}, 5, []string{"Failure modes", "Condition monitoring", "Planning on condition"}},
	{"digital-twin-intro", "A digital twin of your line", "Een digitale tweeling van uw lijn", "digital-twin", []string{"readiness", "strategy"}, 4, []string{"Models", "Simulation", "Deciding with a twin"}},
	{"xr-work-instructions", "Work instructions in augmented reality", "Werkinstructies in augmented reality", "xr", []string{"human"}, 2, []string{"Authoring", "On the shop floor"}},
}

// hubCourse is a hub's course ID for a theme.
func hubCourse(hub, theme string) string { return hub[len("edih-"):] + "-" + theme }

// academy makes the hubs' courses and two learning routes each, and
// trains people: each enrols at their region's hub in one or two
// courses and completes each with a chance of one in five; one in fifty
// also takes a course at another hub (the same person: counted once).
// It imports the records (Service.Import), hub by hub.
func academy(ctx context.Context, s *programme.Service, rng *rand.Rand, cfg Config, byHub map[string][]string, st *Stats) error {
	system := func(hub string) api.Principal { return api.Principal{Org: hub, OrgKind: "hub", Role: api.RoleAdmin} }
	for _, h := range Hubs {
		for _, th := range courseThemes {
			c := programme.Course{ID: hubCourse(h.ID, th.id), TitleEN: th.en, TitleNL: th.nl, Technology: th.tech, Dimensions: th.dims, Hours: th.hours,
				Provider: h.ID, Modules: th.modules, Public: true,
				DescriptionEN: fmt.Sprintf("A %d-hour course of the Smart Makers Academy at %s.", th.hours, h.Name),
				DescriptionNL: fmt.Sprintf("Een cursus van %d uur van de Smart Makers Academy bij %s.", th.hours, h.Name)}
			if _, err := s.SetCourse(ctx, system(h.ID), c, ""); err != nil {
				return err
			}
		}
		for _, r := range []programme.LearningRoute{
			{ID: hubCourse(h.ID, "route-data"), TitleEN: "From machine data to decisions", TitleNL: "Van machinedata naar beslissingen",
				Courses: []string{hubCourse(h.ID, "sensors-retrofit"), hubCourse(h.ID, "oee-basics"), hubCourse(h.ID, "predictive-maintenance"), hubCourse(h.ID, "ai-for-makers")}},
			{ID: hubCourse(h.ID, "route-automation"), TitleEN: "Automating safely", TitleNL: "Veilig automatiseren",
				Courses: []string{hubCourse(h.ID, "cobot-first-steps"), hubCourse(h.ID, "vision-inspection"), hubCourse(h.ID, "ot-security")}},
		} {
			if _, err := s.SetRoute(ctx, system(h.ID), r, ""); err != nil {
				return err
			}
		}
	}
	rows := map[string][]programme.Completion{}
	learned := map[int]bool{}
	enrol := func(i int, hub string, n int) {
		companies := byHub[hub]
		company := ""
		if len(companies) > 0 && rng.IntN(4) > 0 {
			company = companies[rng.IntN(len(companies))]
		}
		for _, k := range rng.Perm(len(courseThemes))[:n] {
			enrolled := cfg.Now.AddDate(0, 0, -1-rng.IntN(720))
			r := programme.Completion{Email: fmt.Sprintf("learner-%06d@people.example", i), Name: fmt.Sprintf("Learner %d", i),
				Course: hubCourse(hub, courseThemes[k].id), Company: company, Enrolled: enrolled}
			if done := enrolled.AddDate(0, 0, 7+rng.IntN(60)); rng.IntN(5) == 0 && !done.After(cfg.Now) {
				r.Completed = done
				learned[i] = true
				st.Completions++
			}
			rows[hub] = append(rows[hub], r)
			st.Enrolments++
		}
	}
	for i := range cfg.People {
		home := Hubs[rng.IntN(len(Hubs))].ID
		enrol(i, home, 1+rng.IntN(2))
		if rng.IntN(50) == 0 {
			other := Hubs[rng.IntN(len(Hubs))].ID
			if other != home {
				enrol(i, other, 1)
			}
		}
	}
	st.Learners = len(learned)
	for _, h := range Hubs {
		if _, err := s.Import(ctx, system(h.ID), rows[h.ID], ""); err != nil {
			return fmt.Errorf("academy of %s: %w", h.ID, err)
		}
	}
	return nil
}
