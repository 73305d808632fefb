package dma

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed eu-dma-sme-v*.json
var files embed.FS

// Text is a text in each language the questionnaire speaks ("en", "nl").
type Text map[string]string

// In returns t in lang, or in English when it has no such language.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	return t["en"]
}

// Langs are the languages every text of a questionnaire is in.
var Langs = []string{"en", "nl"}

// The kinds of scored question.
const (
	// KindCheckbox: tick the items that apply; an exclusive item
	// ("data is not collected digitally") excludes all others.
	KindCheckbox = "checkbox"
	// KindInvestment: per business area, tick "plan to invest" and/or
	// "already invested".
	KindInvestment = "investment"
	// KindScale: a value of the question's scale for every item.
	KindScale = "scale"
)

// Questionnaire is one version of the DMA.
type Questionnaire struct {
	ID         string               `json:"id"`
	Version    int                  `json:"version"`
	Title      Text                 `json:"title"`
	Source     string               `json:"source"`
	Company    []Field              `json:"company"`
	Scales     map[string][]Level   `json:"scales"`
	Dimensions []Dimension          `json:"dimensions"`
	questions  map[string]*Question // by ID
}

// Field is a question of module 1, company data: not scored.
type Field struct {
	ID       string   `json:"id"`
	Required bool     `json:"required,omitempty"`
	Text     Text     `json:"text"`
	Options  []Option `json:"options,omitempty"` // if set, the answer is one of their IDs
}

// Option is a choice of a Field.
type Option struct {
	ID   string `json:"id"`
	Text Text   `json:"text"`
}

// Level is a step of an answer scale.
type Level struct {
	Value int  `json:"value"`
	Text  Text `json:"text"`
}

// Dimension is one of the six, scored 0–100.
type Dimension struct {
	ID        string     `json:"id"`
	Text      Text       `json:"text"`
	Questions []Question `json:"questions"`
}

// Question is a scored question of module 2.
type Question struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Scale string `json:"scale,omitempty"` // for KindScale: a key of Questionnaire.Scales
	Text  Text   `json:"text"`
	Items []Item `json:"items"`
	dim   string
	max   int // the scale's highest value, for KindScale
}

// Item is a business area, an option to tick or a row to grade.
type Item struct {
	ID        string `json:"id"`
	Exclusive bool   `json:"exclusive,omitempty"`
	Text      Text   `json:"text"`
}

// Latest is the version new assessments use.
const Latest = 1

// Load returns version v of the questionnaire.
func Load(v int) (*Questionnaire, error) {
	b, err := files.ReadFile(fmt.Sprintf("eu-dma-sme-v%d.json", v))
	if err != nil {
		return nil, fmt.Errorf("dma questionnaire version %d: %w", v, ErrUnknownVersion)
	}
	q, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("dma questionnaire version %d: %w", v, err)
	}
	if q.Version != v {
		return nil, fmt.Errorf("dma questionnaire version %d: file says version %d", v, q.Version)
	}
	return q, nil
}

// MustLoad is Load for versions the binary embeds; it panics otherwise.
func MustLoad(v int) *Questionnaire {
	q, err := Load(v)
	if err != nil {
		panic(err)
	}
	return q
}

// textAt is a text of the questionnaire and where it is, for errors.
type textAt struct {
	path string
	t    Text
}

// parse decodes and checks a questionnaire: unknown fields, duplicate IDs,
// unknown kinds or scales and missing translations are errors.
func parse(b []byte) (*Questionnaire, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var q Questionnaire
	if err := dec.Decode(&q); err != nil {
		return nil, err
	}
	q.questions = map[string]*Question{}
	texts := []textAt{{"title", q.Title}}
	for i, f := range q.Company {
		texts = append(texts, textAt{"company." + f.ID, f.Text})
		for _, o := range f.Options {
			texts = append(texts, textAt{fmt.Sprintf("company[%d].%s", i, o.ID), o.Text})
		}
	}
	for di := range q.Dimensions {
		d := &q.Dimensions[di]
		texts = append(texts, textAt{d.ID, d.Text})
		if len(d.Questions) == 0 {
			return nil, fmt.Errorf("dimension %s: no questions", d.ID)
		}
		for qi := range d.Questions {
			qu := &d.Questions[qi]
			if _, dup := q.questions[qu.ID]; dup || qu.ID == "" {
				return nil, fmt.Errorf("question %q: empty or duplicate id", qu.ID)
			}
			qu.dim = d.ID
			q.questions[qu.ID] = qu
			switch qu.Kind {
			case KindCheckbox, KindInvestment:
			case KindScale:
				levels, ok := q.Scales[qu.Scale]
				if !ok || len(levels) < 2 {
					return nil, fmt.Errorf("question %s: unknown scale %q", qu.ID, qu.Scale)
				}
				for i, l := range levels {
					if l.Value != i {
						return nil, fmt.Errorf("scale %s: values must count from 0", qu.Scale)
					}
				}
				qu.max = len(levels) - 1
			default:
				return nil, fmt.Errorf("question %s: unknown kind %q", qu.ID, qu.Kind)
			}
			if qu.scored() == 0 {
				return nil, fmt.Errorf("question %s: no scored items", qu.ID)
			}
			seen := map[string]bool{}
			texts = append(texts, textAt{qu.ID, qu.Text})
			for _, it := range qu.Items {
				if seen[it.ID] || it.ID == "" {
					return nil, fmt.Errorf("question %s: item %q: empty or duplicate id", qu.ID, it.ID)
				}
				seen[it.ID] = true
				texts = append(texts, textAt{qu.ID + "." + it.ID, it.Text})
			}
		}
	}
	for _, t := range texts {
		for _, l := range Langs {
			if t.t[l] == "" {
				return nil, fmt.Errorf("%s: no %s text", t.path, l)
			}
		}
	}
	return &q, nil
}

// scored is the number of items that count towards the score (all but
// exclusive ones).
func (q *Question) scored() int {
	n := 0
	for _, it := range q.Items {
		if !it.Exclusive {
			n++
		}
	}
	return n
}

func (q *Question) item(id string) (Item, bool) {
	for _, it := range q.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Question returns the question with id, if there is one.
func (q *Questionnaire) Question(id string) (*Question, bool) {
	qu, ok := q.questions[id]
	return qu, ok
}

// Dimension is the dimension a question belongs to.
func (q *Question) Dimension() string { return q.dim }
