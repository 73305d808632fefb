package dma

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func company() map[string]string {
	return map[string]string{"name": "Molenaar Precisie B.V.", "size": "small", "sector": "C", "country": "NL"}
}

// factory is a whole questionnaire of a plausible small manufacturer,
// worked out by hand in TestScoreWorkedExamples.
func factory() Answers {
	return Answers{Company: company(), Questions: map[string]Answer{
		"q1":  {Planned: []string{"design", "operations", "security"}, Invested: []string{"operations", "marketing", "delivery", "administration"}},
		"q2":  {Items: []string{"needs", "it", "management", "processes"}},
		"q3":  {Items: []string{"connectivity", "website", "ecommerce", "remote", "systems"}},
		"q4":  {Levels: map[string]int{"twins": 0, "xr": 0, "cadcam": 5, "mes": 3, "iot": 4, "blockchain": 0, "additive": 2}},
		"q5":  {Items: []string{"short", "external", "subsidised"}},
		"q6":  {Items: []string{"awareness", "communication", "flexible", "support"}},
		"q7":  {Items: []string{"policy", "stored", "realtime"}},
		"q8":  {Items: []string{"clients", "backup", "training"}},
		"q9":  {Levels: map[string]int{"nlp": 0, "vision": 3, "audio": 0, "robotics": 4, "analytics": 3}},
		"q10": {Items: []string{"materials", "paperless", "energy"}},
		"q11": {Levels: map[string]int{"strategy": 0, "ems": 1, "procurement": 0, "energy": 2, "recycling": 1}},
	}}
}

// everything answers every question as high as it goes; nothing as low.
func everything(q *Questionnaire, top bool) Answers {
	a := Answers{Company: company(), Questions: map[string]Answer{}}
	for _, d := range q.Dimensions {
		for _, qu := range d.Questions {
			var ans Answer
			for _, it := range qu.Items {
				switch qu.Kind {
				case KindCheckbox:
					if top && !it.Exclusive {
						ans.Items = append(ans.Items, it.ID)
					}
				case KindInvestment:
					if top {
						ans.Planned = append(ans.Planned, it.ID)
						ans.Invested = append(ans.Invested, it.ID)
					}
				case KindScale:
					if ans.Levels == nil {
						ans.Levels = map[string]int{}
					}
					ans.Levels[it.ID] = 0
					if top {
						ans.Levels[it.ID] = qu.max
					}
				}
			}
			a.Questions[qu.ID] = ans
		}
	}
	return a
}

