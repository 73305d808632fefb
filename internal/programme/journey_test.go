package programme

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/programme/dma"
)

// weakIn answers the questionnaire with every non-exclusive item ticked
// and every scale at its top, but the questions of the dimensions in weak
// left at nothing.
func weakIn(weak ...string) dma.Answers {
	q := dma.MustLoad(dma.Latest)
	a := dma.Answers{Company: map[string]string{"name": "Acme", "size": "micro", "sector": "C", "country": "NL"}, Questions: map[string]dma.Answer{}}
	for _, d := range q.Dimensions {
		low := strings.Contains(strings.Join(weak, ","), d.ID)
		for _, qu := range d.Questions {
			var ans dma.Answer
			top := 5
			if qu.Scale != "" {
				top = len(q.Scales[qu.Scale]) - 1
			}
			for _, it := range qu.Items {
				switch {
				case qu.Kind == dma.KindScale && low:
					ans.Levels = setLevel(ans.Levels, it.ID, 0)
				case qu.Kind == dma.KindScale:
					ans.Levels = setLevel(ans.Levels, it.ID, top)
				case low || it.Exclusive:
				case qu.Kind == dma.KindInvestment:
					ans.Planned, ans.Invested = append(ans.Planned, it.ID), append(ans.Invested, it.ID)
				default:
					ans.Items = append(ans.Items, it.ID)
				}
			}
			a.Questions[qu.ID] = ans
		}
	}
	return a
}

func setLevel(m map[string]int, k string, v int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k] = v
	return m
}

