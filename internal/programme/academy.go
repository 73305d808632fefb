package programme

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/programme/dma"
	"github.com/molen-io/molen/internal/secret"
)

// Course is a course or short module of a hub's academy (the Smart
// Makers Academy): 2 to 6 hours on one technology, for some of the DMA's
// dimensions, given by the hub or one of its fieldlabs.
type Course struct {
	ID            string   `json:"id"`
	Hub           string   `json:"hub"`
	TitleEN       string   `json:"title_en"`
	TitleNL       string   `json:"title_nl"`
	DescriptionEN string   `json:"description_en"`
	DescriptionNL string   `json:"description_nl"`
	Technology    string   `json:"technology"` // of Technologies
	Dimensions    []string `json:"dimensions"` // DMA dimension IDs
	Hours         int      `json:"hours"`      // 2–6
	Provider      string   `json:"provider"`   // the hub or one of its fieldlabs
	Modules       []string `json:"modules"`    // the course's parts, in order
	Public        bool     `json:"public"`     // in the public catalogue
}

// LearningRoute is a hub's ordered series of courses.
type LearningRoute struct {
	ID      string   `json:"id"`
	Hub     string   `json:"hub"`
	TitleEN string   `json:"title_en"`
	TitleNL string   `json:"title_nl"`
	Courses []string `json:"courses"`
}

// Enrolment is a learner's enrolment in a course of a hub, and its
// completion.
type Enrolment struct {
	ID        string    `json:"id"`
	Hub       string    `json:"hub"`
	Learner   string    `json:"learner"` // the pseudonym, lrn_…
	Name      string    `json:"name,omitempty"`
	Course    string    `json:"course"`
	Company   string    `json:"company,omitempty"` // the hub's customer the learner works for
	Enrolled  time.Time `json:"enrolled"`
	Completed time.Time `json:"completed,omitzero"`
	Actor     string    `json:"actor"`
}

// ErrLearner is an e-mail address that does not identify a learner.
var ErrLearner = errors.New("learner: a valid e-mail address")

// Dimensions are the DMA's dimension IDs, of the latest questionnaire.
func Dimensions() []string {
	q := dma.MustLoad(dma.Latest)
	out := make([]string, 0, len(q.Dimensions))
	for _, d := range q.Dimensions {
		out = append(out, d.ID)
	}
	return out
}

// normalEmail is the form of an address a learner is identified by:
// trimmed and lower case, so that Jan@X.nl and jan@x.nl are one person.
func normalEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", api.BadRequest("%v (got %.64q)", ErrLearner, email)
	}
	return e, nil
}

