package synth

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/programme"
)

// lessons are what fieldlabs learn, in English and Dutch.
var lessons = []struct{ en, nl string }{
	{"Start with one machine and one question; a pilot on the whole line took three times as long.", "Begin met één machine en één vraag; een pilot op de hele lijn duurde drie keer zo lang."},
	{"Involve the operators from the first day: their knowledge of the machine beat every model.", "Betrek de operators vanaf de eerste dag: hun kennis van de machine was beter dan elk model."},
	{"Old machines need a retrofit sensor, not a new controller; the cheapest step gave most of the value.", "Oude machines hebben een retrofit-sensor nodig, geen nieuwe besturing; de goedkoopste stap leverde het meeste op."},
	{"Agree beforehand who owns the data and where it is stored; it saved weeks of discussion later.", "Spreek vooraf af wie eigenaar is van de data en waar die staat; dat scheelde later weken discussie."},
	{"Measure the baseline for a month before changing anything, or nobody believes the result.", "Meet een maand de uitgangssituatie voordat u iets verandert, anders gelooft niemand het resultaat."},
}

// library writes the fieldlabs' use cases and lessons learned: for each
// fieldlab a use case with a company of a trade, and a lesson, most of
// them public. Its own random stream keeps the rest of the programme as
// it was for a seed.
func library(ctx context.Context, s *programme.Service, seed uint64, labs []labRef, st *Stats) error {
	rng := rand.New(rand.NewPCG(seed, 0x6c6962))
	for _, l := range labs {
		th := labThemes[l.theme]
		tr := trades[rng.IntN(len(trades))]
		p := api.Principal{Org: l.id, OrgKind: "fieldlab", Role: api.RoleAdmin}
		gain := 8 + rng.IntN(25)
		uc := programme.Entry{ID: l.id + "-case", Kind: programme.KindUseCase, Technologies: th.tech, Sectors: []string{tr.nace}, Public: rng.IntN(5) > 0,
			TitleEN: fmt.Sprintf("%s at a %s company in %s", th.name, tr.word, l.city),
			TitleNL: fmt.Sprintf("%s bij een bedrijf in %s in %s", th.name, tr.word, l.city),
			BodyEN: fmt.Sprintf("%s A %s company (NACE %s) tried it at %s for six weeks before investing. Result: %d %% less unplanned downtime on the machine tried, and a plan for the next two.",
				th.en, tr.word, tr.nace, l.name, gain),
			BodyNL: fmt.Sprintf("%s Een bedrijf in %s (NACE %s) probeerde het zes weken bij %s voordat het investeerde. Resultaat: %d %% minder ongeplande stilstand op de geteste machine, en een plan voor de volgende twee.",
				th.nl, tr.word, tr.nace, l.name, gain)}
		ls := lessons[rng.IntN(len(lessons))]
		lesson := programme.Entry{ID: l.id + "-lesson", Kind: programme.KindLesson, Technologies: th.tech, Sectors: []string{tr.nace[:1]}, Public: rng.IntN(3) > 0,
			TitleEN: "Lesson learned: " + th.name, TitleNL: "Geleerde les: " + th.name, BodyEN: ls.en, BodyNL: ls.nl}
		for _, e := range []programme.Entry{uc, lesson} {
			if _, err := s.SetEntry(ctx, p, e, ""); err != nil {
				return fmt.Errorf("library entry %s: %w", e.ID, err)
			}
			st.Library++
		}
	}
	return nil
}

// labRef is a fieldlab made, for the library.
type labRef struct {
	id, name, city string
	theme          int
}