// TestJourney: the recommendations address the company's two lowest
// dimensions with the hub's fieldlabs, other hubs' public fieldlabs of
// its region, the listings and the hub's courses for them, each with its
// reason in the asked language, each item once; an advisor's recommendation is recorded
// (and one of another hub's course or an unknown listing refused); the
// timeline holds the assessment, service, recommendation, install and
// trainings in order, each provider and service by its name.
func TestJourney(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		s.listings = ListingSet{
			{ID: "svc-spc", NameEN: "SPC", NameNL: "SPC-regels", Category: "ai", Dimensions: []string{"data", "automation"}, Provider: "molen"},
			{ID: "svc-energy", NameEN: "Energy meter", NameNL: "Energiemeter", Category: "iot", Dimensions: []string{"green"}, Provider: "Acme"},
		}
		for _, l := range []struct {
			hub string
			f   Fieldlab
		}{
			{"edih-a", Fieldlab{ID: "lab-a", Name: "Data lab Enschede", Region: "NL21", Technologies: []string{"data", "energy"}, Services: []string{"test-before-invest"}}},
			{"edih-b", Fieldlab{ID: "lab-b", Name: "Energy lab Zwolle", Region: "NL21", Technologies: []string{"energy"}, Services: []string{"skills"}, Public: true}},
			{"edih-b", Fieldlab{ID: "lab-c", Name: "Quiet energy lab", Region: "NL21", Technologies: []string{"energy"}}},
		} {
			w.s.orgs.(*tree).orgs[l.f.ID] = [3]string{l.f.Name, "fieldlab", l.hub}
			if err := s.SetFieldlab(ctx, l.hub, l.f); err != nil {
				t.Fatal(err)
			}
		}
		w.s.orgs.(*tree).orgs["molen"] = [3]string{"Molen Services", "provider", "platform"}
		co := course("c-data", "edih-a")
		co.Dimensions = []string{"data"}
		if _, err := s.SetCourse(ctx, adminA, co, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetCourse(ctx, adminB, course("c-b", "edih-b"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register(ctx, hubA, company("acme", "30000001", SizeSmall), ""); err != nil {
			t.Fatal(err)
		}
		acme := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, User: "usr_acme"}
		w.clock = w.clock.Add(24 * time.Hour)
		if _, _, err := s.Submit(ctx, acme, dma.T0, 0, weakIn("data", "green"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, hubA, ServiceRecord{Company: "acme", Type: "test-before-invest", Day: "2026-06-20", Provider: "lab-a", MarketPrice: 100}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enrol(ctx, adminA, "eva@acme.test", "Eva", "c-data", "acme", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enrol(ctx, adminA, "bram@acme.test", "Bram", "c-data", "acme", ""); err != nil {
			t.Fatal(err)
		}

		rep, err := s.Report(ctx, "edih-a", "acme", false, "en")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rep.Journey.Recommendations {
			got = append(got, r.Dimension+":"+r.Kind+":"+r.Item)
		}
		want := "[data:fieldlab:lab-a data:service:svc-spc data:course:c-data green:fieldlab:lab-b green:service:svc-energy]"
		if fmt.Sprint(got) != want {
			t.Errorf("recommendations %v, want %s", got, want)
		}
		if r := rep.Journey.Recommendations[1]; r.Provider != "Molen Services" || r.Reason != "your data management and security score is 0; SPC (Molen Services) works on data management and security at your machines" {
			t.Errorf("a listing's recommendation names its provider: %+v", r)
		}
		if r := rep.Journey.Recommendations[4]; r.Provider != "Acme" {
			t.Errorf("a provider that is no organisation: %+v", r)
		}
		if r := rep.Journey.Recommendations[0].Reason; r != "your data management and security score is 0; Data lab Enschede offers test before invest in data platforms and analytics in your region" {
			t.Errorf("reason: %q", r)
		}
		nl, err := s.Report(ctx, "edih-a", "acme", false, "nl")
		if err != nil {
			t.Fatal(err)
		}
		if r := nl.Journey.Recommendations[3].Reason; r != "uw score voor groene digitalisering is 0; Energy lab Zwolle biedt vaardigheden en training in energie en duurzaamheid in uw regio" {
			t.Errorf("Dutch reason: %q", r)
		}

		for _, bad := range []Recommended{
			{Company: "acme", Kind: KindCourse, Item: "c-b", Dimension: "data"},
			{Company: "acme", Kind: KindService, Item: "svc-nothing", Dimension: "data"},
			{Company: "acme", Kind: KindFieldlab, Item: "lab-c", Dimension: "green"},
			{Company: "acme", Kind: "magic", Item: "x", Dimension: "speed"},
		} {
			if _, err := s.RecordRecommendation(ctx, hubA, bad, ""); !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%+v: %v, want a bad request", bad, err)
			}
		}
		if _, err := s.RecordRecommendation(ctx, hubB, Recommended{Company: "acme", Kind: KindService, Item: "svc-spc", Dimension: "data"}, ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another hub recommending: %v, want not found", err)
		}
		w.clock = w.clock.Add(24 * time.Hour)
		if _, err := s.RecordRecommendation(ctx, hubA, Recommended{Company: "acme", Kind: KindService, Item: "svc-spc", Dimension: "data", Note: "start with the presses"}, ""); err != nil {
			t.Fatal(err)
		}
		installed := w.clock.Add(time.Hour)
		s.installs = func(context.Context, string) ([]Install, error) {
			return []Install{{At: installed, Kind: InstallService, What: "spc-press", Service: "svc-spc"}}, nil
		}
		rep, err = s.Report(ctx, "edih-a", "acme", false, "en")
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Journey.Recommendations[1]; r.Item != "svc-spc" || !r.Recommended.Equal(w.clock) {
			t.Errorf("recorded recommendation: %+v", r)
		}
		var steps []string
		for _, e := range rep.Journey.Timeline {
			steps = append(steps, e.Kind+" "+e.What)
		}
		if want := "[assessment T0 (66.7) enrolled Sensors on old machines × 2 recommended SPC · Molen Services installed SPC · Molen Services (spc-press) service Test before invest · Data lab Enschede]"; fmt.Sprint(steps) != want {
			t.Errorf("timeline %v\nwant %s", steps, want)
		}
	})
}