// learnerKey returns the instance's learner key, made on first use.
func (s *Service) learnerKey(ctx context.Context) ([]byte, error) {
	if k := s.learnerKeyCache.Load(); k != nil {
		return *k, nil
	}
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO acad_keys (hub, kid, private, public, created) VALUES ('', '', $1, '', $2) ON CONFLICT DO NOTHING`,
		base64.StdEncoding.EncodeToString(fresh), meta.Nanos(s.now())); err != nil {
		return nil, fmt.Errorf("learner key: %w", err)
	}
	var stored string
	if err := s.db.QueryRowContext(ctx, `SELECT private FROM acad_keys WHERE hub = ''`).Scan(&stored); err != nil {
		return nil, fmt.Errorf("learner key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(stored)
	if err != nil {
		return nil, fmt.Errorf("learner key: %w", err)
	}
	s.learnerKeyCache.Store(&k)
	return k, nil
}

// Learner returns the learner ID of an e-mail address: the same for
// every hub of this molen, so that a person enrolled through two hubs
// counts once; it does not reveal the address to whoever lacks the
// instance's learner key (a dictionary of addresses does not reverse it).
func (s *Service) Learner(ctx context.Context, email string) (string, error) {
	e, err := normalEmail(email)
	if err != nil {
		return "", err
	}
	k, err := s.learnerKey(ctx)
	if err != nil {
		return "", err
	}
	return learnerID(k, e), nil
}

func learnerID(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(email))
	return "lrn_" + hex.EncodeToString(m.Sum(nil)[:16])
}

// check names every problem of a course.
func (c *Course) check(provider func(string) bool) error {
	var errs []string
	if !slugRE.MatchString(c.ID) {
		errs = append(errs, "id: 1 to 40 lowercase letters, digits and '-'")
	}
	for _, f := range []struct{ name, v string }{{"title_en", c.TitleEN}, {"title_nl", c.TitleNL}} {
		if strings.TrimSpace(f.v) == "" || checkText(f.name, f.v, 200) != nil || strings.ContainsAny(f.v, "\r\n") {
			errs = append(errs, f.name+": 1 to 200 characters on one line")
		}
	}
	for _, f := range []struct{ name, v string }{{"description_en", c.DescriptionEN}, {"description_nl", c.DescriptionNL}} {
		if checkText(f.name, f.v, 4000) != nil {
			errs = append(errs, f.name+": at most 4000 characters")
		}
	}
	if !known(Technologies, c.Technology) {
		errs = append(errs, "technology: one of "+strings.Join(termIDs(Technologies), ", "))
	}
	dims := Dimensions()
	if len(c.Dimensions) == 0 {
		errs = append(errs, "dimensions: at least one of "+strings.Join(dims, ", "))
	}
	for _, d := range c.Dimensions {
		if !slices.Contains(dims, d) {
			errs = append(errs, fmt.Sprintf("dimensions: %.40q is not one of %s", d, strings.Join(dims, ", ")))
		}
	}
	if c.Hours < 2 || c.Hours > 6 {
		errs = append(errs, "hours: from 2 to 6")
	}
	if !provider(c.Provider) {
		errs = append(errs, "provider: the hub or one of its fieldlabs")
	}
	if len(c.Modules) > 20 {
		errs = append(errs, "modules: at most 20")
	}
	for i, m := range c.Modules {
		if strings.TrimSpace(m) == "" || checkText("module", m, 200) != nil {
			errs = append(errs, fmt.Sprintf("modules[%d]: 1 to 200 characters", i))
		}
	}
	if len(errs) > 0 {
		return api.BadRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

func termIDs(ts []Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// SetCourse adds or changes a course of p's hub.
func (s *Service) SetCourse(ctx context.Context, p api.Principal, c Course, addr string) (Course, error) {
	c.Hub = p.Org
	if c.Dimensions == nil {
		c.Dimensions = []string{}
	}
	if c.Modules == nil {
		c.Modules = []string{}
	}
	err := c.check(func(id string) bool {
		if id == c.Hub {
			return true
		}
		_, kind, parent, err := s.org(ctx, id)
		return err == nil && kind == "fieldlab" && parent == c.Hub
	})
	if err != nil {
		s.rejectedAcademy.WithLabelValues("course").Inc()
		return Course{}, err
	}
	dims, _ := json.Marshal(c.Dimensions)
	mods, _ := json.Marshal(c.Modules)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := theirsTx(ctx, tx, "acad_courses", "course", c.ID, c.Hub); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO acad_courses (id, hub, title_en, title_nl, description_en, description_nl, technology, dimensions, hours, provider, modules, public, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET title_en = excluded.title_en, title_nl = excluded.title_nl, description_en = excluded.description_en,
			description_nl = excluded.description_nl, technology = excluded.technology, dimensions = excluded.dimensions, hours = excluded.hours,
			provider = excluded.provider, modules = excluded.modules, public = excluded.public, updated = excluded.updated`,
			c.ID, c.Hub, c.TitleEN, c.TitleNL, c.DescriptionEN, c.DescriptionNL, c.Technology, string(dims), c.Hours, c.Provider, string(mods), boolInt(c.Public), meta.Nanos(s.now())); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: c.Hub, At: s.now(), Actor: p.Actor(), Action: "academy.course.set", Target: c.ID, Addr: addr,
			Detail: map[string]string{"technology": c.Technology, "hours": strconv.Itoa(c.Hours), "public": strconv.FormatBool(c.Public)}})
		return err
	})
	if err != nil {
		return Course{}, fmt.Errorf("course %s of %s: %w", c.ID, c.Hub, err)
	}
	return c, nil
}

