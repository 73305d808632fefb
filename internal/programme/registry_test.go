package programme

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/programme/dma"
)

// tree is the organisation tree in memory: a stand-in for the auth
// domain, which this package does not import (internal/hub's tests run
// the programme with the real one).
type tree struct {
	mu   sync.Mutex
	orgs map[string][3]string // id → name, kind, parent
}

func newTree() *tree {
	return &tree{orgs: map[string][3]string{
		"edih-a": {"EDIH A", "hub", "platform"}, "edih-b": {"EDIH B", "hub", "platform"},
		"lab-a": {"Fieldlab A", "fieldlab", "edih-a"}, "lab-b": {"Fieldlab B", "fieldlab", "edih-b"},
	}}
}

func (t *tree) Org(_ context.Context, id string) (string, string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.orgs[id]
	if !ok {
		return "", "", "", fmt.Errorf("organisation %s: %w", id, meta.ErrNotFound)
	}
	return o[0], o[1], o[2], nil
}

func (t *tree) CreateOrgTx(_ context.Context, _ *sql.Tx, id, name, kind, parent string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.orgs[id]; ok {
		return meta.ErrExists
	}
	t.orgs[id] = [3]string{name, kind, parent}
	return nil
}

func (t *tree) hubOf(_ context.Context, org string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for o, ok := t.orgs[org]; ok; o, ok = t.orgs[o[2]] {
		if p, ok := t.orgs[o[2]]; ok && p[1] == "hub" {
			return o[2], nil
		}
	}
	return "", nil
}

type world struct {
	s     *Service
	reg   *prometheus.Registry
	clock time.Time
}