func TestQuestionnaire(t *testing.T) {
	q := MustLoad(Latest)
	var dims []string
	n := 0
	for _, d := range q.Dimensions {
		dims = append(dims, d.ID)
		n += len(d.Questions)
	}
	if got, want := strings.Join(dims, ","), "strategy,readiness,human,data,automation,green"; got != want {
		t.Errorf("dimensions %s, want %s", got, want)
	}
	if n != 11 {
		t.Errorf("%d scored questions, want the EU's 11", n)
	}
	if _, err := Load(99); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("Load(99) = %v, want ErrUnknownVersion", err)
	}
	if got := q.Dimensions[3].Text.In("nl"); got != "Databeheer en -beveiliging" {
		t.Errorf("Dutch text %q", got)
	}
	if got := q.Dimensions[3].Text.In("fr"); got != "Data management and security" {
		t.Errorf("unknown language falls back to %q, want English", got)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":       `{"id":"x","version":1,"title":{"en":"a","nl":"b"},"extra":1}`,
		"unknown kind":        `{"id":"x","version":1,"title":{"en":"a","nl":"b"},"dimensions":[{"id":"d","text":{"en":"a","nl":"b"},"questions":[{"id":"q","kind":"slider","text":{"en":"a","nl":"b"},"items":[{"id":"i","text":{"en":"a","nl":"b"}}]}]}]}`,
		"missing translation": `{"id":"x","version":1,"title":{"en":"a","nl":"b"},"dimensions":[{"id":"d","text":{"en":"a","nl":"b"},"questions":[{"id":"q","kind":"checkbox","text":{"en":"a","nl":"b"},"items":[{"id":"i","text":{"en":"a"}}]}]}]}`,
		"duplicate item":      `{"id":"x","version":1,"title":{"en":"a","nl":"b"},"dimensions":[{"id":"d","text":{"en":"a","nl":"b"},"questions":[{"id":"q","kind":"checkbox","text":{"en":"a","nl":"b"},"items":[{"id":"i","text":{"en":"a","nl":"b"}},{"id":"i","text":{"en":"a","nl":"b"}}]}]}]}`,
		"unknown scale":       `{"id":"x","version":1,"title":{"en":"a","nl":"b"},"dimensions":[{"id":"d","text":{"en":"a","nl":"b"},"questions":[{"id":"q","kind":"scale","scale":"nope","text":{"en":"a","nl":"b"},"items":[{"id":"i","text":{"en":"a","nl":"b"}}]}]}]}`,
	} {
		if _, err := parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestScoreWorkedExamples(t *testing.T) {
	q := MustLoad(1)
	notDigital := everything(q, false)
	notDigital.Questions["q7"] = Answer{Items: []string{"not-digital"}}
	for _, tc := range []struct {
		name    string
		answers Answers
		dims    []float64 // strategy, readiness, human, data, automation, green
		overall float64
		band    Band
	}{
		{"everything", everything(q, true), []float64{100, 100, 100, 100, 100, 100}, 100, BandAdvanced},
		{"nothing", everything(q, false), []float64{0, 0, 0, 0, 0, 0}, 0, BandBasic},
		// "Data is not collected digitally" is an answer, and scores nothing.
		{"not collected digitally", notDigital, []float64{0, 0, 0, 0, 0, 0}, 0, BandBasic},
		// strategy: q1 7 ticks of 20 → 3.5, q2 4/10 → 4: 10·(3.5+4)/2 = 37.5
		// readiness: q3 5/10 → 5, q4 14/35 → 4: 45
		// human: q5 3/7 → 30/7, q6 4/8 → 5: 5·(30/7+5) = 325/7
		// data: q7 3/7 (the exclusive item is not counted) → 30/7, q8 3/6 → 5: 325/7
		// automation: q9 10/25 → 4: 40
		// green: q10 3/10 → 3, q11 4/10 → 4: 35
		// overall: (37.5+45+650/7+40+35)/6 = 1752.5/42
		{"factory", factory(), []float64{37.5, 45, 325.0 / 7, 325.0 / 7, 40, 35}, 1752.5 / 42, BandAverage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := q.Score(tc.answers)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range got.Dimensions {
				if math.Abs(d.Score-tc.dims[i]) > 1e-9 {
					t.Errorf("%s = %v, want %v", d.ID, d.Score, tc.dims[i])
				}
			}
			if math.Abs(got.Overall-tc.overall) > 1e-9 || got.Band != tc.band {
				t.Errorf("overall %v %s, want %v %s", got.Overall, got.Band, tc.overall, tc.band)
			}
		})
	}
}