const courseColumns = `id, hub, title_en, title_nl, description_en, description_nl, technology, dimensions, hours, provider, modules, public`

func scanCourse(sc interface{ Scan(...any) error }) (Course, error) {
	var c Course
	var dims, mods string
	var public int64
	if err := meta.Found(sc.Scan(&c.ID, &c.Hub, &c.TitleEN, &c.TitleNL, &c.DescriptionEN, &c.DescriptionNL, &c.Technology, &dims, &c.Hours, &c.Provider, &mods, &public)); err != nil {
		return Course{}, err
	}
	c.Public = public == 1
	if err := errors.Join(json.Unmarshal([]byte(dims), &c.Dimensions), json.Unmarshal([]byte(mods), &c.Modules)); err != nil {
		return Course{}, fmt.Errorf("course %s: %w", c.ID, err)
	}
	return c, nil
}

// Courses lists hub's courses ("" for every hub's; only the public ones
// when public), by ID.
func (s *Service) Courses(ctx context.Context, hub string, public bool) ([]Course, error) {
	q, args := `SELECT `+courseColumns+` FROM acad_courses WHERE 1 = 1`, []any{}
	if hub != "" {
		args = append(args, hub)
		q += ` AND hub = $1`
	}
	if public {
		q += ` AND public = 1`
	}
	out := []Course{}
	err := s.scan(ctx, q+` ORDER BY id`, args, func(sc func(...any) error) error {
		c, err := scanCourse(scanner(sc))
		out = append(out, c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("courses: %w", err)
	}
	return out, nil
}

// scanner makes a Scan function a row for the scan helpers.
type scanner func(...any) error

func (f scanner) Scan(dest ...any) error { return f(dest...) }

// Course returns hub's course id, or meta.ErrNotFound (also another
// hub's).
func (s *Service) Course(ctx context.Context, hub, id string) (Course, error) {
	c, err := Course{}, error(meta.ErrNotFound)
	if meta.Text(hub) && meta.Text(id) {
		c, err = scanCourse(s.db.QueryRowContext(ctx, `SELECT `+courseColumns+` FROM acad_courses WHERE hub = $1 AND id = $2`, hub, id))
	}
	if err != nil {
		return Course{}, fmt.Errorf("course %s of %s: %w", id, hub, err)
	}
	return c, nil
}

// SetRoute adds or changes a learning route of p's hub: its own courses,
// in order, each once.
func (s *Service) SetRoute(ctx context.Context, p api.Principal, r LearningRoute, addr string) (LearningRoute, error) {
	r.Hub = p.Org
	var errs []string
	if !slugRE.MatchString(r.ID) {
		errs = append(errs, "id: 1 to 40 lowercase letters, digits and '-'")
	}
	for _, f := range []struct{ name, v string }{{"title_en", r.TitleEN}, {"title_nl", r.TitleNL}} {
		if strings.TrimSpace(f.v) == "" || checkText(f.name, f.v, 200) != nil {
			errs = append(errs, f.name+": 1 to 200 characters")
		}
	}
	if len(r.Courses) == 0 || len(r.Courses) > 30 {
		errs = append(errs, "courses: 1 to 30 of the hub's courses, in order")
	}
	for i, id := range r.Courses {
		if slices.Index(r.Courses, id) != i {
			errs = append(errs, fmt.Sprintf("courses[%d]: %s twice", i, id))
		} else if _, err := s.Course(ctx, r.Hub, id); err != nil {
			errs = append(errs, fmt.Sprintf("courses[%d]: %.40q is not a course of the hub", i, id))
		}
	}
	if len(errs) > 0 {
		s.rejectedAcademy.WithLabelValues("route").Inc()
		return LearningRoute{}, api.BadRequest("%s", strings.Join(errs, "; "))
	}
	list, _ := json.Marshal(r.Courses)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := theirsTx(ctx, tx, "acad_routes", "route", r.ID, r.Hub); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO acad_routes (id, hub, title_en, title_nl, courses, updated) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET title_en = excluded.title_en, title_nl = excluded.title_nl, courses = excluded.courses, updated = excluded.updated`,
			r.ID, r.Hub, r.TitleEN, r.TitleNL, string(list), meta.Nanos(s.now())); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: r.Hub, At: s.now(), Actor: p.Actor(), Action: "academy.route.set", Target: r.ID, Addr: addr,
			Detail: map[string]string{"courses": strings.Join(r.Courses, ",")}})
		return err
	})
	if err != nil {
		return LearningRoute{}, fmt.Errorf("route %s of %s: %w", r.ID, r.Hub, err)
	}
	return r, nil
}

// theirsTx refuses (409) an id of table (acad_courses or acad_routes)
// that another hub than hub has.
func theirsTx(ctx context.Context, tx *sql.Tx, table, what, id, hub string) error {
	var owner string
	switch err := tx.QueryRowContext(ctx, `SELECT hub FROM `+table+` WHERE id = $1`, id).Scan(&owner); {
	case err == nil && owner != hub:
		return fmt.Errorf("%w: %s id %s is another hub's; choose another", api.ErrConflict, what, id)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	}
	return nil
}

// LearningRoutes lists hub's learning routes, by ID.
func (s *Service) LearningRoutes(ctx context.Context, hub string) ([]LearningRoute, error) {
	out := []LearningRoute{}
	err := s.scan(ctx, `SELECT id, hub, title_en, title_nl, courses FROM acad_routes WHERE hub = $1 ORDER BY id`, []any{hub}, func(sc func(...any) error) error {
		var r LearningRoute
		var list string
		if err := sc(&r.ID, &r.Hub, &r.TitleEN, &r.TitleNL, &list); err != nil {
			return err
		}
		out = append(out, r)
		return json.Unmarshal([]byte(list), &out[len(out)-1].Courses)
	})
	if err != nil {
		return nil, fmt.Errorf("routes of %s: %w", hub, err)
	}
	return out, nil
}

// Enrol enrols the person with email (and name) in course of p's hub,
// for the hub's customer company when it is not "". Enrolling the same
// person in the same course again returns the enrolment there is.
func (s *Service) Enrol(ctx context.Context, p api.Principal, email, name, course, company, addr string) (Enrolment, error) {
	hub := p.Org
	learner, err := s.Learner(ctx, email)
	if err != nil {
		s.rejectedAcademy.WithLabelValues("learner").Inc()
		return Enrolment{}, err
	}
	e, _ := normalEmail(email)
	if strings.TrimSpace(name) == "" || checkText("name", name, 200) != nil || strings.ContainsAny(name, "\r\n") {
		s.rejectedAcademy.WithLabelValues("learner").Inc()
		return Enrolment{}, api.BadRequest("name: 1 to 200 characters on one line")
	}
	if _, err := s.Course(ctx, hub, course); err != nil {
		s.rejectedAcademy.WithLabelValues("enrolment").Inc()
		return Enrolment{}, api.BadRequest("course: %.40q is not a course of %s", course, hub)
	}
	if company != "" {
		if _, err := s.Company(ctx, hub, company); err != nil {
			s.rejectedAcademy.WithLabelValues("enrolment").Inc()
			return Enrolment{}, api.BadRequest("company: %.40q is not a customer of %s", company, hub)
		}
	}
	now := s.now().UTC()
	en := Enrolment{ID: "enr_" + secret.New("")[:16], Hub: hub, Learner: learner, Name: name, Course: course, Company: company, Enrolled: now, Actor: p.Actor()}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO acad_learners (hub, learner, name, email, created) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (hub, learner) DO UPDATE SET name = excluded.name`, hub, learner, name, e, meta.Nanos(now)); err != nil {
			return err
		}
		err := meta.Inserted(tx.ExecContext(ctx, `INSERT INTO acad_enrolments (id, hub, learner, course, company, enrolled, completed, credential, actor)
			VALUES ($1, $2, $3, $4, $5, $6, 0, '', $7) ON CONFLICT DO NOTHING`, en.ID, hub, learner, course, company, meta.Nanos(now), en.Actor))
		if errors.Is(err, meta.ErrExists) {
			en, err = s.enrolmentTx(ctx, tx, hub, `e.learner = $2 AND e.course = $3`, learner, course)
			return err
		}
		if err != nil {
			return err
		}
		// The audit entry names the learner by pseudonym, never by address.
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: hub, At: now, Actor: en.Actor, Action: "academy.enrolled", Target: en.ID, Addr: addr,
			Detail: map[string]string{"learner": learner, "course": course, "company": company}})
		return err
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("enrol in %s of %s: %w", course, hub, err)
	}
	return en, nil
}