func newService(t testing.TB, db *meta.DB, connected map[string]bool) *world {
	t.Helper()
	ctx := t.Context()
	log, err := audit.New(ctx, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{reg: prometheus.NewRegistry(), clock: time.Date(2026, 6, 15, 9, 0, 0, 0, time.UTC)}
	tr := newTree()
	w.s, err = New(ctx, Config{DB: db, Audit: log, Reg: w.reg, Orgs: tr, HubOf: tr.hubOf, Now: func() time.Time { return w.clock },
		Connected: func(context.Context) (map[string]bool, error) { return connected, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var (
	hubA = api.Principal{Org: "edih-a", OrgKind: "hub", Role: api.RoleEngineer, User: "usr_a"}
	hubB = api.Principal{Org: "edih-b", OrgKind: "hub", Role: api.RoleEngineer, User: "usr_b"}
)

func company(org, kvk, size string) Company {
	return Company{Org: org, Name: strings.ToUpper(org[:1]) + org[1:] + " B.V.", KvK: kvk, Size: size, NACE: "C25", NUTS: "NL21",
		ContactName: "Jan", ContactEmail: "jan@" + org + ".test", Consent: true}
}

// TestCatalogue: a company finds the public fieldlabs of its region's
// hubs by technology and service type, in Dutch or English; a fieldlab
// that is not public and every note stay out; bad filters are named.
func TestCatalogue(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		if err := s.SetHub(ctx, HubProfile{Hub: "edih-a", Regions: []string{"NL21", "NL13"}, DescriptionEN: "East", DescriptionNL: "Oost", Website: "https://a.test"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHub(ctx, HubProfile{Hub: "edih-b", Regions: []string{"NL41"}, DescriptionEN: "South", DescriptionNL: "Zuid"}); err != nil {
			t.Fatal(err)
		}
		labA := Fieldlab{ID: "lab-a", Name: "Robot lab", Region: "NL21", Technologies: []string{"robotics", "vision"}, Services: []string{"test-before-invest"},
			Facilities: []string{"cobot cell"}, DescriptionEN: "Robots", DescriptionNL: "Robots NL", Notes: "SECRET-margin-40%", Public: true}
		if err := s.SetFieldlab(ctx, "edih-a", labA); err != nil {
			t.Fatal(err)
		}
		if err := s.SetFieldlab(ctx, "edih-b", Fieldlab{ID: "lab-b", Name: "Hidden lab", Region: "NL41", Technologies: []string{"robotics"}, Notes: "SECRET-b"}); err != nil {
			t.Fatal(err)
		}
		// A hub cannot describe another hub's fieldlab.
		if err := s.SetFieldlab(ctx, "edih-b", labA); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("edih-b setting edih-a's fieldlab: %v, want not found", err)
		}
		for _, c := range []struct {
			f    Filter
			hubs []string
			labs []string
		}{
			{Filter{Lang: "en"}, []string{"edih-a", "edih-b"}, []string{"lab-a"}},
			{Filter{Lang: "nl", Region: "NL13", Technology: "robotics"}, []string{"edih-a"}, []string{"lab-a"}},
			{Filter{Lang: "en", Region: "NL41", Technology: "robotics"}, []string{"edih-b"}, nil},
			{Filter{Lang: "en", Technology: "additive"}, []string{"edih-a", "edih-b"}, nil},
			{Filter{Lang: "en", Service: "skills"}, []string{"edih-a", "edih-b"}, nil},
		} {
			cat, err := s.Catalogue(ctx, c.f)
			if err != nil {
				t.Fatalf("%+v: %v", c.f, err)
			}
			var hubs, labs []string
			for _, h := range cat.Hubs {
				hubs = append(hubs, h.ID)
			}
			for _, l := range cat.Fieldlabs {
				labs = append(labs, l.ID)
			}
			if fmt.Sprint(hubs) != fmt.Sprint(c.hubs) || fmt.Sprint(labs) != fmt.Sprint(c.labs) {
				t.Errorf("%+v: hubs %v labs %v, want %v %v", c.f, hubs, labs, c.hubs, c.labs)
			}
			if body := fmt.Sprintf("%+v", cat); strings.Contains(body, "SECRET") || strings.Contains(body, "Hidden") {
				t.Errorf("%+v: the catalogue leaks: %s", c.f, body)
			}
			if c.f.Lang == "nl" && (cat.Hubs[0].Description != "Oost" || cat.Technologies[1].Label != "Robotica en cobots") {
				t.Errorf("Dutch catalogue: %+v", cat)
			}
		}
		for _, f := range []Filter{{Lang: "fr"}, {Lang: "en", Region: "DE11"}, {Lang: "en", Technology: "magic"}, {Lang: "en", Service: "free-lunch"}} {
			if _, err := s.Catalogue(ctx, f); !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%+v: %v, want a bad request", f, err)
			}
		}
		if err := s.SetFieldlab(ctx, "edih-a", Fieldlab{ID: "lab-a", Name: "x", Region: "NL21", Technologies: []string{"magic"}}); err == nil || !strings.Contains(err.Error(), `"magic"`) {
			t.Errorf("unknown technology: %v", err)
		}
	})
}

// TestCustomersAndServices: duplicates by chamber of commerce number are
// refused, also across hubs; a large company pays the market price; a
// hub never reads another hub's customer.
func TestCustomersAndServices(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		if _, err := s.Register(ctx, hubA, company("acme", "12345678", SizeSmall), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register(ctx, hubA, company("bigco", "87654321", SizeLarge), ""); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			p    api.Principal
			c    Company
			want string
		}{
			{hubA, company("acme-2", "12345678", SizeSmall), "already a customer (acme)"},
			{hubB, company("acme-b", "12345678", SizeSmall), "by another hub"},
			{hubB, company("lab-a", "11112222", SizeSmall), "the id lab-a is taken"},
		} {
			_, err := s.Register(ctx, c.p, c.c, "")
			if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s registering %s: %v, want a conflict saying %q", c.p.Org, c.c.Org, err, c.want)
			}
		}
		bad := company("bad", "1234", "huge")
		bad.NUTS, bad.VAT, bad.ContactEmail = "XX99", "DE1", "nope"
		_, err := s.Register(ctx, hubA, bad, "")
		for _, want := range []string{"kvk", "vat", "size", "nuts", "contact_email"} {
			if !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), want) {
				t.Errorf("bad profile: %v, want %s named", err, want)
			}
		}
		if n := testutil.ToFloat64(s.rejectedCompanies.WithLabelValues("duplicate")); n != 3 {
			t.Errorf("duplicates counted: %v, want 3", n)
		}

		svc := ServiceRecord{Company: "bigco", Type: "test-before-invest", Day: "2026-05-04", Provider: "lab-a", Price: 300000, MarketPrice: 600000, Subsidy: 300000}
		if _, err := s.Record(ctx, hubA, svc, ""); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "market price €6000.00 without subsidy") {
			t.Errorf("large company, subsidised: %v", err)
		}
		svc.Price, svc.Subsidy = 600000, 0
		if _, err := s.Record(ctx, hubA, svc, ""); err != nil {
			t.Errorf("large company at the market price: %v", err)
		}
		small := ServiceRecord{Company: "acme", Type: "skills", Day: "2026-05-10", Provider: "ROC Twente", Price: 50000, MarketPrice: 200000, Subsidy: 150000, People: 12}
		if _, err := s.Record(ctx, hubA, small, ""); err != nil {
			t.Errorf("small company, subsidised: %v", err)
		}
		for _, bad := range []ServiceRecord{
			{Company: "acme", Type: "lunch", Day: "2026-05-10", Provider: "x"},
			{Company: "acme", Type: "skills", Day: "10-05-2026", Provider: "x"},
			{Company: "acme", Type: "skills", Day: "2026-05-10", Provider: ""},
			{Company: "acme", Type: "skills", Day: "2026-05-10", Provider: "x", Price: -1},
			{Company: "acme", Type: "skills", Day: "2026-05-10", Provider: "x", Price: 2, MarketPrice: 1},
		} {
			if _, err := s.Record(ctx, hubA, bad, ""); !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%+v: %v, want a bad request", bad, err)
			}
		}
		// Hub B reads nothing of hub A's customer, and records nothing for it.
		if _, err := s.Company(ctx, "edih-b", "acme"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("edih-b reading acme: %v", err)
		}
		if _, err := s.Record(ctx, hubB, small, ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("edih-b recording for acme: %v", err)
		}
		if list, _ := s.Services(ctx, "edih-b", ""); len(list) != 0 {
			t.Errorf("edih-b's services: %v", list)
		}
		if list, _ := s.Services(ctx, "edih-a", ""); len(list) != 2 {
			t.Errorf("edih-a's services: %d, want 2", len(list))
		}
	})
}

