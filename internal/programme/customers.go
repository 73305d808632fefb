package programme

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

// Size classes of a company by its employees.
const (
	SizeSmall  = "0-49"
	SizeMedium = "50-249"
	SizeLarge  = "250+"
)

// Sizes are the size classes, smallest first.
var Sizes = []string{SizeSmall, SizeMedium, SizeLarge}

// Company is a hub's customer: a company organisation's profile.
type Company struct {
	Org          string    `json:"org"`
	Hub          string    `json:"hub"`
	Name         string    `json:"name"`
	KvK          string    `json:"kvk"` // chamber of commerce number, 8 digits
	VAT          string    `json:"vat"` // NL VAT number, NL000000000B00
	Size         string    `json:"size"`
	NACE         string    `json:"nace"` // section letter and division: C25
	NUTS         string    `json:"nuts"` // NUTS 2021 level 2
	ContactName  string    `json:"contact_name"`
	ContactEmail string    `json:"contact_email"`
	Consent      bool      `json:"consent"` // to be a customer and be reported on
	Reached      time.Time `json:"reached"`
	Registered   time.Time `json:"registered,omitzero"` // zero: reached only
}

var (
	kvkRE  = regexp.MustCompile(`^[0-9]{8}$`)
	vatRE  = regexp.MustCompile(`^NL[0-9]{9}B[0-9]{2}$`)
	naceRE = regexp.MustCompile(`^[A-U]([0-9]{2})?$`)
	slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
)