const enrolmentColumns = `e.id, e.hub, e.learner, l.name, e.course, e.company, e.enrolled, e.completed, e.actor`
const enrolmentFrom = ` FROM acad_enrolments e LEFT JOIN acad_learners l ON l.hub = e.hub AND l.learner = e.learner`

func scanEnrolment(sc interface{ Scan(...any) error }) (Enrolment, error) {
	var e Enrolment
	var name sql.NullString
	var enrolled, completed int64
	if err := meta.Found(sc.Scan(&e.ID, &e.Hub, &e.Learner, &name, &e.Course, &e.Company, &enrolled, &completed, &e.Actor)); err != nil {
		return Enrolment{}, err
	}
	e.Name, e.Enrolled, e.Completed = name.String, meta.Time(enrolled), meta.Time(completed)
	return e, nil
}

func (s *Service) enrolmentTx(ctx context.Context, tx *sql.Tx, hub, where string, args ...any) (Enrolment, error) {
	return scanEnrolment(tx.QueryRowContext(ctx, `SELECT `+enrolmentColumns+enrolmentFrom+` WHERE e.hub = $1 AND `+where, append([]any{hub}, args...)...))
}

// Enrolments lists hub's enrolments, of course when it is not "", newest
// first.
func (s *Service) Enrolments(ctx context.Context, hub, course string) ([]Enrolment, error) {
	q, args := `SELECT `+enrolmentColumns+enrolmentFrom+` WHERE e.hub = $1`, []any{hub}
	if course != "" {
		q, args = q+` AND e.course = $2`, append(args, course)
	}
	out := []Enrolment{}
	err := s.scan(ctx, q+` ORDER BY e.enrolled DESC, e.id`, args, func(sc func(...any) error) error {
		e, err := scanEnrolment(scanner(sc))
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("enrolments of %s: %w", hub, err)
	}
	return out, nil
}

// Complete records that the learner of p's hub's enrolment id completed
// its course on day (YYYY-MM-DD, not in the future; "" is today), and
// issues the credential.
func (s *Service) Complete(ctx context.Context, p api.Principal, id, day, addr string) (Enrolment, string, error) {
	hub, now := p.Org, s.now().UTC()
	at := now
	if day != "" {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil || d.After(now) {
			s.rejectedAcademy.WithLabelValues("completion").Inc()
			return Enrolment{}, "", api.BadRequest("day: a date, YYYY-MM-DD, today or earlier")
		}
		at = d.Add(12 * time.Hour)
		if at.After(now) {
			at = now
		}
	}
	var en Enrolment
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if en, err = s.enrolmentTx(ctx, tx, hub, `e.id = $2`, id); err != nil {
			return err
		}
		if !en.Completed.IsZero() {
			return nil // completed already: the same answer
		}
		if at.Before(en.Enrolled.Truncate(24 * time.Hour)) {
			s.rejectedAcademy.WithLabelValues("completion").Inc()
			return api.BadRequest("day: before the enrolment (%s)", en.Enrolled.Format(time.DateOnly))
		}
		en.Completed = at
		if _, err := tx.ExecContext(ctx, `UPDATE acad_enrolments SET completed = $1 WHERE id = $2`, meta.Nanos(at), id); err != nil {
			return err
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: hub, At: now, Actor: p.Actor(), Action: "academy.completed", Target: id, Addr: addr,
			Detail: map[string]string{"learner": en.Learner, "course": en.Course, "day": at.Format(time.DateOnly)}})
		return err
	})
	if err != nil {
		return Enrolment{}, "", fmt.Errorf("completion of %s: %w", id, err)
	}
	cred, err := s.Credential(ctx, hub, id)
	if err != nil {
		return Enrolment{}, "", err
	}
	return en, cred, nil
}