func TestBandOf(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  Band
	}{
		{0, BandBasic}, {25, BandBasic}, {25.49, BandBasic}, {25.5, BandAverage}, {26, BandAverage},
		{50, BandAverage}, {50.5, BandModeratelyAdvanced}, {75, BandModeratelyAdvanced},
		{75.5, BandAdvanced}, {76, BandAdvanced}, {100, BandAdvanced},
	} {
		if got := BandOf(tc.score); got != tc.want {
			t.Errorf("BandOf(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	q := MustLoad(1)
	for _, tc := range []struct {
		name   string
		change func(a *Answers)
		want   error
		says   string
	}{
		{"question left out", func(a *Answers) { delete(a.Questions, "q8") }, ErrIncomplete, "q8: not answered"},
		{"scale row left out", func(a *Answers) { delete(a.Questions["q4"].Levels, "mes") }, ErrIncomplete, "q4: levels.mes: not answered"},
		{"company field left out", func(a *Answers) { delete(a.Company, "sector") }, ErrIncomplete, "company.sector: required"},
		{"exclusive with others", func(a *Answers) {
			a.Questions["q7"] = Answer{Items: []string{"stored", "not-digital", "policy"}}
		}, ErrContradictory, `q7: items: "not-digital" excludes every other item, but stored, policy ticked too`},
		{"level above scale", func(a *Answers) { a.Questions["q9"].Levels["vision"] = 6 }, ErrOutOfScale, "q9: levels.vision: 6 is outside the scale 0..5"},
		{"negative level", func(a *Answers) { a.Questions["q11"].Levels["ems"] = -1 }, ErrOutOfScale, "q11: levels.ems: -1 is outside the scale 0..2"},
		{"extent above its 0..2", func(a *Answers) { a.Questions["q11"].Levels["ems"] = 3 }, ErrOutOfScale, "0..2"},
		{"size not an option", func(a *Answers) { a.Company["size"] = "huge" }, ErrOutOfScale, `company.size: "huge"`},
		{"unknown question", func(a *Answers) { a.Questions["q12"] = Answer{} }, ErrUnknown, "q12: no such question in eu-dma-sme version 1"},
		{"unknown item", func(a *Answers) { a.Questions["q2"] = Answer{Items: []string{"needs", "luck"}} }, ErrUnknown, `q2: items: no item "luck"`},
		{"unknown area", func(a *Answers) { a.Questions["q1"] = Answer{Planned: []string{"moon"}} }, ErrUnknown, `q1: planned: no item "moon"`},
		{"unknown row", func(a *Answers) { a.Questions["q9"].Levels["telepathy"] = 1 }, ErrUnknown, `q9: levels: no item "telepathy"`},
		{"unknown company field", func(a *Answers) { a.Company["shoe_size"] = "44" }, ErrUnknown, "company.shoe_size"},
		{"ticked twice", func(a *Answers) { a.Questions["q2"] = Answer{Items: []string{"needs", "needs"}} }, ErrMalformed, `q2: items: "needs" twice`},
		{"levels for a checkbox question", func(a *Answers) { a.Questions["q2"] = Answer{Levels: map[string]int{"needs": 1}} }, ErrMalformed, "takes only items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := factory()
			tc.change(&a)
			err := q.Validate(a)
			if !errors.Is(err, tc.want) || err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Validate = %v, want %v saying %q", err, tc.want, tc.says)
			}
			if _, err := q.Score(a); !errors.Is(err, tc.want) {
				t.Errorf("Score = %v, want %v", err, tc.want)
			}
		})
	}
	// Every problem is reported, not only the first.
	a := factory()
	delete(a.Questions, "q1")
	a.Questions["q9"].Levels["vision"] = 9
	err := q.Validate(a)
	if !errors.Is(err, ErrIncomplete) || !errors.Is(err, ErrOutOfScale) {
		t.Errorf("Validate = %v, want both problems", err)
	}
}

func TestCheckOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	later := t0.AddDate(0, 6, 0)
	for _, tc := range []struct {
		name  string
		stage Stage
		at    time.Time
		made  map[Stage]time.Time
		want  error
	}{
		{"first T0", T0, t0, nil, nil},
		{"T1 after T0", T1, later, map[Stage]time.Time{T0: t0}, nil},
		{"T2 after T1", T2, later.AddDate(1, 0, 0), map[Stage]time.Time{T0: t0, T1: later}, nil},
		{"T1 without T0", T1, later, nil, ErrOrder},
		{"T1 before its T0", T1, t0.Add(-time.Hour), map[Stage]time.Time{T0: t0}, ErrOrder},
		{"T1 at the same instant as T0", T1, t0, map[Stage]time.Time{T0: t0}, ErrOrder},
		{"T2 without T1", T2, later, map[Stage]time.Time{T0: t0}, ErrOrder},
		{"second T0", T0, later, map[Stage]time.Time{T0: t0}, ErrOrder},
		{"no such stage", "T3", later, nil, ErrMalformed},
	} {
		if err := CheckOrder(tc.stage, tc.at, tc.made); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: CheckOrder = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestIntervalsNext(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	t1 := time.Date(2027, 2, 15, 9, 0, 0, 0, time.UTC)
	iv := Intervals{T1Months: 6, T2Months: 12}
	if s, at := iv.Next(nil); s != "" || !at.IsZero() {
		t.Errorf("before T0: %s %v", s, at)
	}
	if s, at := iv.Next(map[Stage]time.Time{T0: t0}); s != T1 || !at.Equal(t0.AddDate(0, 6, 0)) {
		t.Errorf("after T0: %s %v", s, at)
	}
	if s, at := iv.Next(map[Stage]time.Time{T0: t0, T1: t1}); s != T2 || !at.Equal(time.Date(2028, 2, 15, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("after T1: %s %v", s, at)
	}
	if s, _ := iv.Next(map[Stage]time.Time{T0: t0, T1: t1, T2: t1.AddDate(1, 0, 0)}); s != "" {
		t.Errorf("after T2: %s", s)
	}
	if err := (Intervals{T1Months: 0, T2Months: 12}).Validate(); !errors.Is(err, ErrOutOfScale) {
		t.Errorf("0 months: %v", err)
	}
	if err := DefaultIntervals.Validate(); err != nil {
		t.Error(err)
	}
}