// check names every problem of a profile.
func (c *Company) check() error {
	var errs []string
	if !slugRE.MatchString(c.Org) {
		errs = append(errs, "org: 1 to 40 lowercase letters, digits and '-'")
	}
	if strings.TrimSpace(c.Name) == "" || checkText("name", c.Name, 200) != nil || strings.ContainsAny(c.Name, "\r\n") {
		errs = append(errs, "name: 1 to 200 characters on one line")
	}
	if !kvkRE.MatchString(c.KvK) {
		errs = append(errs, "kvk: the chamber of commerce number has 8 digits")
	}
	if c.VAT != "" && !vatRE.MatchString(c.VAT) {
		errs = append(errs, "vat: a Dutch VAT number, NL123456789B01")
	}
	if !slices.Contains(Sizes, c.Size) {
		errs = append(errs, "size: want 0-49, 50-249 or 250+")
	}
	if !naceRE.MatchString(c.NACE) {
		errs = append(errs, "nace: a NACE section letter with an optional division (C or C25)")
	}
	if !known(Regions, c.NUTS) {
		errs = append(errs, "nuts: a Dutch NUTS 2021 level-2 region (NL11 … NL42)")
	}
	if checkText("contact_name", c.ContactName, 200) != nil {
		errs = append(errs, "contact_name: at most 200 characters")
	}
	if c.ContactEmail != "" {
		if a, err := mail.ParseAddress(c.ContactEmail); err != nil || a.Address != c.ContactEmail || len(c.ContactEmail) > 254 {
			errs = append(errs, "contact_email: an e-mail address")
		}
	}
	if len(errs) > 0 {
		return api.BadRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

// ErrDuplicate is a company whose chamber of commerce number is known
// already.
var ErrDuplicate = fmt.Errorf("%w: duplicate company", api.ErrConflict)

// Register makes c a customer of p's hub, reached at c.Reached and
// registered at c.Registered (zero: now; none without consent): the company organisation c.Org is
// made below the hub, or, when it exists, must be a company of this hub
// without a profile yet. A chamber of commerce number the programme knows
// is refused (409) naming the hub that has it when it is the caller's,
// else without naming it. Recorded in the hub's audit log.
func (s *Service) Register(ctx context.Context, p api.Principal, c Company, addr string) (Company, error) {
	if err := c.check(); err != nil {
		s.rejectedCompanies.WithLabelValues("invalid").Inc()
		return Company{}, err
	}
	c.Hub, c.Name = p.Org, strings.TrimSpace(c.Name)
	now := s.now()
	if c.Reached.IsZero() {
		c.Reached = now
	}
	switch {
	case !c.Consent:
		c.Registered = time.Time{}
	case c.Registered.IsZero():
		c.Registered = now
	}
	// The organisation: new, or a company of this hub (looked up before
	// the transaction, which the tree's own queries are not part of).
	_, kind, _, err := s.org(ctx, c.Org)
	exists := err == nil
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return Company{}, err
	}
	if exists {
		h, err := s.hubOf(ctx, c.Org)
		if err != nil {
			return Company{}, err
		}
		if kind != "company" || h != c.Hub {
			s.rejectedCompanies.WithLabelValues("duplicate").Inc()
			return Company{}, fmt.Errorf("%w: the id %s is taken; choose another", ErrDuplicate, c.Org)
		}
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var other, hub string
		err := tx.QueryRowContext(ctx, `SELECT org, hub FROM prog_companies WHERE kvk = $1 OR org = $2`, c.KvK, c.Org).Scan(&other, &hub)
		switch {
		case err == nil && hub == c.Hub:
			s.rejectedCompanies.WithLabelValues("duplicate").Inc()
			return fmt.Errorf("%w: kvk %s or id %s: already a customer (%s)", ErrDuplicate, c.KvK, c.Org, other)
		case err == nil:
			s.rejectedCompanies.WithLabelValues("duplicate").Inc()
			return fmt.Errorf("%w: kvk %s or id %s: already registered in the programme by another hub; ask the programme office", ErrDuplicate, c.KvK, c.Org)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if !exists {
			if err := s.orgs.CreateOrgTx(ctx, tx, c.Org, c.Name, "company", c.Hub); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO prog_companies (`+companyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			c.Org, c.Hub, c.Name, c.KvK, c.VAT, c.Size, c.NACE, c.NUTS, c.ContactName, c.ContactEmail, boolInt(c.Consent), meta.Nanos(c.Reached), meta.Nanos(c.Registered)); err != nil {
			if meta.Unique(err) {
				return fmt.Errorf("%w: kvk %s: registered at the same moment", ErrDuplicate, c.KvK)
			}
			return err
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: c.Hub, At: now, Actor: p.Actor(), Action: "programme.customer.registered", Target: c.Org, Addr: addr,
			Detail: map[string]string{"kvk": c.KvK, "size": c.Size, "nuts": c.NUTS}})
		return err
	})
	if err != nil {
		return Company{}, fmt.Errorf("register %s with %s: %w", c.Org, c.Hub, err)
	}
	return c, nil
}

const companyColumns = `org, hub, name, kvk, vat, size, nace, nuts, contact_name, contact_email, consent, reached, registered`

func scanCompany(sc interface{ Scan(...any) error }) (Company, error) {
	var c Company
	var consent, reached, registered int64
	if err := meta.Found(sc.Scan(&c.Org, &c.Hub, &c.Name, &c.KvK, &c.VAT, &c.Size, &c.NACE, &c.NUTS, &c.ContactName, &c.ContactEmail, &consent, &reached, &registered)); err != nil {
		return Company{}, err
	}
	c.Consent, c.Reached = consent == 1, meta.Time(reached).UTC()
	if registered != 0 {
		c.Registered = meta.Time(registered).UTC()
	}
	return c, nil
}

// Companies lists hub's customers ("" for every hub's), by ID.
func (s *Service) Companies(ctx context.Context, hub string) ([]Company, error) {
	q, args := `SELECT `+companyColumns+` FROM prog_companies`, []any{}
	if hub != "" {
		q, args = q+` WHERE hub = $1`, append(args, hub)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("companies: %w", err)
	}
	defer rows.Close()
	var out []Company
	for rows.Next() {
		c, err := scanCompany(rows)
		if err != nil {
			return nil, fmt.Errorf("companies: %w", err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Company) int { return strings.Compare(a.Org, b.Org) })
	return out, rows.Err()
}

// Company returns hub's customer org, or meta.ErrNotFound (also for
// another hub's customer).
func (s *Service) Company(ctx context.Context, hub, org string) (Company, error) {
	c, err := Company{}, error(meta.ErrNotFound)
	if meta.Text(hub) && meta.Text(org) {
		c, err = scanCompany(s.db.QueryRowContext(ctx, `SELECT `+companyColumns+` FROM prog_companies WHERE hub = $1 AND org = $2`, hub, org))
	}
	if err != nil {
		return Company{}, fmt.Errorf("customer %s of %s: %w", org, hub, err)
	}
	return c, nil
}

// ServiceRecord is a service a hub delivered to a customer. Money is in
// euro cents.
type ServiceRecord struct {
	ID       string `json:"id"`
	Hub      string `json:"hub"`
	Company  string `json:"company"`
	Type     string `json:"type"`
	Day      string `json:"day"`      // YYYY-MM-DD
	Provider string `json:"provider"` // a fieldlab's ID or a partner's name
	// ProviderName is the provider organisation's name, in a report.
	ProviderName string    `json:"provider_name,omitempty"`
	Price        int64     `json:"price"`
	MarketPrice  int64     `json:"market_price"`
	Subsidy      int64     `json:"subsidy"`
	Investment   int64     `json:"investment"` // investment it triggered
	People       int64     `json:"people"`     // people of the company it reached
	Description  string    `json:"description"`
	Created      time.Time `json:"created"`
	Actor        string    `json:"actor"`
}

func euros(cents int64) string { return fmt.Sprintf("€%d.%02d", cents/100, cents%100) }

// ErrMarketPrice is a large company offered less than the market price.
var ErrMarketPrice = errors.New("large companies pay the market price")

// Record stores a service hub delivered to its customer r.Company. Large
// companies (250+) pay the market price: a lower price or a subsidy is
// refused with ErrMarketPrice.
func (s *Service) Record(ctx context.Context, p api.Principal, r ServiceRecord, addr string) (ServiceRecord, error) {
	c, err := s.Company(ctx, p.Org, r.Company)
	if err != nil {
		return ServiceRecord{}, err
	}
	var errs []string
	if !known(ServiceTypes, r.Type) {
		errs = append(errs, "type: want test-before-invest, skills, investment or ecosystem")
	}
	if _, err := time.Parse(time.DateOnly, r.Day); err != nil {
		errs = append(errs, "day: a date, YYYY-MM-DD")
	}
	if strings.TrimSpace(r.Provider) == "" || checkText("provider", r.Provider, 200) != nil {
		errs = append(errs, "provider: the delivering fieldlab's ID or the partner's name, 1 to 200 characters")
	}
	for _, m := range []struct {
		name string
		v    int64
	}{{"price", r.Price}, {"market_price", r.MarketPrice}, {"subsidy", r.Subsidy}, {"investment", r.Investment}, {"people", r.People}} {
		if m.v < 0 || m.v > 1e12 {
			errs = append(errs, m.name+": from 0 to 10,000,000,000 (euro cents; people a count)")
		}
	}
	if r.Price > r.MarketPrice {
		errs = append(errs, "price: above the market price")
	}
	if checkText("description", r.Description, 2000) != nil {
		errs = append(errs, "description: at most 2000 characters")
	}
	if len(errs) > 0 {
		s.rejectedServices.WithLabelValues("invalid").Inc()
		return ServiceRecord{}, api.BadRequest("%s", strings.Join(errs, "; "))
	}
	if c.Size == SizeLarge && (r.Price < r.MarketPrice || r.Subsidy > 0) {
		s.rejectedServices.WithLabelValues("market_price").Inc()
		return ServiceRecord{}, api.BadRequest("%v: %s has 250 or more employees, so the price must be the market price %s without subsidy (asked %s with %s subsidy)",
			ErrMarketPrice, c.Name, euros(r.MarketPrice), euros(r.Price), euros(r.Subsidy))
	}
	r.ID, r.Hub, r.Created, r.Actor = "svc_"+secret.New("")[:16], p.Org, s.now().UTC(), p.Actor()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO prog_services (`+serviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			r.ID, r.Hub, r.Company, r.Type, r.Day, r.Provider, r.Price, r.MarketPrice, r.Subsidy, r.Investment, r.People, r.Description, meta.Nanos(r.Created), r.Actor); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: r.Hub, At: r.Created, Actor: r.Actor, Action: "programme.service.recorded", Target: r.ID, Addr: addr,
			Detail: map[string]string{"company": r.Company, "type": r.Type, "price": euros(r.Price)}})
		return err
	})
	if err != nil {
		return ServiceRecord{}, fmt.Errorf("service for %s: %w", r.Company, err)
	}
	return r, nil
}