// Completion is one completion to import (Import).
type Completion struct {
	Email, Name, Course, Company string
	Enrolled, Completed          time.Time // Completed zero: enrolled only
}

// Import stores many enrolments and completions of hub at once (from a
// learning platform's export, or the synthetic programme), checked as
// Enrol and Complete check them, in one transaction with one audit entry.
// Credentials are issued when first asked for. A row that is refused
// refuses the whole import, naming the row.
func (s *Service) Import(ctx context.Context, p api.Principal, rows []Completion, addr string) (int, error) {
	hub, now := p.Org, s.now().UTC()
	key, err := s.learnerKey(ctx)
	if err != nil {
		return 0, err
	}
	courses, err := s.Courses(ctx, hub, false)
	if err != nil {
		return 0, err
	}
	own := map[string]bool{}
	for _, c := range courses {
		own[c.ID] = true
	}
	companies := map[string]bool{}
	list, err := s.Companies(ctx, hub)
	if err != nil {
		return 0, err
	}
	for _, c := range list {
		companies[c.Org] = true
	}
	learners := make([]string, len(rows))
	emails := make([]string, len(rows))
	for i, r := range rows {
		e, err := normalEmail(r.Email)
		switch {
		case err != nil:
		case strings.TrimSpace(r.Name) == "" || checkText("name", r.Name, 200) != nil:
			err = api.BadRequest("name: 1 to 200 characters")
		case !own[r.Course]:
			err = api.BadRequest("course: %.40q is not a course of %s", r.Course, hub)
		case r.Company != "" && !companies[r.Company]:
			err = api.BadRequest("company: %.40q is not a customer of %s", r.Company, hub)
		case r.Enrolled.IsZero() || r.Enrolled.After(now) || !r.Completed.IsZero() && (r.Completed.Before(r.Enrolled) || r.Completed.After(now)):
			err = api.BadRequest("dates: enrolled not in the future, completed between it and now")
		}
		if err != nil {
			s.rejectedAcademy.WithLabelValues("import").Inc()
			return 0, fmt.Errorf("row %d: %w", i+1, err)
		}
		emails[i], learners[i] = e, learnerID(key, e)
	}
	n := 0
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		learner, err := tx.PrepareContext(ctx, `INSERT INTO acad_learners (hub, learner, name, email, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hub, learner) DO NOTHING`)
		if err != nil {
			return err
		}
		defer learner.Close()
		enrol, err := tx.PrepareContext(ctx, `INSERT INTO acad_enrolments (id, hub, learner, course, company, enrolled, completed, credential, actor)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer enrol.Close()
		for i, r := range rows {
			if _, err := learner.ExecContext(ctx, hub, learners[i], r.Name, emails[i], meta.Nanos(r.Enrolled)); err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
			res, err := enrol.ExecContext(ctx, "enr_"+secret.New("")[:16], hub, learners[i], r.Course, r.Company, meta.Nanos(r.Enrolled), meta.Nanos(r.Completed), p.Actor())
			if err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: hub, At: now, Actor: p.Actor(), Action: "academy.imported", Addr: addr,
			Detail: map[string]string{"rows": strconv.Itoa(len(rows)), "stored": strconv.Itoa(n)}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("import into %s: %w", hub, err)
	}
	return n, nil
}

// EraseLearner removes what p's hub keeps of learner: their name and
// address and their enrolments and completions at the hub (a person's
// right to erasure; other hubs' records are theirs to erase). Credentials
// already issued stay valid: the person holds them. Frozen snapshots keep
// the counts they froze. Another hub's learner, or one the hub never
// enrolled, is meta.ErrNotFound.
func (s *Service) EraseLearner(ctx context.Context, p api.Principal, learner, addr string) (int, error) {
	hub := p.Org
	n := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := meta.Changed(tx.ExecContext(ctx, `DELETE FROM acad_learners WHERE hub = $1 AND learner = $2`, hub, learner)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM acad_enrolments WHERE hub = $1 AND learner = $2`, hub, learner)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		n = int(k)
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: hub, At: s.now(), Actor: p.Actor(), Action: "academy.learner.erased", Target: learner, Addr: addr,
			Detail: map[string]string{"enrolments": strconv.Itoa(n)}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("erase learner %.40s of %s: %w", learner, hub, err)
	}
	return n, nil
}

