package dma

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Sentinel errors of validation; the error of Validate wraps one per
// problem it found (errors.Is finds each).
var (
	ErrIncomplete     = errors.New("incomplete questionnaire")
	ErrContradictory  = errors.New("contradictory answers")
	ErrOutOfScale     = errors.New("answer out of scale")
	ErrUnknown        = errors.New("unknown question or item")
	ErrMalformed      = errors.New("malformed answer")
	ErrUnknownVersion = errors.New("unknown questionnaire version")
)

// Answers is one filled-in questionnaire: module 1's company data by
// field ID and module 2's answers by question ID.
type Answers struct {
	Company   map[string]string `json:"company"`
	Questions map[string]Answer `json:"questions"`
}

// Answer is the answer to one question; which fields it has depends on
// the question's kind: Items for a checkbox question (the ticked items;
// none is an answer: nothing applies), Planned and Invested for an
// investment question (the business areas in each column), Levels for a
// scale question (a value for every item).
type Answer struct {
	Items    []string       `json:"items,omitempty"`
	Planned  []string       `json:"planned,omitempty"`
	Invested []string       `json:"invested,omitempty"`
	Levels   map[string]int `json:"levels,omitempty"`
}

// Validate reports every problem of a: unknown questions or items, a
// question or required company field left out, a value outside its
// scale, an exclusive item ticked with others, fields that do not fit the
// question's kind. nil means a can be scored.
func (q *Questionnaire) Validate(a Answers) error {
	var errs []error
	bad := func(sentinel error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel))
	}
	fields := map[string]Field{}
	for _, f := range q.Company {
		fields[f.ID] = f
		v := strings.TrimSpace(a.Company[f.ID])
		if f.Required && v == "" {
			bad(ErrIncomplete, "company.%s: required", f.ID)
		}
		if v != "" && len(f.Options) > 0 && !slices.ContainsFunc(f.Options, func(o Option) bool { return o.ID == v }) {
			bad(ErrOutOfScale, "company.%s: %q is not one of its options", f.ID, v)
		}
		if len(v) > 200 {
			bad(ErrMalformed, "company.%s: longer than 200 bytes", f.ID)
		}
	}
	for _, id := range sortedKeys(a.Company) {
		if _, ok := fields[id]; !ok {
			bad(ErrUnknown, "company.%s: no such field", id)
		}
	}
	for _, id := range sortedKeys(a.Questions) {
		if _, ok := q.questions[id]; !ok {
			bad(ErrUnknown, "%s: no such question in %s version %d", id, q.ID, q.Version)
		}
	}
	for _, d := range q.Dimensions {
		for i := range d.Questions {
			qu := &d.Questions[i]
			ans, ok := a.Questions[qu.ID]
			if !ok {
				bad(ErrIncomplete, "%s: not answered", qu.ID)
				continue
			}
			errs = append(errs, qu.validate(ans)...)
		}
	}
	return errors.Join(errs...)
}