const serviceColumns = `id, hub, company, type, day, provider, price, market_price, subsidy, investment, people, description, created, actor`

// Services lists hub's services ("" for every hub's), of company when it
// is not "", by day.
func (s *Service) Services(ctx context.Context, hub, company string) ([]ServiceRecord, error) {
	q, args := `SELECT `+serviceColumns+` FROM prog_services WHERE 1 = 1`, []any{}
	if hub != "" {
		args = append(args, hub)
		q += fmt.Sprintf(` AND hub = $%d`, len(args))
	}
	if company != "" {
		args = append(args, company)
		q += fmt.Sprintf(` AND company = $%d`, len(args))
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	defer rows.Close()
	var out []ServiceRecord
	for rows.Next() {
		var r ServiceRecord
		var created int64
		if err := rows.Scan(&r.ID, &r.Hub, &r.Company, &r.Type, &r.Day, &r.Provider, &r.Price, &r.MarketPrice, &r.Subsidy, &r.Investment, &r.People, &r.Description, &created, &r.Actor); err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
		r.Created = meta.Time(created).UTC()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ServiceRecord) int { return strings.Compare(a.Day+a.ID, b.Day+b.ID) })
	return out, rows.Err()
}

// Collaboration is a hub's work with another hub.
type Collaboration struct {
	ID      string `json:"id"`
	Hub     string `json:"hub"`
	Partner string `json:"partner"` // the other hub
	Company string `json:"company,omitempty"`
	Topic   string `json:"topic"`
	Day     string `json:"day"`
}

