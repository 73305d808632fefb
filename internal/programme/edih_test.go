package programme

import (
	"errors"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/programme/dma"
)

// TestEDIHReport: the EDIH report holds a hub's registered customers
// (not those only reached) with their customer type, the services with
// the EDIH service category and money in euro, the collaborations, and
// each customer's DMA at T0 and T1 with the change; another hub's report
// holds none of them, the national one all; each table is a CSV with its
// header.
func TestEDIHReport(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		big := company("bigco", "30000002", SizeLarge)
		big.VAT = "NL123456789B01"
		reached := company("maybe", "30000003", SizeMedium)
		reached.Consent = false
		for _, c := range []Company{company("acme", "30000001", SizeSmall), big, reached} {
			if _, err := s.Register(ctx, hubA, c, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Register(ctx, hubB, company("other", "30000004", SizeMedium), ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range []ServiceRecord{
			{Company: "acme", Type: "test-before-invest", Day: "2026-06-01", Provider: "lab-a", Price: 250000, MarketPrice: 1000000, Subsidy: 750000, Investment: 4500000, People: 3},
			{Company: "bigco", Type: "ecosystem", Day: "2026-06-02", Provider: "=HYPERLINK(1)", Price: 50000, MarketPrice: 50000, People: 10},
		} {
			if _, err := s.Record(ctx, hubA, r, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Collaborate(ctx, hubA, Collaboration{Partner: "edih-b", Company: "acme", Topic: "Shared robot demo", Day: "2026-06-03"}); err != nil {
			t.Fatal(err)
		}
		acme := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, User: "usr_acme"}
		if _, _, err := s.Submit(ctx, acme, dma.T0, 0, weakIn("data", "green"), ""); err != nil {
			t.Fatal(err)
		}
		w.clock = w.clock.AddDate(1, 0, 0)
		if _, _, err := s.Submit(ctx, acme, dma.T1, 0, weakIn("green"), ""); err != nil {
			t.Fatal(err)
		}

		rep, err := s.EDIH(ctx, "edih-a")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Customers) != 2 || rep.Customers[0].CustomerID != "acme" || rep.Customers[0].CustomerType != "SME" ||
			rep.Customers[1].CustomerType != "Small mid-cap or larger" || rep.Customers[1].VAT != "NL123456789B01" || rep.Customers[0].NationalID != "30000001" {
			t.Errorf("customers: %+v", rep.Customers)
		}
		if len(rep.Services) != 2 || rep.Services[0].Category != "Test before invest" || rep.Services[0].Subsidy != 7500 ||
			rep.Services[0].Investment != 45000 || rep.Services[1].Category != "Innovation ecosystem and networking" {
			t.Errorf("services: %+v", rep.Services)
		}
		if len(rep.Collaborations) != 1 || rep.Collaborations[0].Partner != "edih-b" {
			t.Errorf("collaborations: %+v", rep.Collaborations)
		}
		if len(rep.DMA) != 1 || rep.DMA[0].T0 != 66.7 || rep.DMA[0].T1 != 83.3 || rep.DMA[0].Change != 16.7 ||
			rep.DMA[0].T0Dims["data"] != 0 || rep.DMA[0].T1Dims["data"] != 100 || rep.DMA[0].T0Date != "2026-06-15" || rep.DMA[0].T1Date != "2027-06-15" {
			t.Errorf("dma: %+v", rep.DMA)
		}
		for table, want := range map[string]string{
			"customers": "edih,customer_id,name,vat_number,national_id,customer_type,size,sector_nace,country,region_nuts2,registration_date\n" +
				"edih-a,acme,Acme B.V.,,30000001,SME,micro or small (0-49),C25,NL,NL21,2026-06-15\n",
			"services": "edih-a,svc_",
			"dma": "edih,customer_id,t0_date,t0_overall,t0_strategy,t0_readiness,t0_human,t0_data,t0_automation,t0_green,t1_date,t1_overall,t1_strategy,t1_readiness,t1_human,t1_data,t1_automation,t1_green,change\n" +
				"edih-a,acme,2026-06-15,66.7,100,100,100,0,100,0,2027-06-15,83.3,100,100,100,100,100,0,16.7\n",
			"collaborations": "edih-a,col_",
		} {
			b, err := rep.CSV(table)
			if err != nil || !strings.Contains(string(b), want) {
				t.Errorf("%s CSV: %v\n%s\nwant %q", table, err, b, want)
			}
		}
		if b, _ := rep.CSV("services"); !strings.Contains(string(b), ",Test before invest,2026-06-01,lab-a,10000.00,2500.00,7500.00,45000.00,3\n") || !strings.Contains(string(b), ",'=HYPERLINK(1),") {
			t.Errorf("services CSV:\n%s", b)
		}
		if _, err := rep.CSV("people"); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("an unknown table: %v", err)
		}
		other, err := s.EDIH(ctx, "edih-b")
		if err != nil || len(other.Customers) != 1 || other.Customers[0].CustomerID != "other" || len(other.Services)+len(other.DMA)+len(other.Collaborations) != 0 {
			t.Errorf("edih-b's report: %+v %v", other, err)
		}
		nat, err := s.EDIH(ctx, National)
		if err != nil || len(nat.Customers) != 3 || len(nat.Services) != 2 || len(nat.DMA) != 1 {
			t.Errorf("national report: %+v %v", nat, err)
		}
	})
}
