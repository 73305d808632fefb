package programme

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// TestLibrary: a fieldlab's staff write use cases and lessons, every hub
// finds them by words in either language, technology and sector, the
// public listing holds only the public ones; an entry is its author's (a
// fieldlab of the same hub or another hub cannot take it over; its hub
// edits it and it stays the fieldlab's); the programme office's admins
// curate any hub's entry and write none; a company writes none; bad
// entries are refused naming every problem.
func TestLibrary(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		w.s.orgs.(*tree).orgs["lab-a2"] = [3]string{"Fieldlab A2", "fieldlab", "edih-a"}
		labA := api.Principal{Org: "lab-a", OrgKind: "fieldlab", Role: api.RoleAdvisor, User: "usr_lab"}
		labA2 := api.Principal{Org: "lab-a2", OrgKind: "fieldlab", Role: api.RoleAdvisor, User: "usr_lab2"}
		entry := Entry{ID: "cobot-welding", Kind: KindUseCase, TitleEN: "Cobot welding at a metal shop", TitleNL: "Cobot-lassen bij een metaalbedrijf",
			BodyEN: "Six weeks of trials; 20 % less rework.", BodyNL: "Zes weken proeven; 20 % minder herstelwerk.", Technologies: []string{"robotics"}, Sectors: []string{"C25"}, Public: true}
		if _, err := s.SetEntry(ctx, labA, entry, ""); err != nil {
			t.Fatal(err)
		}
		w.clock = w.clock.Add(1e9)
		lesson := Entry{ID: "baseline-first", Kind: KindLesson, TitleEN: "Measure the baseline first", TitleNL: "Eerst de uitgangssituatie meten",
			BodyEN: "A month of data before any change.", BodyNL: "Een maand data voor elke verandering.", Technologies: []string{"data", "iot"}, Sectors: []string{"C"}}
		if _, err := s.SetEntry(ctx, hubB, lesson, ""); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			f      LibraryFilter
			public bool
			want   string
		}{
			{LibraryFilter{}, false, "[baseline-first cobot-welding]"},
			{LibraryFilter{}, true, "[cobot-welding]"},
			{LibraryFilter{Q: "herstelwerk COBOT"}, false, "[cobot-welding]"},
			{LibraryFilter{Q: "month"}, false, "[baseline-first]"},
			{LibraryFilter{Sector: "C25"}, false, "[baseline-first cobot-welding]"},
			{LibraryFilter{Sector: "C28"}, false, "[baseline-first]"},
			{LibraryFilter{Technology: "robotics"}, false, "[cobot-welding]"},
			{LibraryFilter{Kind: KindLesson}, false, "[baseline-first]"},
			{LibraryFilter{Hub: "edih-a"}, false, "[cobot-welding]"},
			{LibraryFilter{Hub: "edih-b", Technology: "iot"}, false, "[baseline-first]"},
			{LibraryFilter{Hub: "edih-c"}, false, "[]"},
			{LibraryFilter{Q: "month"}, true, "[]"},
		} {
			list, err := s.Library(ctx, c.f, c.public)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.ID)
			}
			if fmt.Sprint(got) != c.want && !(c.want == "[]" && len(got) == 0) {
				t.Errorf("%+v public %v: %v, want %s", c.f, c.public, got, c.want)
			}
		}
		for _, p := range []api.Principal{hubB, labA2} {
			if _, err := s.SetEntry(ctx, p, entry, ""); !errors.Is(err, api.ErrConflict) {
				t.Errorf("%s taking over lab-a's entry: %v, want a conflict", p.Org, err)
			}
		}
		entry.TitleEN = "Cobot welding at a metal shop (updated)"
		got, err := s.SetEntry(ctx, hubA, entry, "")
		if err != nil || got.Author != "lab-a" {
			t.Errorf("the hub editing its fieldlab's entry: %+v %v", got, err)
		}
		// The programme office's admins curate: edih-b's lesson made
		// public stays edih-b's, in its audit log; they write no entry of
		// their own, and its viewers change nothing.
		office := api.Principal{Org: "platform", OrgKind: "platform", Role: api.RoleAdmin, User: "usr_office"}
		lesson.Public = true
		got, err = s.SetEntry(ctx, office, lesson, "")
		if err != nil || got.Hub != "edih-b" || got.Author != "edih-b" || !got.Public {
			t.Errorf("the programme office publishing a hub's lesson: %+v %v", got, err)
		}
		if list, err := s.Library(ctx, LibraryFilter{Q: "month"}, true); err != nil || len(list) != 1 || list[0].Hub != "edih-b" || list[0].HubName != "EDIH B" {
			t.Errorf("the published lesson in the public library: %+v %v", list, err)
		}
		if _, err := s.SetEntry(ctx, office, Entry{ID: "office-note", Kind: KindLesson, TitleEN: "x", TitleNL: "x", BodyEN: "x", BodyNL: "x", Technologies: []string{"iot"}}, ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("the programme office writing a new entry: %v, want not found", err)
		}
		office.Role = api.RoleViewer
		if _, err := s.SetEntry(ctx, office, lesson, ""); !errors.Is(err, api.ErrForbidden) {
			t.Errorf("the programme office's viewer curating: %v, want forbidden", err)
		}
		company := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleAdmin}
		if _, err := s.SetEntry(ctx, company, Entry{ID: "x"}, ""); !errors.Is(err, api.ErrForbidden) {
			t.Errorf("a company writing: %v", err)
		}
		_, err = s.SetEntry(ctx, labA, Entry{ID: "Bad ID", Kind: "rumour", Technologies: []string{"magic"}, Sectors: []string{"Z99"}}, "")
		for _, want := range []string{"id:", "kind:", "title_en:", "body_nl:", `"magic"`, `sectors: "Z99"`} {
			if !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), want) {
				t.Errorf("a bad entry: %v, want it to name %s", err, want)
			}
		}
		if _, err := s.Library(ctx, LibraryFilter{Technology: "magic"}, true); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("an unknown technology: %v", err)
		}
	})
}
