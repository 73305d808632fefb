package programme

import (
	"bytes"
	"context"

	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
)

// National is the scope of the programme's national KPIs.
const National = "national"

// The programme's national targets.
var Targets = []Target{
	{ID: "factories-digitalising", EN: "Factories digitalising", NL: "Fabrieken die digitaliseren", Target: 1000},
	{ID: "people-upskilled", EN: "People upskilled", NL: "Mensen bijgeschoold", Target: 50000},
	{ID: "companies-supported", EN: "Companies supported", NL: "Bedrijven ondersteund", Target: 3500},
	{ID: "people-supported", EN: "People supported", NL: "Mensen ondersteund", Target: 200000},
}

// Target is a figure against its target.
type Target struct {
	ID     string `json:"id"`
	EN     string `json:"en"`
	NL     string `json:"nl"`
	Value  int64  `json:"value"`
	Target int64  `json:"target"`
}

// KPIs are a hub's figures, or the programme's (Scope National), as the
// EDIH reporting asks for them.
type KPIs struct {
	Scope   string    `json:"scope"`
	At      time.Time `json:"at"`
	Targets []Target  `json:"targets"`
	// Customers (registered companies) by size class, NACE section,
	// NUTS region, and by the service types they received.
	BySize        map[string]int `json:"customers_by_size"`
	BySector      map[string]int `json:"customers_by_sector"`
	ByRegion      map[string]int `json:"customers_by_region"`
	ByServiceType map[string]int `json:"customers_by_service_type"`
	Services      int            `json:"services"`
	// Investment triggered, price paid and subsidy given, in euro cents.
	Investment     int64      `json:"investment_triggered"`
	Revenue        int64      `json:"price_paid"`
	Subsidy        int64      `json:"subsidy"`
	Collaborations int        `json:"collaborations"`
	DMA            DMAChange  `json:"dma"`
	Funnel         []Stepping `json:"funnel"`
	// Academy are the academy's figures; its learners are the people
	// upskilled of the hubs with academy records.
	Academy AcademyFigures `json:"academy"`
}

// DMAChange is the change of the overall DMA score from T0 to T1 over
// the customers that have both.
type DMAChange struct {
	Assessed  int     `json:"assessed"`  // customers with a T0
	Companies int     `json:"companies"` // with a T0 and a T1
	T0        float64 `json:"t0"`        // mean overall at T0 of those
	T1        float64 `json:"t1"`
	Change    float64 `json:"change"`
	Improved  int     `json:"improved"` // with T1 above T0
}

// Stepping is one step of the funnel.
type Stepping struct {
	Step  string `json:"step"`
	Count int    `json:"count"`
}

// The funnel's steps, in order.
var FunnelSteps = []string{"reached", "registered", "assessed", "served", "connected", "improved"}

