package programme

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/molen-io/molen/internal/programme/dma"
)

// num writes a score with one decimal, with a decimal comma in Dutch;
// signed adds a + to a rise.
func num(v float64, lang string, signed bool) string {
	s := fmt.Sprintf("%.1f", math.Round(v*10)/10)
	if signed && v >= 0.05 {
		s = "+" + s
	}
	if s == "-0.0" {
		s = "0.0"
	}
	if lang == "nl" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// WritePDF writes rep as the company's report in lang (A4, one or two
// pages): its profile, the radar of its first and latest assessment, the
// change per dimension and overall, the gap priorities, the peer
// benchmark when shown, the evidence from its factory, the next steps and
// the services delivered. at is the day it is made.
func (s *Service) WritePDF(w io.Writer, rep Report, lang string, at time.Time) error {
	q, err := s.load(dma.Latest)
	if err != nil {
		return err
	}
	var first, last *assessmentJSON
	if n := len(rep.Assessments); n > 0 {
		first, last = &rep.Assessments[0], &rep.Assessments[n-1]
		if first == last {
			first = nil
		}
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to the core fonts' cp1252
	pdf.SetTitle(say(lang, "title")+" — "+rep.Company.Name, true)
	pdf.SetProducer("molen", false)
	pdf.SetCreationDate(at)
	pdf.SetModificationDate(at)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, tr(rep.Company.Name+" · "+say(lang, "page", pdf.PageNo())), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()
	heading := func(txt string) {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 12)
		pdf.SetTextColor(20, 40, 80)
		pdf.CellFormat(0, 7, tr(txt), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.SetTextColor(0, 0, 0)
	}
	para := func(txt string) { pdf.MultiCell(0, 5, tr(txt), "", "L", false) }

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, tr(say(lang, "title")), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "B", 13)
	pdf.CellFormat(0, 7, tr(rep.Company.Name), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	c := rep.Company
	para(say(lang, "of", c.Hub, at.Format(time.DateOnly)))
	para(say(lang, "profile", c.KvK, c.Size, c.NACE, termLabel(Regions, c.NUTS, lang)))

	if last == nil {
		heading(say(lang, "radar"))
		para(say(lang, "none"))
	} else {
		dims := last.Result.Dimensions
		names := make([]string, len(dims))
		for i, d := range dims {
			names[i] = d.ID
			for _, qd := range q.Dimensions {
				if qd.ID == d.ID {
					names[i] = qd.Text.In(lang)
				}
			}
		}
		heading(say(lang, "radar"))
		y := pdf.GetY()
		var series [][]float64
		if first != nil {
			series = append(series, scores(first.Result))
		}
		series = append(series, scores(last.Result))
		radar(pdf, tr, 105, y+42, 32, names, series)
		pdf.SetY(y + 86)
		// Legend.
		pdf.SetFont("Helvetica", "", 9)
		if first != nil {
			pdf.SetFillColor(150, 150, 150)
			pdf.Rect(60, pdf.GetY()+1.5, 4, 3, "F")
			pdf.SetX(66)
			pdf.CellFormat(40, 6, tr(fmt.Sprintf("%s (%s)", first.Stage, first.Created.Format(time.DateOnly))), "", 0, "L", false, 0, "")
		}
		pdf.SetFillColor(30, 90, 180)
		pdf.Rect(112, pdf.GetY()+1.5, 4, 3, "F")
		pdf.SetX(118)
		pdf.CellFormat(40, 6, tr(fmt.Sprintf("%s (%s)", last.Stage, last.Created.Format(time.DateOnly))), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)

		// The change per dimension.
		pdf.Ln(2)
		cols := []float64{82, 30, 30, 32}
		row := func(bold bool, cells ...string) {
			style := ""
			if bold {
				style = "B"
			}
			pdf.SetFont("Helvetica", style, 10)
			for i, v := range cells {
				align := "R"
				if i == 0 {
					align = "L"
				}
				pdf.CellFormat(cols[i], 6.5, tr(v), "B", 0, align, false, 0, "")
			}
			pdf.Ln(-1)
		}
		if first != nil {
			row(true, say(lang, "dimension"), string(first.Stage), string(last.Stage), say(lang, "change"))
			for i, d := range dims {
				f := dimScore(first.Result, d.ID)
				row(false, names[i], num(f, lang, false), num(d.Score, lang, false), num(d.Score-f, lang, true))
			}
			row(true, say(lang, "overall"), num(first.Result.Overall, lang, false), num(last.Result.Overall, lang, false),
				num(last.Result.Overall-first.Result.Overall, lang, true))
			row(false, say(lang, "band"), bandWord(first.Result.Band, lang), bandWord(last.Result.Band, lang), "")
		} else {
			row(true, say(lang, "dimension"), string(last.Stage), "", "")
			for i, d := range dims {
				row(false, names[i], num(d.Score, lang, false), "", "")
			}
			row(true, say(lang, "overall"), num(last.Result.Overall, lang, false), "", "")
			row(false, say(lang, "band"), bandWord(last.Result.Band, lang), "", "")
		}

		heading(say(lang, "gaps"))
		for i, g := range gaps(last.Result) {
			name := g.ID
			for j, d := range dims {
				if d.ID == g.ID {
					name = names[j]
				}
			}
			para(fmt.Sprintf("%d. %s: %s", i+1, name, num(g.Score, lang, false)))
		}

		heading(say(lang, "peers"))
		if rep.Peers.Shown {
			para(say(lang, "peersShown", rep.Peers.Companies, rep.Peers.Size, rep.Peers.Sector, num(rep.Peers.Overall, lang, false), num(last.Result.Overall, lang, false)))
		} else {
			para(say(lang, "peersHidden", MinPeers))
		}
	}

	heading(say(lang, "evidence"))
	if ev := rep.Evidence; ev != nil {
		para(say(lang, "evShown", ev.Edges, ev.Machines, ev.Series, ev.Days, ev.Services))
	} else {
		para(say(lang, "evNone"))
	}

	if len(rep.Journey.Recommendations) > 0 {
		heading(say(lang, "next"))
		for _, r := range rep.Journey.Recommendations {
			para("• " + r.Name + ": " + r.Reason + ".")
		}
	}

	heading(say(lang, "services"))
	if len(rep.Services) == 0 {
		para(say(lang, "noServices"))
	}
	for _, sv := range rep.Services {
		para(fmt.Sprintf("%s · %s · %s · %s", sv.Day, termLabel(ServiceTypes, sv.Type, lang), cmp.Or(sv.ProviderName, sv.Provider), euros(sv.Price)))
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("report of %s: %w", c.Org, err)
	}
	return pdf.Output(w)
}

func scores(r dma.Result) []float64 {
	out := make([]float64, len(r.Dimensions))
	for i, d := range r.Dimensions {
		out[i] = d.Score
	}
	return out
}

func dimScore(r dma.Result, id string) float64 {
	for _, d := range r.Dimensions {
		if d.ID == id {
			return d.Score
		}
	}
	return 0
}

var bandWords = map[dma.Band][2]string{
	dma.BandBasic: {"basic", "basis"}, dma.BandAverage: {"average", "gemiddeld"},
	dma.BandModeratelyAdvanced: {"moderately advanced", "redelijk gevorderd"}, dma.BandAdvanced: {"advanced", "gevorderd"},
}

func bandWord(b dma.Band, lang string) string {
	w, ok := bandWords[b]
	if !ok {
		return string(b)
	}
	if lang == "nl" {
		return w[1]
	}
	return w[0]
}

// radar draws the dimensions' axes around (cx, cy) with rings at 25, 50,
// 75 and 100, and one polygon per series: the earlier ones grey, the last
// blue.
func radar(pdf *fpdf.Fpdf, tr func(string) string, cx, cy, r float64, names []string, series [][]float64) {
	n := len(names)
	at := func(i int, v float64) (float64, float64) {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		return cx + r*v/100*math.Cos(a), cy + r*v/100*math.Sin(a)
	}
	pdf.SetLineWidth(0.2)
	pdf.SetDrawColor(200, 200, 200)
	for _, ring := range []float64{25, 50, 75, 100} {
		pts := make([]fpdf.PointType, n)
		for i := range n {
			pts[i].X, pts[i].Y = at(i, ring)
		}
		pdf.Polygon(pts, "D")
	}
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(60, 60, 60)
	for i, name := range names {
		x, y := at(i, 100)
		pdf.Line(cx, cy, x, y)
		// Labels sit outside the outer ring: left of the left axes, right
		// of the right ones, centred above and below.
		lx, ly := at(i, 108)
		w := pdf.GetStringWidth(tr(name))
		switch {
		case lx > cx+1:
		case lx < cx-1:
			lx -= w
		default:
			lx -= w / 2
			if ly < cy {
				ly -= 2
			} else {
				ly += 2
			}
		}
		pdf.Text(lx, ly+1.2, tr(name))
	}
	for k, vs := range series {
		pts := make([]fpdf.PointType, n)
		for i, v := range vs {
			pts[i].X, pts[i].Y = at(i, v)
		}
		if k == len(series)-1 {
			pdf.SetDrawColor(30, 90, 180)
			pdf.SetFillColor(30, 90, 180)
		} else {
			pdf.SetDrawColor(150, 150, 150)
			pdf.SetFillColor(150, 150, 150)
		}
		pdf.SetLineWidth(0.6)
		pdf.SetAlpha(0.25, "Normal")
		pdf.Polygon(pts, "F")
		pdf.SetAlpha(1, "Normal")
		pdf.Polygon(pts, "D")
	}
	pdf.SetLineWidth(0.2)
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetTextColor(0, 0, 0)
}