func (qu *Question) validate(a Answer) []error {
	var errs []error
	bad := func(sentinel error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %w", qu.ID, fmt.Sprintf(format, args...), sentinel))
	}
	ids := func(field string, list []string) {
		seen := map[string]bool{}
		for _, id := range list {
			if _, ok := qu.item(id); !ok {
				bad(ErrUnknown, "%s: no item %q", field, id)
			}
			if seen[id] {
				bad(ErrMalformed, "%s: %q twice", field, id)
			}
			seen[id] = true
		}
	}
	switch qu.Kind {
	case KindCheckbox:
		if a.Planned != nil || a.Invested != nil || a.Levels != nil {
			bad(ErrMalformed, "a checkbox question takes only items")
		}
		ids("items", a.Items)
		for _, id := range a.Items {
			if it, _ := qu.item(id); it.Exclusive && len(a.Items) > 1 {
				others := slices.DeleteFunc(slices.Clone(a.Items), func(s string) bool { return s == id })
				bad(ErrContradictory, "items: %q excludes every other item, but %s ticked too", id, strings.Join(others, ", "))
			}
		}
	case KindInvestment:
		if a.Items != nil || a.Levels != nil {
			bad(ErrMalformed, "an investment question takes only planned and invested")
		}
		ids("planned", a.Planned)
		ids("invested", a.Invested)
	case KindScale:
		if a.Items != nil || a.Planned != nil || a.Invested != nil {
			bad(ErrMalformed, "a scale question takes only levels")
		}
		for _, id := range sortedKeys(a.Levels) {
			if _, ok := qu.item(id); !ok {
				bad(ErrUnknown, "levels: no item %q", id)
			}
		}
		for _, it := range qu.Items {
			v, ok := a.Levels[it.ID]
			switch {
			case !ok:
				bad(ErrIncomplete, "levels.%s: not answered", it.ID)
			case v < 0 || v > qu.max:
				bad(ErrOutOfScale, "levels.%s: %d is outside the scale 0..%d", it.ID, v, qu.max)
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Band is a maturity level of the EU's scale.
type Band string

// The bands, by the overall score rounded to a whole number.
const (
	BandBasic              Band = "basic"               // 0–25
	BandAverage            Band = "average"             // 26–50
	BandModeratelyAdvanced Band = "moderately-advanced" // 51–75
	BandAdvanced           Band = "advanced"            // 76–100
)

// BandOf is the band of a score 0–100: the score is rounded to a whole
// number (half away from zero) and placed in the EU's bands 0–25, 26–50,
// 51–75, 76–100.
func BandOf(score float64) Band {
	switch s := math.Round(score); {
	case s <= 25:
		return BandBasic
	case s <= 50:
		return BandAverage
	case s <= 75:
		return BandModeratelyAdvanced
	}
	return BandAdvanced
}

// Result is a scored questionnaire.
type Result struct {
	Version    int              `json:"version"`
	Dimensions []DimensionScore `json:"dimensions"`
	Overall    float64          `json:"overall"` // the mean of the dimensions, 0–100
	Band       Band             `json:"band"`
}

// DimensionScore is a dimension's score, 0–100, and its questions'.
type DimensionScore struct {
	ID        string          `json:"id"`
	Score     float64         `json:"score"`
	Questions []QuestionScore `json:"questions"`
}

// QuestionScore is a question's score, 0–10.
type QuestionScore struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// Score validates a and scores it by the EU's rules: every question
// scores 0–10; a dimension is the mean of its questions times ten
// (0–100); the overall score is the mean of the six dimensions.
//
//   - A checkbox question: ten times the share of its items ticked (an
//     exclusive item counts for nothing and is not in the share).
//   - An investment question: every business area ticked in a column
//     counts half a point per ten areas, so planning to invest and having
//     invested weigh the same and an area in both counts twice.
//   - A scale question: ten times the mean of its levels over the
//     scale's top (so 0–5 levels of adoption, or no/partially/yes as
//     0/1/2).
func (q *Questionnaire) Score(a Answers) (Result, error) {
	if err := q.Validate(a); err != nil {
		return Result{}, err
	}
	res := Result{Version: q.Version}
	for _, d := range q.Dimensions {
		ds := DimensionScore{ID: d.ID}
		sum := 0.0
		for i := range d.Questions {
			s := d.Questions[i].score(a.Questions[d.Questions[i].ID])
			ds.Questions = append(ds.Questions, QuestionScore{ID: d.Questions[i].ID, Score: s})
			sum += s
		}
		ds.Score = 10 * sum / float64(len(d.Questions))
		res.Dimensions = append(res.Dimensions, ds)
		res.Overall += ds.Score
	}
	res.Overall /= float64(len(res.Dimensions))
	res.Band = BandOf(res.Overall)
	return res, nil
}

// score is the question's score 0–10 for a valid answer.
func (qu *Question) score(a Answer) float64 {
	switch qu.Kind {
	case KindCheckbox:
		n := 0
		for _, id := range a.Items {
			if it, _ := qu.item(id); !it.Exclusive {
				n++
			}
		}
		return 10 * float64(n) / float64(qu.scored())
	case KindInvestment:
		return 10 * float64(len(a.Planned)+len(a.Invested)) / float64(2*len(qu.Items))
	case KindScale:
		sum := 0
		for _, v := range a.Levels {
			sum += v
		}
		return 10 * float64(sum) / float64(qu.max*len(qu.Items))
	}
	return 0
}