// Passport is a person's skills passport: their completions across every
// hub, each with the credential its hub signed.
type Passport struct {
	Learner     string          `json:"learner"`
	Completions []PassportEntry `json:"completions"`
	Hours       int             `json:"hours"`
}

// PassportEntry is one completion in a passport.
type PassportEntry struct {
	Course     Course    `json:"course"`
	Enrolment  string    `json:"enrolment"`
	Completed  time.Time `json:"completed"`
	Credential string    `json:"credential"` // vc+jwt
}

// PassportOf returns the skills passport of the person with email.
func (s *Service) PassportOf(ctx context.Context, email string) (Passport, error) {
	learner, err := s.Learner(ctx, email)
	if err != nil {
		return Passport{}, err
	}
	pp := Passport{Learner: learner, Completions: []PassportEntry{}}
	type ref struct{ hub, id, course string }
	var refs []ref
	var at []time.Time
	err = s.scan(ctx, `SELECT hub, id, course, completed FROM acad_enrolments WHERE learner = $1 AND completed <> 0 ORDER BY completed, id`, []any{learner},
		func(sc func(...any) error) error {
			var r ref
			var completed int64
			if err := sc(&r.hub, &r.id, &r.course, &completed); err != nil {
				return err
			}
			refs, at = append(refs, r), append(at, meta.Time(completed))
			return nil
		})
	if err != nil {
		return Passport{}, fmt.Errorf("passport: %w", err)
	}
	for i, r := range refs {
		c, err := s.Course(ctx, r.hub, r.course)
		if err != nil {
			return Passport{}, err
		}
		cred, err := s.Credential(ctx, r.hub, r.id)
		if err != nil {
			return Passport{}, err
		}
		pp.Completions = append(pp.Completions, PassportEntry{Course: c, Enrolment: r.id, Completed: at[i], Credential: cred})
		pp.Hours += c.Hours
	}
	return pp, nil
}

