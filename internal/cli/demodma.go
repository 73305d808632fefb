package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/programme/dma"
)

// The demo's digital maturity assessments: each company a T0 half a year
// ago, made by its owner; the simulated factory also a T1 a week ago,
// made by its hub's advisor. The answers are fixed, so the scores are
// too (docs/programme.md works the factory's T0 out).

type demoAssessment struct {
	org, owner string
	stage      dma.Stage
	ago        time.Duration
	answers    dma.Answers
	advisor    string // made by this advisor of the company's hub, acting for it
}

func demoCompany(name, size string) map[string]string {
	return map[string]string{"name": name, "size": size, "sector": "C", "country": "NL"}
}

// demoDMA answers a questionnaire: the items ticked per checkbox
// question, the areas planned and invested in, the levels per scale
// question.
func demoDMA(company map[string]string, ticks map[string][]string, planned, invested []string, levels map[string]map[string]int) dma.Answers {
	a := dma.Answers{Company: company, Questions: map[string]dma.Answer{"q1": {Planned: planned, Invested: invested}}}
	for q, items := range ticks {
		a.Questions[q] = dma.Answer{Items: items}
	}
	for q, l := range levels {
		a.Questions[q] = dma.Answer{Levels: l}
	}
	return a
}

var factoryT0 = demoDMA(demoCompany(demoFactoryName, "small"), map[string][]string{
	"q2": {"needs", "it", "management"}, "q3": {"connectivity", "website", "remote", "systems"},
	"q5": {"short", "external"}, "q6": {"awareness", "communication", "support"},
	"q7": {"stored", "realtime"}, "q8": {"backup", "clients"}, "q10": {"materials", "paperless"},
}, []string{"operations", "security"}, []string{"operations", "administration", "delivery"}, map[string]map[string]int{
	"q4":  {"twins": 0, "xr": 0, "cadcam": 5, "mes": 1, "iot": 2, "blockchain": 0, "additive": 0},
	"q9":  {"nlp": 0, "vision": 1, "audio": 0, "robotics": 3, "analytics": 1},
	"q11": {"strategy": 0, "ems": 1, "procurement": 0, "energy": 1, "recycling": 1},
})

var factoryT1 = demoDMA(demoCompany(demoFactoryName, "small"), map[string][]string{
	"q2": {"needs", "finance", "it", "management", "departments", "risks"}, "q3": {"connectivity", "website", "remote", "systems", "ecommerce"},
	"q5": {"assessment", "plan", "short", "external"}, "q6": {"awareness", "communication", "support", "involvement"},
	"q7": {"policy", "stored", "realtime", "integrated", "analysed", "selfservice"}, "q8": {"policy", "backup", "clients", "training"},
	"q10": {"materials", "paperless", "energy"},
}, []string{"operations", "security", "design"}, []string{"operations", "administration", "delivery", "security"}, map[string]map[string]int{
	"q4":  {"twins": 1, "xr": 0, "cadcam": 5, "mes": 3, "iot": 4, "blockchain": 0, "additive": 0},
	"q9":  {"nlp": 0, "vision": 2, "audio": 0, "robotics": 3, "analytics": 4},
	"q11": {"strategy": 1, "ems": 1, "procurement": 0, "energy": 2, "recycling": 1},
})

var demoAssessments = []demoAssessment{
	{org: hub.DefaultOrg, owner: DemoAdmin, stage: dma.T0, ago: 180 * 24 * time.Hour, answers: factoryT0},
	{org: "van-dijk-kunststof", owner: "bram@vandijk.demo", stage: dma.T0, ago: 150 * 24 * time.Hour, answers: demoDMA(
		demoCompany("Van Dijk Kunststoffen B.V.", "medium"), map[string][]string{
			"q2": {"needs", "finance", "it", "specialists", "management", "processes"}, "q3": {"connectivity", "website", "webforms", "ecommerce", "emarketing", "remote", "intranet", "systems"},
			"q5": {"assessment", "plan", "short", "doing"}, "q6": {"awareness", "communication", "autonomy", "flexible", "support"},
			"q7": {"policy", "stored", "integrated", "realtime", "analysed"}, "q8": {"policy", "clients", "training", "monitoring", "backup"},
			"q10": {"production", "emissions", "energy", "materials", "paperless"},
		}, []string{"design", "operations", "collaboration"}, []string{"operations", "marketing", "delivery", "administration", "purchasing", "security"},
		map[string]map[string]int{
			"q4":  {"twins": 2, "xr": 0, "cadcam": 5, "mes": 4, "iot": 4, "blockchain": 0, "additive": 3},
			"q9":  {"nlp": 1, "vision": 4, "audio": 0, "robotics": 5, "analytics": 3},
			"q11": {"strategy": 1, "ems": 2, "procurement": 1, "energy": 1, "recycling": 2},
		})},
	{org: "bakker-metaal", owner: "femke@bakkermetaal.demo", stage: dma.T0, ago: 120 * 24 * time.Hour, answers: demoDMA(
		demoCompany("Bakker Metaalbewerking B.V.", "micro"), map[string][]string{
			"q2": {"needs"}, "q3": {"connectivity", "website"}, "q5": {}, "q6": {"awareness"},
			"q7": {"stored"}, "q8": {"backup"}, "q10": {"paperless"},
		}, []string{"operations"}, []string{"administration"}, map[string]map[string]int{
			"q4":  {"twins": 0, "xr": 0, "cadcam": 3, "mes": 0, "iot": 0, "blockchain": 0, "additive": 0},
			"q9":  {"nlp": 0, "vision": 0, "audio": 0, "robotics": 1, "analytics": 0},
			"q11": {"strategy": 0, "ems": 0, "procurement": 0, "energy": 0, "recycling": 1},
		})},
	{org: hub.DefaultOrg, stage: dma.T1, ago: 7 * 24 * time.Hour, answers: factoryT1, advisor: "ruben.smit@edih-noord.demo"},
}

// seedAssessments stores the demo's assessments, dated back from now.
func seedAssessments(ctx context.Context, h *hub.Hub, now time.Time) error {
	a := h.Auth()
	for _, d := range demoAssessments {
		email, p := d.owner, api.Principal{Org: d.org, OrgKind: string(auth.Company), Role: api.RoleOwner}
		if d.advisor != "" {
			email, p.Role, p.Via = d.advisor, api.RoleEngineer, "edih-noord"
		}
		u, err := a.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("demo assessment of %s: %w", d.org, err)
		}
		p.User = u.ID
		if _, _, err := h.Programme().SubmitAt(ctx, p, d.stage, dma.Latest, d.answers, "", now.Add(-d.ago)); err != nil {
			return fmt.Errorf("demo %s assessment of %s: %w", d.stage, d.org, err)
		}
	}
	return nil
}