// TestKPIs: the KPIs and the funnel of a small world, worked out by hand;
// a frozen snapshot stays as it was while the live figures move on.
func TestKPIs(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, map[string]bool{"acme": true, "beta": true})
		s := w.s
		reached := company("gamma", "33333333", SizeMedium)
		reached.Consent = false
		for _, c := range []Company{company("acme", "11111111", SizeSmall), company("beta", "22222222", SizeLarge), reached} {
			if _, err := s.Register(ctx, hubA, c, ""); err != nil {
				t.Fatal(err)
			}
		}
		other := company("delta", "44444444", SizeSmall)
		other.NUTS, other.NACE = "NL41", "J62"
		if _, err := s.Register(ctx, hubB, other, ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			p api.Principal
			r ServiceRecord
		}{
			{hubA, ServiceRecord{Company: "acme", Type: "test-before-invest", Day: "2026-05-01", Provider: "lab-a", Price: 100, MarketPrice: 400, Subsidy: 300, Investment: 5000000}},
			{hubA, ServiceRecord{Company: "acme", Type: "skills", Day: "2026-05-02", Provider: "lab-a", Price: 0, MarketPrice: 0, People: 10}},
			{hubA, ServiceRecord{Company: "acme", Type: "skills", Day: "2026-05-03", Provider: "lab-a", People: 5}},
			{hubB, ServiceRecord{Company: "delta", Type: "skills", Day: "2026-05-03", Provider: "lab-b", People: 7}},
		} {
			if _, err := s.Record(ctx, r.p, r.r, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Collaborate(ctx, hubA, Collaboration{Partner: "edih-b", Topic: "joint robot day", Day: "2026-05-20"}); err != nil {
			t.Fatal(err)
		}
		// acme improves from T0 to T1; beta is assessed once.
		as := func(org string, stage dma.Stage, ticks int, at time.Time) {
			t.Helper()
			p := api.Principal{Org: org, OrgKind: "company", Role: api.RoleEngineer, User: "usr_" + org}
			if _, _, err := s.SubmitAt(ctx, p, stage, 0, answers(ticks), "", at); err != nil {
				t.Fatal(err)
			}
		}
		as("acme", dma.T0, 2, w.clock.AddDate(0, -3, 0))
		as("acme", dma.T1, 6, w.clock.AddDate(0, 0, -1))
		as("beta", dma.T0, 4, w.clock.AddDate(0, -2, 0))

		k, err := s.KPIs(ctx, "edih-a")
		if err != nil {
			t.Fatal(err)
		}
		// answers(n) scores only q2 (n of 10): strategy n*5, overall n*5/6.
		got := fmt.Sprintf("size %v sector %v region %v types %v services %d invest %d collab %d dma %+v funnel %v targets %v",
			k.BySize, k.BySector, k.ByRegion, k.ByServiceType, k.Services, k.Investment, k.Collaborations, k.DMA, k.Funnel, k.Targets)
		want := "size map[0-49:1 250+:1] sector map[C:2] region map[NL21:2] types map[skills:1 test-before-invest:1] services 3 invest 5000000 collab 1 " +
			"dma {Assessed:2 Companies:1 T0:1.7 T1:5 Change:3.3 Improved:1} " +
			"funnel [{reached 3} {registered 2} {assessed 2} {served 1} {connected 1} {improved 1}] " +
			"targets [{factories-digitalising Factories digitalising Fabrieken die digitaliseren 1 1000} {people-upskilled People upskilled Mensen bijgeschoold 15 50000} {companies-supported Companies supported Bedrijven ondersteund 1 3500} {people-supported People supported Mensen ondersteund 15 200000}]"
		if got != want {
			t.Errorf("edih-a's KPIs:\n got %s\nwant %s", got, want)
		}
		n, err := s.KPIs(ctx, National)
		if err != nil {
			t.Fatal(err)
		}
		if n.Funnel[1].Count != 3 || n.Targets[1].Value != 22 || n.BySector["J"] != 1 || n.Collaborations != 1 {
			t.Errorf("national KPIs: %+v", n)
		}
		csv, err := k.CSV()
		if err != nil || !strings.Contains(string(csv), "edih-a,investment_triggered_eur,,50000.00\n") || !strings.Contains(string(csv), "edih-a,funnel,improved,1\n") {
			t.Errorf("CSV: %v\n%s", err, csv)
		}

		// The snapshot of May is frozen; a second is refused, and so is a
		// month to come.
		sn, err := s.Freeze(ctx, hubA, "edih-a", "2026-05")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Freeze(ctx, hubA, "edih-a", "2026-05"); !errors.Is(err, api.ErrConflict) {
			t.Errorf("second snapshot: %v", err)
		}
		if _, err := s.Freeze(ctx, hubA, "edih-a", "2026-07"); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("snapshot of a month to come: %v", err)
		}
		as("beta", dma.T1, 9, w.clock)
		again, err := s.SnapshotOf(ctx, "edih-a", "2026-05")
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.KPIs(ctx, "edih-a")
		if err != nil {
			t.Fatal(err)
		}
		if again.KPIs.DMA != sn.KPIs.DMA || live.DMA.Companies != 2 || again.KPIs.DMA.Companies != 1 {
			t.Errorf("frozen %+v, live %+v", again.KPIs.DMA, live.DMA)
		}
		if list, err := s.Snapshots(ctx, "edih-a"); err != nil || len(list) != 1 || list[0].Month != "2026-05" {
			t.Errorf("snapshots: %v %v", list, err)
		}
	})
}