// AcademyFigures are the academy's part of the KPIs.
type AcademyFigures struct {
	Courses     int `json:"courses"`
	Enrolments  int `json:"enrolments"`
	Completions int `json:"completions"`
	// Learners are the distinct people with at least one completion:
	// the people upskilled of the hubs with academy records.
	Learners int `json:"learners"`
	// Hubs are the hubs with academy records (whose service records'
	// skills people the academy replaces).
	Hubs []string `json:"hubs"`
}

// academyFigures counts the academy's figures of hub ("" for every hub's).
func (s *Service) academyFigures(ctx context.Context, hub string) (AcademyFigures, error) {
	f := AcademyFigures{Hubs: []string{}}
	where, args := "", []any{}
	if hub != "" {
		where, args = " WHERE hub = $1", []any{hub}
	}
	and := " WHERE completed <> 0"
	if hub != "" {
		and = " AND completed <> 0"
	}
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM acad_courses`+where+`), (SELECT COUNT(*) FROM acad_enrolments`+where+`),
		(SELECT COUNT(*) FROM acad_enrolments`+where+and+`), (SELECT COUNT(DISTINCT learner) FROM acad_enrolments`+where+and+`)`, args...).
		Scan(&f.Courses, &f.Enrolments, &f.Completions, &f.Learners)
	if err != nil {
		return f, fmt.Errorf("academy figures: %w", err)
	}
	err = s.scan(ctx, `SELECT DISTINCT hub FROM acad_enrolments`+where+and+` ORDER BY hub`, args, func(sc func(...any) error) error {
		var h string
		if err := sc(&h); err != nil {
			return err
		}
		f.Hubs = append(f.Hubs, h)
		return nil
	})
	return f, err
}
