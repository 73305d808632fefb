package programme

import (
	"time"

	"github.com/molen-io/molen/internal/programme/dma"
)

// Comparison is the change from a company's T0 to its latest assessment.
type Comparison struct {
	From       Point             `json:"from"`
	To         Point             `json:"to"`
	Overall    Change            `json:"overall"`
	Band       [2]dma.Band       `json:"band"` // at From, at To
	Dimensions []DimensionChange `json:"dimensions"`
}

// Point names an assessment compared.
type Point struct {
	ID      string    `json:"id"`
	Stage   dma.Stage `json:"stage"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
}

// Change is a score at both points and To minus From.
type Change struct {
	From   float64 `json:"from"`
	To     float64 `json:"to"`
	Change float64 `json:"change"`
}

// DimensionChange is a dimension's change (0–100) and its questions'
// (0–10). A question of one version that the other lacks is left out.
type DimensionChange struct {
	ID string `json:"id"`
	Change
	Questions []QuestionChange `json:"questions"`
}

// QuestionChange is a question's change.
type QuestionChange struct {
	ID string `json:"id"`
	Change
}

func change(from, to float64) Change { return Change{From: from, To: to, Change: to - from} }

// Compare compares two scored assessments of a company, dimension by
// dimension and question by question.
func Compare(from Assessment, rf dma.Result, to Assessment, rt dma.Result) Comparison {
	c := Comparison{
		From:    Point{from.ID, from.Stage, from.Version, from.Created.UTC()},
		To:      Point{to.ID, to.Stage, to.Version, to.Created.UTC()},
		Overall: change(rf.Overall, rt.Overall),
		Band:    [2]dma.Band{rf.Band, rt.Band},
	}
	for _, dt := range rt.Dimensions {
		for _, df := range rf.Dimensions {
			if df.ID != dt.ID {
				continue
			}
			dc := DimensionChange{ID: dt.ID, Change: change(df.Score, dt.Score)}
			for _, qt := range dt.Questions {
				for _, qf := range df.Questions {
					if qf.ID == qt.ID {
						dc.Questions = append(dc.Questions, QuestionChange{ID: qt.ID, Change: change(qf.Score, qt.Score)})
					}
				}
			}
			c.Dimensions = append(c.Dimensions, dc)
		}
	}
	return c
}