// scan runs query and calls row for each row with its Scan.
func (s *Service) scan(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// overall returns an assessment's overall score, scoring it once: a
// stored assessment never changes.
func (s *Service) overall(a Assessment) (float64, error) {
	if v, ok := s.scores.Load(a.ID); ok {
		return v.(float64), nil
	}
	res, err := s.Score(a)
	if err != nil {
		return 0, err
	}
	s.scores.Store(a.ID, res.Overall)
	return res.Overall, nil
}

// overalls returns every company's overall score per stage.
func (s *Service) overalls(ctx context.Context, in map[string]bool) (map[string]map[dma.Stage]float64, error) {
	// The answers are read only for assessments not scored yet.
	rows, err := s.db.QueryContext(ctx, `SELECT id, org, stage FROM dma_assessments`)
	if err != nil {
		return nil, fmt.Errorf("assessments: %w", err)
	}
	type ref struct {
		id, org string
		stage   dma.Stage
	}
	var refs []ref
	for rows.Next() {
		var r ref
		var stage string
		if err := rows.Scan(&r.id, &r.org, &stage); err != nil {
			rows.Close()
			return nil, fmt.Errorf("assessments: %w", err)
		}
		r.stage = dma.Stage(stage)
		if in[r.org] {
			refs = append(refs, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assessments: %w", err)
	}
	cold := false
	for _, r := range refs {
		if _, ok := s.scores.Load(r.id); !ok {
			cold = true
			break
		}
	}
	if cold {
		// Score every assessment not scored yet, reading them in one go.
		if err := s.scoreAll(ctx); err != nil {
			return nil, err
		}
	}
	out := map[string]map[dma.Stage]float64{}
	for _, r := range refs {
		v, ok := s.scores.Load(r.id)
		if !ok {
			return nil, fmt.Errorf("assessment %s: not scored", r.id)
		}
		if out[r.org] == nil {
			out[r.org] = map[dma.Stage]float64{}
		}
		out[r.org][r.stage] = v.(float64)
	}
	return out, nil
}

// scoreAll scores every stored assessment not scored yet.
func (s *Service) scoreAll(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+assessmentColumns+` FROM dma_assessments`)
	if err != nil {
		return fmt.Errorf("assessments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return err
		}
		if _, ok := s.scores.Load(a.ID); ok {
			continue
		}
		if _, err := s.overall(a); err != nil {
			return fmt.Errorf("assessment %s: %w", a.ID, err)
		}
	}
	return rows.Err()
}

// KPIs computes the live KPIs of hub, or of the whole programme for
// National.
func (s *Service) KPIs(ctx context.Context, scope string) (KPIs, error) {
	hub := scope
	if scope == National {
		hub = ""
	}
	// Only the columns the figures need: this is the national page.
	where, args := "", []any{}
	if hub != "" {
		where, args = " WHERE hub = $1", []any{hub}
	}
	var companies []Company
	err := s.scan(ctx, `SELECT org, size, nace, nuts, registered FROM prog_companies`+where, args, func(sc func(...any) error) error {
		var c Company
		var registered int64
		if err := sc(&c.Org, &c.Size, &c.NACE, &c.NUTS, &registered); err != nil {
			return err
		}
		if registered != 0 {
			c.Registered = meta.Time(registered)
		}
		companies = append(companies, c)
		return nil
	})
	if err != nil {
		return KPIs{}, fmt.Errorf("KPIs of %s: customers: %w", scope, err)
	}
	var services []ServiceRecord
	err = s.scan(ctx, `SELECT hub, company, type, price, subsidy, investment, people FROM prog_services`+where, args, func(sc func(...any) error) error {
		var r ServiceRecord
		if err := sc(&r.Hub, &r.Company, &r.Type, &r.Price, &r.Subsidy, &r.Investment, &r.People); err != nil {
			return err
		}
		services = append(services, r)
		return nil
	})
	if err != nil {
		return KPIs{}, fmt.Errorf("KPIs of %s: services: %w", scope, err)
	}
	var collabs int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM prog_collaborations`+where, args...).Scan(&collabs); err != nil {
		return KPIs{}, fmt.Errorf("KPIs of %s: collaborations: %w", scope, err)
	}
	connected := map[string]bool{}
	if s.connected != nil {
		if connected, err = s.connected(ctx); err != nil {
			return KPIs{}, fmt.Errorf("connected edges: %w", err)
		}
	}
	acad, err := s.academyFigures(ctx, hub)
	if err != nil {
		return KPIs{}, fmt.Errorf("KPIs of %s: %w", scope, err)
	}
	k := KPIs{Scope: scope, At: s.now().UTC(), Academy: acad, BySize: map[string]int{}, BySector: map[string]int{}, ByRegion: map[string]int{},
		ByServiceType: map[string]int{}, Services: len(services), Collaborations: collabs}
	registered := map[string]bool{}
	for _, c := range companies {
		if c.Registered.IsZero() {
			continue
		}
		registered[c.Org] = true
		k.BySize[c.Size]++
		k.BySector[c.NACE[:1]]++
		k.ByRegion[c.NUTS]++
	}
	served := map[string]bool{}
	typed := map[[2]string]bool{}
	// People upskilled: the academy's distinct learners with a completion
	// where a hub keeps academy records, the people on its skills service
	// records where it does not (those may count a person twice).
	upskilled := int64(acad.Learners)
	var people int64
	for _, r := range services {
		k.Investment += r.Investment
		k.Revenue += r.Price
		k.Subsidy += r.Subsidy
		people += r.People
		if r.Type == "skills" && !slices.Contains(acad.Hubs, r.Hub) {
			upskilled += r.People
		}
		if !registered[r.Company] {
			continue
		}
		served[r.Company] = true
		if key := [2]string{r.Company, r.Type}; !typed[key] {
			typed[key] = true
			k.ByServiceType[r.Type]++
		}
	}
	scores, err := s.overalls(ctx, registered)
	if err != nil {
		return KPIs{}, err
	}
	var sum0, sum1 float64
	assessed, conn, improved := 0, 0, 0
	for org := range registered {
		st := scores[org]
		t0, has0 := st[dma.T0]
		if has0 {
			assessed++
		}
		if connected[org] && served[org] {
			conn++
		}
		t1, has1 := st[dma.T1]
		if has0 && has1 {
			k.DMA.Companies++
			sum0, sum1 = sum0+t0, sum1+t1
			if t1 > t0 {
				improved++
			}
		}
	}
	k.DMA.Assessed, k.DMA.Improved = assessed, improved
	if k.DMA.Companies > 0 {
		n := float64(k.DMA.Companies)
		k.DMA.T0, k.DMA.T1 = round1(sum0/n), round1(sum1/n)
		k.DMA.Change = round1(k.DMA.T1 - k.DMA.T0)
	}
	k.Funnel = []Stepping{{"reached", len(companies)}, {"registered", len(registered)}, {"assessed", assessed},
		{"served", len(served)}, {"connected", conn}, {"improved", improved}}
	values := map[string]int64{"factories-digitalising": int64(conn), "people-upskilled": upskilled,
		"companies-supported": int64(len(served)), "people-supported": people}
	for _, t := range Targets {
		t.Value = values[t.ID]
		k.Targets = append(k.Targets, t)
	}
	return k, nil
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// CSV writes k as rows of metric, key and value: the EDIH reporting's
// figures, one a row.
func (k KPIs) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	row := func(metric, key string, v any) { _ = w.Write([]string{k.Scope, metric, key, fmt.Sprint(v)}) }
	_ = w.Write([]string{"scope", "metric", "key", "value"})
	row("at", "", k.At.Format(time.RFC3339))
	for _, t := range k.Targets {
		row("target", t.ID, t.Value)
		row("target_goal", t.ID, t.Target)
	}
	for _, m := range []struct {
		name string
		m    map[string]int
	}{{"customers_by_size", k.BySize}, {"customers_by_sector", k.BySector}, {"customers_by_region", k.ByRegion}, {"customers_by_service_type", k.ByServiceType}} {
		keys := make([]string, 0, len(m.m))
		for key := range m.m {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		for _, key := range keys {
			row(m.name, key, m.m[key])
		}
	}
	row("services", "", k.Services)
	row("investment_triggered_eur", "", strconv.FormatFloat(float64(k.Investment)/100, 'f', 2, 64))
	row("price_paid_eur", "", strconv.FormatFloat(float64(k.Revenue)/100, 'f', 2, 64))
	row("subsidy_eur", "", strconv.FormatFloat(float64(k.Subsidy)/100, 'f', 2, 64))
	row("collaborations", "", k.Collaborations)
	row("dma", "assessed", k.DMA.Assessed)
	row("dma", "companies_t0_t1", k.DMA.Companies)
	row("dma", "mean_t0", k.DMA.T0)
	row("dma", "mean_t1", k.DMA.T1)
	row("dma", "mean_change", k.DMA.Change)
	row("dma", "improved", k.DMA.Improved)
	for _, f := range k.Funnel {
		row("funnel", f.Step, f.Count)
	}
	row("academy", "courses", k.Academy.Courses)
	row("academy", "enrolments", k.Academy.Enrolments)
	row("academy", "completions", k.Academy.Completions)
	row("academy", "learners", k.Academy.Learners)
	w.Flush()
	return b.Bytes(), w.Error()
}

// Snapshot is a month's KPIs frozen for review.
type Snapshot struct {
	Scope   string    `json:"scope"`
	Month   string    `json:"month"` // YYYY-MM
	Created time.Time `json:"created"`
	Actor   string    `json:"actor"`
	KPIs    KPIs      `json:"kpis"`
}

// Freeze stores the KPIs of scope as they are now as month's snapshot.
// A month has one snapshot: a second is refused (409), as is a month
// that has not begun.
func (s *Service) Freeze(ctx context.Context, p api.Principal, scope, month string) (Snapshot, error) {
	m, err := time.Parse("2006-01", month)
	now := s.now().UTC()
	if err != nil || m.After(now) {
		return Snapshot{}, api.BadRequest("month: YYYY-MM, this month or earlier")
	}
	k, err := s.KPIs(ctx, scope)
	if err != nil {
		return Snapshot{}, err
	}
	body, err := json.Marshal(k)
	if err != nil {
		return Snapshot{}, err
	}
	sn := Snapshot{Scope: scope, Month: month, Created: now, Actor: p.Actor(), KPIs: k}
	err = meta.Inserted(s.db.ExecContext(ctx, `INSERT INTO prog_snapshots (scope, month, body, created, actor) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		scope, month, string(body), meta.Nanos(now), sn.Actor))
	if errors.Is(err, meta.ErrExists) {
		return Snapshot{}, fmt.Errorf("%w: the snapshot of %s for %s is frozen already", api.ErrConflict, scope, month)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot of %s for %s: %w", scope, month, err)
	}
	return sn, nil
}

