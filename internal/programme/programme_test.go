package programme

import (
	"context"
	"errors"
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

// answers is a whole questionnaire with every item at its lowest but q2,
// where ticks ticks are made.
func answers(ticks int) dma.Answers {
	q := dma.MustLoad(dma.Latest)
	a := dma.Answers{Company: map[string]string{"name": "Acme", "size": "micro", "sector": "C", "country": "NL"}, Questions: map[string]dma.Answer{}}
	for _, d := range q.Dimensions {
		for _, qu := range d.Questions {
			var ans dma.Answer
			if qu.Kind == dma.KindScale {
				ans.Levels = map[string]int{}
				for _, it := range qu.Items {
					ans.Levels[it.ID] = 0
				}
			}
			if qu.ID == "q2" {
				for _, it := range qu.Items[:ticks] {
					ans.Items = append(ans.Items, it.ID)
				}
			}
			a.Questions[qu.ID] = ans
		}
	}
	return a
}

func TestSubmitOrderAndIntervals(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		log, err := audit.New(ctx, db, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		reg := prometheus.NewRegistry()
		s, err := New(ctx, Config{DB: db, Audit: log, Reg: reg, Now: func() time.Time { return clock },
			Orgs: newTree(), HubOf: func(context.Context, string) (string, error) { return "edih-a", nil }})
		if err != nil {
			t.Fatal(err)
		}
		acme := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, User: "usr_1"}

		// A T1 before any T0.
		if _, _, err := s.Submit(ctx, acme, dma.T1, 0, answers(1), ""); !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("T1 without T0: %v", err)
		}
		t0, res, err := s.Submit(ctx, acme, dma.T0, 0, answers(2), "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if res.Dimensions[0].Score != 10 { // q2 2/10 → 2, q1 0: 10·2/2
			t.Errorf("strategy %v, want 10", res.Dimensions[0].Score)
		}
		// A T1 stamped before its T0 (a clock set back) is refused.
		clock = clock.Add(-time.Hour)
		if _, _, err := s.Submit(ctx, acme, dma.T1, 0, answers(4), ""); !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("T1 before T0: %v", err)
		}
		// Contradictory answers are refused and counted.
		bad := answers(1)
		bad.Questions["q7"] = dma.Answer{Items: []string{"not-digital", "stored"}}
		if _, _, err := s.Submit(ctx, acme, dma.T1, 0, bad, ""); !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("contradictory: %v", err)
		}
		if got := testutil.ToFloat64(s.rejected.WithLabelValues("contradictory")); got != 1 {
			t.Errorf("contradictory counted %v, want 1", got)
		}
		if got := testutil.ToFloat64(s.rejected.WithLabelValues("order")); got != 2 {
			t.Errorf("order counted %v, want 2", got)
		}

		// Hub intervals: default, then the hub's own.
		if st, due, _ := s.Next(ctx, "acme", []Assessment{t0}); st != dma.T1 || !due.Equal(t0.Created.AddDate(1, 0, 0)) {
			t.Errorf("next by default: %s %v", st, due)
		}
		if err := s.SetIntervals(ctx, "edih-a", dma.Intervals{T1Months: 6, T2Months: 12}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetIntervals(ctx, "edih-a", dma.Intervals{T1Months: 6, T2Months: 18}); err != nil {
			t.Fatal(err)
		}
		if st, due, _ := s.Next(ctx, "acme", []Assessment{t0}); st != dma.T1 || !due.Equal(t0.Created.AddDate(0, 6, 0)) {
			t.Errorf("next by the hub's intervals: %s %v", st, due)
		}
		if iv, _ := s.Intervals(ctx, "edih-a"); iv.T2Months != 18 {
			t.Errorf("intervals %+v", iv)
		}
		if err := s.SetIntervals(ctx, "edih-a", dma.Intervals{T1Months: 0, T2Months: 12}); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("0 months: %v", err)
		}

		clock = clock.AddDate(0, 6, 0)
		t1, _, err := s.Submit(ctx, acme, dma.T1, 0, answers(6), "")
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.Assessments(ctx, "acme")
		if err != nil || len(list) != 2 || list[0].ID != t0.ID || list[1].ID != t1.ID {
			t.Fatalf("list %+v, %v", list, err)
		}
		if _, err := s.Assessment(ctx, "beta", t0.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another organisation's assessment: %v", err)
		}
		r0, _ := s.Score(list[0])
		r1, _ := s.Score(list[1])
		c := Compare(list[0], r0, list[1], r1)
		if c.Dimensions[0].Change.Change != 20 || c.Dimensions[0].Questions[1].Change.Change != 4 {
			t.Errorf("comparison %+v", c.Dimensions[0])
		}
		// A hub is no company.
		if _, _, err := s.Submit(ctx, api.Principal{Org: "edih-a", OrgKind: "hub", Role: api.RoleAdmin}, dma.T0, 0, answers(1), ""); !errors.Is(err, api.ErrForbidden) {
			t.Errorf("hub submitting: %v", err)
		}
		// Recorded with the score, newest first.
		entries, err := log.List(ctx, "acme", audit.Query{Action: "dma.assessed"})
		if err != nil || len(entries) != 2 || entries[1].Detail["stage"] != "T0" || entries[1].Addr != "192.0.2.1" || entries[0].Detail["overall"] != "5.0" {
			t.Errorf("audit %+v, %v", entries, err)
		}
	})
}

// TestSubmitConcurrent: of two T0s of one company submitted at once,
// exactly one is stored; the other is refused as out of order.
func TestSubmitConcurrent(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		log, err := audit.New(ctx, db, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, Config{DB: db, Audit: log, Reg: prometheus.NewRegistry(), Orgs: newTree(),
			HubOf: func(context.Context, string) (string, error) { return "", nil }})
		if err != nil {
			t.Fatal(err)
		}
		acme := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, Token: "tok_1"}
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, _, err := s.Submit(ctx, acme, dma.T0, 0, answers(3), "")
				errs <- err
			}()
		}
		var stored, refused int
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				stored++
			case errors.Is(err, api.ErrBadRequest):
				refused++
			default:
				t.Errorf("submit: %v", err)
			}
		}
		list, err := s.Assessments(ctx, "acme")
		if stored != 1 || refused != 1 || err != nil || len(list) != 1 {
			t.Errorf("stored %d, refused %d, listed %d (%v)", stored, refused, len(list), err)
		}
	})
}
