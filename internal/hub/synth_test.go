package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/programme"
	"github.com/molen-io/molen/internal/programme/synth"
)

// synthAt is the day the synthetic programme's data ends.
var synthAt = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func synthHub(t testing.TB, companies, assessments, people int) (*hub.Hub, synth.Stats) {
	t.Helper()
	ctx := context.Background()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	st, err := synth.Generate(ctx, h.Programme(), h.Tree(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), synth.Config{Seed: 7, Companies: companies, Assessments: assessments, People: people, Now: synthAt})
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// TestSynthetic: the synthetic programme is the same every time it is
// made from the same seed, and its figures hang together.
func TestSynthetic(t *testing.T) {
	var kpis []string
	for range 2 {
		h, st := synthHub(t, 120, 300, 2000)
		if st.Hubs != 5 || st.Fieldlabs != 50 || st.Companies != 120 || st.Assessments != 300 {
			t.Errorf("made %+v", st)
		}
		k, err := h.Programme().KPIs(t.Context(), programme.National)
		if err != nil {
			t.Fatal(err)
		}
		k.At = time.Time{}
		b, _ := json.Marshal(k)
		kpis = append(kpis, string(b))
		f := k.Funnel
		if !(f[0].Count == 120 && f[0].Count >= f[1].Count && f[1].Count >= f[2].Count && f[2].Count > 0 && f[3].Count > 0 && f[4].Count > 0 && k.DMA.Companies > 0 && k.DMA.Change > 0) {
			t.Errorf("national KPIs: %s", b)
		}
		// The academy: one in fifty learners took a course at a second
		// hub, and still counts once.
		upskilled := k.Targets[1]
		if upskilled.ID != "people-upskilled" || upskilled.Value != int64(st.Learners) || k.Academy.Learners != st.Learners ||
			k.Academy.Completions != st.Completions || st.Completions <= st.Learners || st.Enrolments <= 2000 || len(k.Academy.Hubs) != 5 {
			t.Errorf("academy: made %+v, KPIs %+v %+v", st, upskilled, k.Academy)
		}
		cat, err := h.Programme().Catalogue(t.Context(), programme.Filter{Lang: "nl", Region: "NL41", Technology: "robotics"})
		if err != nil || len(cat.Hubs) != 1 || len(cat.Fieldlabs) == 0 {
			t.Errorf("catalogue for Brabant, robotics: %+v %v", cat, err)
		}
	}
	if kpis[0] != kpis[1] {
		t.Errorf("two programmes from one seed differ:\n%s\n%s", kpis[0], kpis[1])
	}
}

// BenchmarkProgramme measures, with the national synthetic programme
// (3,500 companies, 10,000 assessments), the national KPI page and a
// hub's through the API, a company's report (JSON and PDF), and a monthly
// snapshot.
func BenchmarkProgramme(b *testing.B) {
	start := time.Now()
	h, st := synthHub(b, 3500, 10000, 200000)
	b.Logf("generated %+v in %v", st, time.Since(start).Round(time.Millisecond))
	ctx := b.Context()
	a := h.Auth()
	token := func(org string) caller {
		sec, err := a.NewToken(ctx, org, api.RoleViewer, "bench")
		if err != nil {
			b.Fatal(err)
		}
		return caller{name: org, bearer: sec, token: true}
	}
	office, zuid := token(auth.PlatformOrg), token("edih-zuid")
	// The first KPIs score every assessment once (a stored assessment
	// never changes); the benchmarks measure the pages after that.
	start = time.Now()
	if _, err := h.Programme().KPIs(ctx, programme.National); err != nil {
		b.Fatal(err)
	}
	b.Logf("first national KPIs (scoring every assessment) in %v", time.Since(start).Round(time.Millisecond))
	get := func(b *testing.B, c caller, path string) {
		if code, body := call(b, h.URL(), c, "GET", path, ""); code != 200 {
			b.Fatalf("%s: %d %.300s", path, code, body)
		}
	}
	b.Run("kpi/national", func(b *testing.B) {
		for b.Loop() {
			get(b, office, "/api/v1/programme/kpi")
		}
	})
	b.Run("kpi/hub", func(b *testing.B) {
		for b.Loop() {
			get(b, zuid, "/api/v1/programme/kpi")
		}
	})
	list, err := h.Programme().Companies(ctx, "edih-zuid")
	if err != nil || len(list) == 0 {
		b.Fatal(err)
	}
	b.Run("company-report", func(b *testing.B) {
		i := 0
		for b.Loop() {
			get(b, zuid, "/api/v1/programme/customers/"+list[i%len(list)].Org)
			i++
		}
	})
	b.Run("company-report-pdf", func(b *testing.B) {
		i := 0
		for b.Loop() {
			get(b, zuid, "/api/v1/programme/customers/"+list[i%len(list)].Org+"/report.pdf")
			i++
		}
	})
	i := 0 // months back, across the runs of the benchmark
	b.Run("snapshot/national", func(b *testing.B) {
		p := api.Principal{Org: auth.PlatformOrg, OrgKind: "platform", Role: api.RolePlatformAdmin}
		for b.Loop() {
			month := time.Date(synthAt.Year(), synthAt.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -i, 0).Format("2006-01")
			if _, err := h.Programme().Freeze(ctx, p, programme.National, month); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
