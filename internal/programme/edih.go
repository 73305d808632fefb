package programme

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/programme/dma"
)

// EDIHReport is a hub's records (or every hub's, nationally) in the shape
// of the European Commission's EDIH KPI reporting: its customers, the
// services delivered to them, its collaborations with other hubs, and each
// customer's digital maturity at T0 and T1 — what the reporting tool asks
// an EDIH to register, at least monthly (docs/programme.md#eu-reporting).
type EDIHReport struct {
	Scope          string              `json:"scope"` // a hub, or "national"
	Generated      time.Time           `json:"generated"`
	Customers      []EDIHCustomer      `json:"customers"`
	Services       []EDIHService       `json:"services"`
	Collaborations []EDIHCollaboration `json:"collaborations"`
	DMA            []EDIHMaturity      `json:"dma"`
}

// EDIHCustomer is a registered customer as the reporting registers it.
type EDIHCustomer struct {
	EDIH         string `json:"edih"`
	CustomerID   string `json:"customer_id"`
	Name         string `json:"name"`
	VAT          string `json:"vat_number"`
	NationalID   string `json:"national_id"` // the chamber of commerce number (KvK)
	CustomerType string `json:"customer_type"`
	Size         string `json:"size"`
	Sector       string `json:"sector_nace"`
	Country      string `json:"country"`
	Region       string `json:"region_nuts2"`
	Registered   string `json:"registration_date"`
}

// EDIHService is a service delivered, with the EDIH's service category.
type EDIHService struct {
	EDIH        string  `json:"edih"`
	ServiceID   string  `json:"service_id"`
	CustomerID  string  `json:"customer_id"`
	Category    string  `json:"service_category"`
	Date        string  `json:"date"`
	Provider    string  `json:"provider"`
	MarketPrice float64 `json:"market_price_eur"`
	Price       float64 `json:"price_paid_eur"`
	Subsidy     float64 `json:"subsidy_eur"`
	Investment  float64 `json:"investment_triggered_eur"`
	People      int64   `json:"people_reached"`
}

// EDIHCollaboration is a collaboration with another EDIH.
type EDIHCollaboration struct {
	EDIH       string `json:"edih"`
	ID         string `json:"collaboration_id"`
	Partner    string `json:"partner_edih"`
	CustomerID string `json:"customer_id"`
	Topic      string `json:"topic"`
	Date       string `json:"date"`
}

// EDIHMaturity is a customer's DMA at T0 and T1 (zero values and empty
// dates where it has none): overall and per dimension, and the change.
type EDIHMaturity struct {
	EDIH       string             `json:"edih"`
	CustomerID string             `json:"customer_id"`
	T0Date     string             `json:"t0_date"`
	T0         float64            `json:"t0_overall"`
	T0Dims     map[string]float64 `json:"t0_dimensions"`
	T1Date     string             `json:"t1_date"`
	T1         float64            `json:"t1_overall"`
	T1Dims     map[string]float64 `json:"t1_dimensions"`
	Change     float64            `json:"change"` // T1 − T0, when both
}

// edihCategories are the EDIH service categories by our service types.
var edihCategories = map[string]string{
	"test-before-invest": "Test before invest",
	"skills":             "Skills and training",
	"investment":         "Support to find investment",
	"ecosystem":          "Innovation ecosystem and networking",
}

// customerType maps a size class to the reporting's customer types: the
// 250+ class holds small mid-caps (250–499) and larger companies, which
// the size class does not tell apart.
func customerType(size string) (kind, band string) {
	switch size {
	case SizeSmall:
		return "SME", "micro or small (0-49)"
	case SizeMedium:
		return "SME", "medium (50-249)"
	}
	return "Small mid-cap or larger", "250 or more"
}

func eur(cents int64) float64 { return float64(cents) / 100 }

