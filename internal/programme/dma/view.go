package dma

// View is a questionnaire in one language, as the API serves it.
type View struct {
	ID         string          `json:"id"`
	Version    int             `json:"version"`
	Lang       string          `json:"lang"`
	Title      string          `json:"title"`
	Source     string          `json:"source"`
	Company    []FieldView     `json:"company"`
	Dimensions []DimensionView `json:"dimensions"`
	Bands      []BandView      `json:"bands"`
}

// FieldView is a company-data field in one language.
type FieldView struct {
	ID       string       `json:"id"`
	Required bool         `json:"required"`
	Text     string       `json:"text"`
	Options  []OptionView `json:"options,omitempty"`
}

// OptionView is a choice (an option of a field, an item of a question)
// in one language.
type OptionView struct {
	ID        string `json:"id"`
	Text      string `json:"text"`
	Exclusive bool   `json:"exclusive,omitempty"`
}

// LevelView is a step of a scale in one language.
type LevelView struct {
	Value int    `json:"value"`
	Text  string `json:"text"`
}

// DimensionView is a dimension in one language.
type DimensionView struct {
	ID        string         `json:"id"`
	Text      string         `json:"text"`
	Questions []QuestionView `json:"questions"`
}

// QuestionView is a question in one language, with its scale's levels.
type QuestionView struct {
	ID     string       `json:"id"`
	Kind   string       `json:"kind"`
	Text   string       `json:"text"`
	Items  []OptionView `json:"items"`
	Levels []LevelView  `json:"levels,omitempty"`
}

// BandView is a band and its range of rounded overall scores.
type BandView struct {
	Band Band `json:"band"`
	Min  int  `json:"min"`
	Max  int  `json:"max"`
}

// Bands are the EU's bands in order.
var Bands = []BandView{{BandBasic, 0, 25}, {BandAverage, 26, 50}, {BandModeratelyAdvanced, 51, 75}, {BandAdvanced, 76, 100}}

// In returns q in lang (English for a language it lacks).
func (q *Questionnaire) In(lang string) View {
	v := View{ID: q.ID, Version: q.Version, Lang: lang, Title: q.Title.In(lang), Source: q.Source, Bands: Bands}
	for _, f := range q.Company {
		fv := FieldView{ID: f.ID, Required: f.Required, Text: f.Text.In(lang)}
		for _, o := range f.Options {
			fv.Options = append(fv.Options, OptionView{ID: o.ID, Text: o.Text.In(lang)})
		}
		v.Company = append(v.Company, fv)
	}
	for _, d := range q.Dimensions {
		dv := DimensionView{ID: d.ID, Text: d.Text.In(lang)}
		for _, qu := range d.Questions {
			qv := QuestionView{ID: qu.ID, Kind: qu.Kind, Text: qu.Text.In(lang)}
			for _, it := range qu.Items {
				qv.Items = append(qv.Items, OptionView{ID: it.ID, Text: it.Text.In(lang), Exclusive: it.Exclusive})
			}
			for _, l := range q.Scales[qu.Scale] {
				qv.Levels = append(qv.Levels, LevelView{Value: l.Value, Text: l.Text.In(lang)})
			}
			dv.Questions = append(dv.Questions, qv)
		}
		v.Dimensions = append(v.Dimensions, dv)
	}
	return v
}
