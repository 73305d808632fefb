//go:build !edgeonly

package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/programme"
	"github.com/molen-io/molen/internal/programme/synth"
)

// The demo's programme network: the five regional hubs with their regions
// and fifty fieldlabs in the public catalogue, the demo's three companies
// as customers of their hubs (the simulated factory with two services of
// Fieldlab Smart Maintenance Zwolle), and synthetic companies
// (internal/programme/synth, seed 1): 37 on a normal first start, so that
// the KPI pages mean something at once, or 3,497 with --programme, for
// the national picture (3,500 companies, 10,000 assessments).

// demoCustomers are the demo's companies as their hubs registered them.
var demoCustomers = []programme.Company{
	{Org: hub.DefaultOrg, Hub: "edih-noord", Name: demoFactoryName, KvK: "08123456", VAT: "NL812345678B01", Size: programme.SizeSmall,
		NACE: "C25", NUTS: "NL21", ContactName: "Eva Bakker", ContactEmail: "eva.bakker@molenaar.demo", Consent: true},
	{Org: "van-dijk-kunststof", Hub: "edih-noord", Name: "Van Dijk Kunststoffen B.V.", KvK: "04123987", VAT: "NL804123987B01", Size: programme.SizeMedium,
		NACE: "C22", NUTS: "NL13", ContactName: "Bram van Dijk", ContactEmail: "bram@vandijk.demo", Consent: true},
	{Org: "bakker-metaal", Hub: "edih-zuid", Name: "Bakker Metaalbewerking B.V.", KvK: "17045566", VAT: "NL817045566B01", Size: programme.SizeSmall,
		NACE: "C25", NUTS: "NL41", ContactName: "Femke Bakker", ContactEmail: "femke@bakkermetaal.demo", Consent: true},
}

func seedNetwork(ctx context.Context, h *hub.Hub, national bool, now time.Time) error {
	p := h.Programme()
	cfg := synth.Config{Seed: 1, Companies: 40, Assessments: 80, People: 600, Now: now, Known: demoCustomers}
	if national {
		cfg.Companies, cfg.Assessments, cfg.People = 3500, 10000-len(demoAssessments), 200000
	}
	if _, err := synth.Generate(ctx, p, h.Tree(now), cfg); err != nil {
		return fmt.Errorf("demo programme network: %w", err)
	}
	if err := p.SetFieldlab(ctx, "edih-noord", programme.Fieldlab{ID: "fieldlab-zwolle", Name: "Fieldlab Smart Maintenance Zwolle", Region: "NL21",
		Technologies: []string{"maintenance", "iot", "data", "ai"}, Services: []string{"test-before-invest", "skills", "ecosystem"},
		Facilities: []string{"a running extrusion line with vibration and temperature sensors", "a condition-monitoring lab"},
		Partners:   []string{"Windesheim", "Saxion", "Stork"}, UseCases: []string{"predicting bearing failure on a press", "condition-based maintenance of an extruder"},
		DescriptionEN: "Learn predictive maintenance on real machines, then take it home to your own line.",
		DescriptionNL: "Leer voorspellend onderhoud op echte machines en neem het mee naar uw eigen lijn.",
		Website:       "https://fieldlab-zwolle.example", Notes: "room for four companies a month", Public: true}); err != nil {
		return err
	}
	noord := api.Principal{Org: "edih-noord", OrgKind: string(auth.Hub), Role: api.RoleAdmin}
	for _, r := range []programme.ServiceRecord{
		{Company: hub.DefaultOrg, Type: "test-before-invest", Day: now.AddDate(0, -5, 0).Format(time.DateOnly), Provider: "fieldlab-zwolle",
			Price: 250000, MarketPrice: 1000000, Subsidy: 750000, Investment: 4500000, People: 3,
			Description: "Vibration sensors on press 1 and a predictive maintenance trial"},
		{Company: hub.DefaultOrg, Type: "skills", Day: now.AddDate(0, -3, 0).Format(time.DateOnly), Provider: "fieldlab-zwolle",
			Price: 40000, MarketPrice: 160000, Subsidy: 120000, People: 8, Description: "Smart maintenance course for eight operators"},
	} {
		if _, err := p.Record(ctx, noord, r, ""); err != nil {
			return fmt.Errorf("demo service: %w", err)
		}
	}
	return seedAcademy(ctx, p, now)
}

// seedAcademy enrols the demo factory's people in EDIH Noord's academy
// courses (Daan Visser also in one of EDIH Zuid's), most of them
// completed weeks ago, so that the academy's pages and Daan's skills
// passport show something at once.
func seedAcademy(ctx context.Context, p *programme.Service, now time.Time) error {
	days := func(n int) time.Time { return now.AddDate(0, 0, -n) }
	for hubID, rows := range map[string][]programme.Completion{
		"edih-noord": {
			{Email: demoEngineer, Name: "Daan Visser", Course: "noord-sensors-retrofit", Company: hub.DefaultOrg, Enrolled: days(90), Completed: days(60)},
			{Email: demoEngineer, Name: "Daan Visser", Course: "noord-predictive-maintenance", Company: hub.DefaultOrg, Enrolled: days(40), Completed: days(20)},
			{Email: demoEngineer, Name: "Daan Visser", Course: "noord-ai-for-makers", Company: hub.DefaultOrg, Enrolled: days(5)},
			{Email: "eva.bakker@molenaar.demo", Name: "Eva Bakker", Course: "noord-oee-basics", Company: hub.DefaultOrg, Enrolled: days(70), Completed: days(45)},
			{Email: "lotte.meijer@molenaar.demo", Name: "Lotte Meijer", Course: "noord-sensors-retrofit", Company: hub.DefaultOrg, Enrolled: days(8)},
			{Email: "bram@vandijk.demo", Name: "Bram van Dijk", Course: "noord-energy-monitoring", Company: "van-dijk-kunststof", Enrolled: days(30), Completed: days(10)},
		},
		"edih-zuid": {
			{Email: demoEngineer, Name: "Daan Visser", Course: "zuid-ot-security", Enrolled: days(50), Completed: days(35)},
		},
	} {
		if _, err := p.Import(ctx, api.Principal{Org: hubID, OrgKind: string(auth.Hub), Role: api.RoleAdvisor}, rows, ""); err != nil {
			return fmt.Errorf("demo academy: %w", err)
		}
	}
	return nil
}