// Collaborate records a collaboration of p's hub with another hub.
func (s *Service) Collaborate(ctx context.Context, p api.Principal, c Collaboration) (Collaboration, error) {
	_, kind, _, err := s.org(ctx, c.Partner)
	if err != nil || kind != "hub" || c.Partner == p.Org {
		return Collaboration{}, api.BadRequest("partner: another hub's ID")
	}
	if c.Company != "" {
		if _, err := s.Company(ctx, p.Org, c.Company); err != nil {
			return Collaboration{}, err
		}
	}
	if _, err := time.Parse(time.DateOnly, c.Day); err != nil {
		return Collaboration{}, api.BadRequest("day: a date, YYYY-MM-DD")
	}
	if strings.TrimSpace(c.Topic) == "" || checkText("topic", c.Topic, 300) != nil {
		return Collaboration{}, api.BadRequest("topic: 1 to 300 characters")
	}
	c.ID, c.Hub = "col_"+secret.New("")[:16], p.Org
	if _, err := s.db.ExecContext(ctx, `INSERT INTO prog_collaborations (id, hub, partner, company, topic, day, created) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.Hub, c.Partner, c.Company, c.Topic, c.Day, meta.Nanos(s.now())); err != nil {
		return Collaboration{}, fmt.Errorf("collaboration of %s: %w", c.Hub, err)
	}
	return c, nil
}

// Collaborations lists hub's collaborations ("" for every hub's).
func (s *Service) Collaborations(ctx context.Context, hub string) ([]Collaboration, error) {
	q, args := `SELECT id, hub, partner, company, topic, day FROM prog_collaborations`, []any{}
	if hub != "" {
		q, args = q+` WHERE hub = $1`, append(args, hub)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("collaborations: %w", err)
	}
	defer rows.Close()
	var out []Collaboration
	for rows.Next() {
		var c Collaboration
		if err := rows.Scan(&c.ID, &c.Hub, &c.Partner, &c.Company, &c.Topic, &c.Day); err != nil {
			return nil, fmt.Errorf("collaborations: %w", err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Collaboration) int { return strings.Compare(a.Day+a.ID, b.Day+b.ID) })
	return out, rows.Err()
}