// TestPeers: the benchmark against the companies of the same size,
// section and province is shown only when five others have an
// assessment; their latest counts.
func TestPeers(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		me := company("me", "10000000", SizeSmall)
		for i, c := range []Company{me, company("p1", "10000001", SizeSmall), company("p2", "10000002", SizeSmall), company("p3", "10000003", SizeSmall),
			company("p4", "10000004", SizeSmall), company("p5", "10000005", SizeSmall), company("big", "10000006", SizeLarge)} {
			if _, err := s.Register(ctx, []api.Principal{hubA, hubB}[i%2], c, ""); err != nil {
				t.Fatal(err)
			}
		}
		other := company("elsewhere", "10000007", SizeSmall)
		other.NUTS = "NL41"
		if _, err := s.Register(ctx, hubB, other, ""); err != nil {
			t.Fatal(err)
		}
		as := func(org string, stage dma.Stage, ticks int, ago int) {
			t.Helper()
			p := api.Principal{Org: org, OrgKind: "company", Role: api.RoleEngineer, User: "usr_" + org}
			if _, _, err := s.SubmitAt(ctx, p, stage, 0, answers(ticks), "", w.clock.AddDate(0, -ago, 0)); err != nil {
				t.Fatal(err)
			}
		}
		// answers(n) scores n*5/6 overall: 0, 2.5, 5, 7.5 for 0, 3, 6, 9.
		as("me", dma.T0, 9, 6)
		as("p1", dma.T0, 0, 6)
		as("p2", dma.T0, 3, 6)
		as("p3", dma.T0, 6, 6)
		as("p4", dma.T0, 0, 6)
		as("p4", dma.T1, 6, 1) // p4's latest counts: 5
		as("big", dma.T0, 9, 6)
		as("elsewhere", dma.T0, 9, 6)
		p, err := s.PeersOf(ctx, me)
		if err != nil || p.Shown || p.Companies != 0 || p.Overall != 0 {
			t.Errorf("four peers: %+v %v, want nothing shown", p, err)
		}
		as("p5", dma.T0, 6, 6)
		p, err = s.PeersOf(ctx, me)
		// (0 + 2.5 + 5 + 5 + 5) / 5 = 3.5
		if err != nil || !p.Shown || p.Companies != 5 || p.Overall != 3.5 || p.Sector != "C" || p.Region != "NL21" {
			t.Errorf("five peers: %+v %v, want 5 with 3.5", p, err)
		}
	})
}