// Snapshots lists scope's snapshots, newest first, without their KPIs.
func (s *Service) Snapshots(ctx context.Context, scope string) ([]Snapshot, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT month, created, actor FROM prog_snapshots WHERE scope = $1`, scope)
	if err != nil {
		return nil, fmt.Errorf("snapshots of %s: %w", scope, err)
	}
	defer rows.Close()
	out := []Snapshot{}
	for rows.Next() {
		sn := Snapshot{Scope: scope}
		var created int64
		if err := rows.Scan(&sn.Month, &created, &sn.Actor); err != nil {
			return nil, fmt.Errorf("snapshots of %s: %w", scope, err)
		}
		sn.Created = meta.Time(created).UTC()
		out = append(out, sn)
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return -strings.Compare(a.Month, b.Month) })
	return out, rows.Err()
}

// SnapshotOf returns scope's frozen snapshot of month, or meta.ErrNotFound.
func (s *Service) SnapshotOf(ctx context.Context, scope, month string) (Snapshot, error) {
	sn := Snapshot{Scope: scope, Month: month}
	var body string
	var created int64
	err := error(meta.ErrNotFound)
	if meta.Text(month) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT body, created, actor FROM prog_snapshots WHERE scope = $1 AND month = $2`, scope, month).Scan(&body, &created, &sn.Actor))
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot of %s for %s: %w", scope, month, err)
	}
	sn.Created = meta.Time(created).UTC()
	if err := json.Unmarshal([]byte(body), &sn.KPIs); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot of %s for %s: %w", scope, month, err)
	}
	return sn, nil
}
