package programme

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/programme/dma"
)

// pdfText is the text of a PDF as poppler's pdftotext reads it, laid out.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("MOLEN_REQUIRE_PDFTOTEXT") != "" {
			t.Fatal("MOLEN_REQUIRE_PDFTOTEXT is set and pdftotext is not installed (apt-get install poppler-utils)")
		}
		t.Skip("pdftotext not installed (Debian's poppler-utils): skipping the check of the report's PDF")
	}
	f := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "-layout", "-enc", "UTF-8", f, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	return string(out)
}

// TestReportPDF: the company report's PDF holds, as a PDF reader reads it,
// the change per dimension and overall from T0 to T1, the bands, the gap
// priorities, the peer benchmark once five peers have an assessment, the
// evidence from the factory and the next steps, in English and Dutch.
func TestReportPDF(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		s.evidence = func(context.Context, string) (Evidence, error) {
			return Evidence{Edges: 1, Machines: 3, Series: 12, Days: 40, Services: 2}, nil
		}
		s.listings = ListingSet{{ID: "svc-spc", NameEN: "SPC", NameNL: "SPC-regels", Dimensions: []string{"green"}, Provider: "molen"}}
		as := func(org string) api.Principal {
			return api.Principal{Org: org, OrgKind: "company", Role: api.RoleEngineer, User: "usr_" + org}
		}
		if _, err := s.Register(ctx, hubA, company("acme", "30000001", SizeSmall), ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Submit(ctx, as("acme"), dma.T0, 0, weakIn("data", "green"), ""); err != nil {
			t.Fatal(err)
		}
		w.clock = w.clock.AddDate(1, 0, 0)
		if _, _, err := s.Submit(ctx, as("acme"), dma.T1, 0, weakIn("green"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, hubA, ServiceRecord{Company: "acme", Type: "test-before-invest", Day: "2026-07-01", Provider: "lab-a", Price: 250000, MarketPrice: 1000000, Subsidy: 750000}, ""); err != nil {
			t.Fatal(err)
		}
		render := func(lang string) string {
			t.Helper()
			rep, err := s.Report(ctx, "edih-a", "acme", true, lang)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := s.WritePDF(&buf, rep, lang, w.clock); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
				t.Fatalf("not a PDF: %.20q", buf.Bytes())
			}
			if d := os.Getenv("MOLEN_SCREENSHOTS"); d != "" && db.Dialect() == meta.SQLite {
				_ = os.WriteFile(filepath.Join(d, "report-"+lang+".pdf"), buf.Bytes(), 0o600) // to look at
			}
			return pdfText(t, buf.Bytes())
		}
		en := render("en")
		for _, want := range []string{
			`Digital maturity report`, `Acme B\.V\.`, `KvK 30000001 · size 0-49 · NACE C25 · Overijssel`,
			`Dimension\s+T0\s+T1\s+Change`,
			`Data management and security\s+0\.0\s+100\.0\s+\+100\.0`,
			`Green digitalisation\s+0\.0\s+0\.0\s+0\.0`,
			`Digital readiness\s+100\.0\s+100\.0\s+0\.0`,
			`Overall\s+66\.7\s+83\.3\s+\+16\.7`,
			`Band\s+moderately advanced\s+advanced`,
			`1\. Green digitalisation: 0\.0`,
			`Not shown: fewer than 5 companies`,
			`Edges connected 1 · machines 3 · series 12 · days of data 40 · services installed 2`,
			`SPC: your green digitalisation score is 0; SPC \(molen\) works on green digitalisation`,
			`2026-07-01 · Test before invest · Fieldlab A · €2500\.00`,
		} {
			if !regexp.MustCompile(want).MatchString(en) {
				t.Errorf("the English PDF lacks %s:\n%s", want, en)
			}
		}
		// Five peers of the same size, sector and province: shown.
		for i := range MinPeers {
			org := fmt.Sprintf("peer-%d", i)
			if _, err := s.Register(ctx, hubA, company(org, fmt.Sprintf("3100000%d", i), SizeSmall), ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Submit(ctx, as(org), dma.T0, 0, weakIn("data", "green", "human"), ""); err != nil {
				t.Fatal(err)
			}
		}
		nl := render("nl")
		for _, want := range []string{
			`Rapport digitale volwassenheid`,
			`Databeheer en -beveiliging\s+0,0\s+100,0\s+\+100,0`,
			`Totaal\s+66,7\s+83,3\s+\+16,7`,
			`Niveau\s+redelijk gevorderd\s+gevorderd`,
			`Het gemiddelde van 5 bedrijven van dezelfde omvang \(0-49\), sector \(C\) en provincie: 50,0; dit bedrijf: 83,3\.`,
			`Aangesloten edges 1`,
		} {
			if !regexp.MustCompile(want).MatchString(nl) {
				t.Errorf("the Dutch PDF lacks %s:\n%s", want, nl)
			}
		}
	})
}

// BenchmarkReportPDF makes a company's report PDF from its report (the
// report's own cost is in internal/hub's BenchmarkProgramme).
func BenchmarkReportPDF(b *testing.B) {
	db := metatest.SQLite(b)
	w := newService(b, db, nil)
	s := w.s
	ctx := b.Context()
	if _, err := s.Register(ctx, hubA, company("acme", "30000001", SizeSmall), ""); err != nil {
		b.Fatal(err)
	}
	p := api.Principal{Org: "acme", OrgKind: "company", Role: api.RoleEngineer, User: "usr_acme"}
	if _, _, err := s.Submit(ctx, p, dma.T0, 0, weakIn("data", "green"), ""); err != nil {
		b.Fatal(err)
	}
	w.clock = w.clock.Add(400 * 24 * time.Hour)
	if _, _, err := s.Submit(ctx, p, dma.T1, 0, weakIn("green"), ""); err != nil {
		b.Fatal(err)
	}
	rep, err := s.Report(ctx, "edih-a", "acme", false, "en")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := s.WritePDF(&buf, rep, "en", w.clock); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}