// EDIH assembles the EDIH report of scope (a hub, or National).
func (s *Service) EDIH(ctx context.Context, scope string) (EDIHReport, error) {
	hub := scope
	if scope == National {
		hub = ""
	}
	rep := EDIHReport{Scope: scope, Generated: s.now().UTC(), Customers: []EDIHCustomer{}, Services: []EDIHService{},
		Collaborations: []EDIHCollaboration{}, DMA: []EDIHMaturity{}}
	companies, err := s.Companies(ctx, hub)
	if err != nil {
		return EDIHReport{}, err
	}
	registered := map[string]string{} // customer → its hub
	for _, c := range companies {
		if c.Registered.IsZero() {
			continue // reached only: not a customer the reporting knows
		}
		registered[c.Org] = c.Hub
		kind, band := customerType(c.Size)
		rep.Customers = append(rep.Customers, EDIHCustomer{EDIH: c.Hub, CustomerID: c.Org, Name: c.Name, VAT: c.VAT, NationalID: c.KvK,
			CustomerType: kind, Size: band, Sector: c.NACE, Country: "NL", Region: c.NUTS, Registered: c.Registered.Format(time.DateOnly)})
	}
	services, err := s.Services(ctx, hub, "")
	if err != nil {
		return EDIHReport{}, err
	}
	for _, r := range services {
		if _, ok := registered[r.Company]; !ok {
			continue
		}
		rep.Services = append(rep.Services, EDIHService{EDIH: r.Hub, ServiceID: r.ID, CustomerID: r.Company, Category: edihCategories[r.Type],
			Date: r.Day, Provider: r.Provider, MarketPrice: eur(r.MarketPrice), Price: eur(r.Price), Subsidy: eur(r.Subsidy),
			Investment: eur(r.Investment), People: r.People})
	}
	cols, err := s.Collaborations(ctx, hub)
	if err != nil {
		return EDIHReport{}, err
	}
	for _, c := range cols {
		rep.Collaborations = append(rep.Collaborations, EDIHCollaboration{EDIH: c.Hub, ID: c.ID, Partner: c.Partner, CustomerID: c.Company, Topic: c.Topic, Date: c.Day})
	}
	// The assessments at T0 and T1 of the customers, scored.
	byOrg := map[string]*EDIHMaturity{}
	raw := map[string]*[2]float64{} // the overall scores unrounded, for the change
	err = s.scan(ctx, `SELECT `+assessmentColumns+` FROM dma_assessments WHERE stage IN ('T0', 'T1')`, nil, func(sc func(...any) error) error {
		a, err := scanAssessment(scanner(sc))
		if err != nil {
			return err
		}
		h, ok := registered[a.Org]
		if !ok {
			return nil
		}
		res, err := s.Score(a)
		if err != nil {
			return fmt.Errorf("assessment %s: %w", a.ID, err)
		}
		m := byOrg[a.Org]
		if m == nil {
			m = &EDIHMaturity{EDIH: h, CustomerID: a.Org, T0Dims: map[string]float64{}, T1Dims: map[string]float64{}}
			byOrg[a.Org], raw[a.Org] = m, &[2]float64{}
		}
		dims := map[string]float64{}
		for _, d := range res.Dimensions {
			dims[d.ID] = round1(d.Score)
		}
		if a.Stage == dma.T0 {
			m.T0Date, m.T0, m.T0Dims, raw[a.Org][0] = a.Created.UTC().Format(time.DateOnly), round1(res.Overall), dims, res.Overall
		} else {
			m.T1Date, m.T1, m.T1Dims, raw[a.Org][1] = a.Created.UTC().Format(time.DateOnly), round1(res.Overall), dims, res.Overall
		}
		return nil
	})
	if err != nil {
		return EDIHReport{}, fmt.Errorf("edih report of %s: %w", scope, err)
	}
	for org, m := range byOrg {
		if m.T0Date != "" && m.T1Date != "" {
			m.Change = round1(raw[org][1] - raw[org][0])
		}
		rep.DMA = append(rep.DMA, *m)
	}
	slices.SortFunc(rep.DMA, func(a, b EDIHMaturity) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	return rep, nil
}

// EDIHTables are the report's tables, each its own CSV.
var EDIHTables = []string{"customers", "services", "collaborations", "dma"}

// CSV writes one table of the report as CSV with a header row; money in
// euro with cents, scores with one decimal.
func (r EDIHReport) CSV(table string) ([]byte, error) {
	var rows [][]string
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch table {
	case "customers":
		rows = append(rows, []string{"edih", "customer_id", "name", "vat_number", "national_id", "customer_type", "size", "sector_nace", "country", "region_nuts2", "registration_date"})
		for _, c := range r.Customers {
			rows = append(rows, []string{c.EDIH, c.CustomerID, c.Name, c.VAT, c.NationalID, c.CustomerType, c.Size, c.Sector, c.Country, c.Region, c.Registered})
		}
	case "services":
		rows = append(rows, []string{"edih", "service_id", "customer_id", "service_category", "date", "provider", "market_price_eur", "price_paid_eur", "subsidy_eur", "investment_triggered_eur", "people_reached"})
		for _, s := range r.Services {
			rows = append(rows, []string{s.EDIH, s.ServiceID, s.CustomerID, s.Category, s.Date, s.Provider, money(s.MarketPrice), money(s.Price), money(s.Subsidy), money(s.Investment), strconv.FormatInt(s.People, 10)})
		}
	case "collaborations":
		rows = append(rows, []string{"edih", "collaboration_id", "partner_edih", "customer_id", "topic", "date"})
		for _, c := range r.Collaborations {
			rows = append(rows, []string{c.EDIH, c.ID, c.Partner, c.CustomerID, c.Topic, c.Date})
		}
	case "dma":
		dims := Dimensions()
		head := []string{"edih", "customer_id", "t0_date", "t0_overall"}
		for _, d := range dims {
			head = append(head, "t0_"+d)
		}
		head = append(head, "t1_date", "t1_overall")
		for _, d := range dims {
			head = append(head, "t1_"+d)
		}
		rows = append(rows, append(head, "change"))
		for _, m := range r.DMA {
			row := []string{m.EDIH, m.CustomerID, m.T0Date, opt(m.T0Date, f(m.T0))}
			for _, d := range dims {
				row = append(row, opt(m.T0Date, f(m.T0Dims[d])))
			}
			row = append(row, m.T1Date, opt(m.T1Date, f(m.T1)))
			for _, d := range dims {
				row = append(row, opt(m.T1Date, f(m.T1Dims[d])))
			}
			rows = append(rows, append(row, opt(m.T0Date+m.T1Date, f(m.Change), m.T0Date != "" && m.T1Date != "")))
		}
	default:
		return nil, api.BadRequest("table: want one of %s", strings.Join(EDIHTables, ", "))
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, row := range rows {
		for i, v := range row {
			row[i] = csvSafe(v)
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// opt is v when the stage is there (date not empty, and every cond),
// else empty.
func opt(date, v string, cond ...bool) string {
	if date == "" || slices.Contains(cond, false) {
		return ""
	}
	return v
}

// csvSafe keeps a spreadsheet from reading a free text as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}
