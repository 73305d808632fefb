package dma

import (
	"encoding/json"
	"testing"
)

// FuzzScore: whatever JSON a client sends as answers, scoring either
// refuses it or answers scores within 0–100 and a band; it never panics.
func FuzzScore(f *testing.F) {
	q := MustLoad(Latest)
	for _, a := range []Answers{factory(), everything(q, true), everything(q, false)} {
		b, _ := json.Marshal(a)
		f.Add(b)
	}
	f.Add([]byte(`{"questions":{"q7":{"items":["not-digital","stored"]},"q4":{"levels":{"mes":-3}}}}`))
	f.Add([]byte(`{"company":null,"questions":{"q1":{"planned":["design","design"]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Answers
		if json.Unmarshal(b, &a) != nil {
			return
		}
		res, err := q.Score(a)
		if err != nil {
			return
		}
		if res.Overall < 0 || res.Overall > 100 || res.Band == "" || len(res.Dimensions) != 6 {
			t.Fatalf("score %+v of %s", res, b)
		}
		for _, d := range res.Dimensions {
			if d.Score < 0 || d.Score > 100 {
				t.Fatalf("dimension %+v of %s", d, b)
			}
		}
	})
}
