package programme

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
)

// The kinds of library entry.
const (
	KindUseCase = "use-case" // what a fieldlab did with a company
	KindLesson  = "lesson"   // a lesson learned
)

// Entry is a use case or a lesson learned in the knowledge library,
// written by a hub's or fieldlab's staff and shared with every hub.
type Entry struct {
	ID           string    `json:"id"`
	Hub          string    `json:"hub"`
	Author       string    `json:"author"` // the hub or one of its fieldlabs
	Kind         string    `json:"kind"`
	TitleEN      string    `json:"title_en"`
	TitleNL      string    `json:"title_nl"`
	BodyEN       string    `json:"body_en"`
	BodyNL       string    `json:"body_nl"`
	Technologies []string  `json:"technologies"`
	Sectors      []string  `json:"sectors"` // NACE sections or divisions: C, C25
	Public       bool      `json:"public"`
	Updated      time.Time `json:"updated"`
	// HubName and AuthorName name the hub and the author, in a listing.
	HubName    string `json:"hub_name,omitempty"`
	AuthorName string `json:"author_name,omitempty"`
}

// LibraryFilter narrows the library: words to find (all of them, in
// either language), a technology, a NACE section or division, a kind,
// the hub that shared it.
type LibraryFilter struct {
	Q, Technology, Sector, Kind, Hub string
}

var entryIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,79}$`)

func (e *Entry) check() error {
	var errs []string
	if !entryIDRE.MatchString(e.ID) {
		errs = append(errs, "id: 1 to 80 lowercase letters, digits and '-'")
	}
	if e.Kind != KindUseCase && e.Kind != KindLesson {
		errs = append(errs, "kind: want use-case or lesson")
	}
	for _, f := range []struct {
		name, v string
		n       int
	}{{"title_en", e.TitleEN, 200}, {"title_nl", e.TitleNL, 200}, {"body_en", e.BodyEN, 20000}, {"body_nl", e.BodyNL, 20000}} {
		if strings.TrimSpace(f.v) == "" || checkText(f.name, f.v, f.n) != nil {
			errs = append(errs, fmt.Sprintf("%s: 1 to %d characters", f.name, f.n))
		}
	}
	if err := checkTerms("technologies", Technologies, e.Technologies); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), api.ErrBadRequest.Error()+": "))
	}
	if len(e.Technologies) == 0 {
		errs = append(errs, "technologies: at least one")
	}
	for _, s := range e.Sectors {
		if !naceRE.MatchString(s) {
			errs = append(errs, fmt.Sprintf("sectors: %.10q is not a NACE section or division (C or C25)", s))
		}
	}
	if len(e.Sectors) > 20 || len(e.Technologies) > 20 {
		errs = append(errs, "technologies, sectors: at most 20 each")
	}
	if len(errs) > 0 {
		return api.BadRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

// authorHub is the hub p writes for: its own hub, or its fieldlab's.
func (s *Service) authorHub(ctx context.Context, p api.Principal) (string, error) {
	switch {
	case p.Via != "":
	case p.OrgKind == "hub":
		return p.Org, nil
	case p.OrgKind == "fieldlab":
		h, err := s.hubOf(ctx, p.Org)
		if err != nil {
			return "", err
		}
		if h != "" {
			return h, nil
		}
	}
	return "", fmt.Errorf("%w: the library is written by hubs and fieldlabs; organisation %s is a %s", api.ErrForbidden, p.Org, p.OrgKind)
}

// SetEntry adds or changes an entry written by p's hub or fieldlab. An ID
// another hub uses is refused (409); a fieldlab changes only its own
// entries, its hub any of the hub's. The programme office's admins
// curate: they change (correct, publish, withdraw) any hub's entry, which
// stays its hub's and its author's, and write none of their own (404 for
// an ID no hub uses). Recorded in the entry's hub's audit log.
func (s *Service) SetEntry(ctx context.Context, p api.Principal, e Entry, addr string) (Entry, error) {
	curate := p.OrgKind == "platform" && p.Via == ""
	var hub string
	var err error
	switch {
	case curate && p.Role.Rank() < api.RoleAdmin.Rank():
		return Entry{}, fmt.Errorf("%w: the programme office's admins curate the library", api.ErrForbidden)
	case !curate:
		if hub, err = s.authorHub(ctx, p); err != nil {
			return Entry{}, err
		}
	}
	if err := e.check(); err != nil {
		s.rejectedAcademy.WithLabelValues("library").Inc()
		return Entry{}, err
	}
	e.Hub, e.Author, e.Updated = hub, p.Org, s.now().UTC()
	slices.Sort(e.Technologies)
	if e.Sectors == nil {
		e.Sectors = []string{}
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var oldHub, oldAuthor string
		switch err := tx.QueryRowContext(ctx, `SELECT hub, author FROM prog_library WHERE id = $1`, e.ID).Scan(&oldHub, &oldAuthor); {
		case err == sql.ErrNoRows && curate:
			return fmt.Errorf("%w: no entry %s; the hubs and fieldlabs write the entries, the programme office curates them", meta.ErrNotFound, e.ID)
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		case curate:
			e.Hub, e.Author = oldHub, oldAuthor
		case oldHub != hub || (p.OrgKind == "fieldlab" && oldAuthor != p.Org):
			return fmt.Errorf("%w: the id %s is taken; choose another", api.ErrConflict, e.ID)
		case p.OrgKind == "hub":
			e.Author = oldAuthor // the hub edits its fieldlab's entry, which stays its fieldlab's
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO prog_library (id, hub, author, kind, title_en, title_nl, body_en, body_nl, technologies, sectors, public, updated, actor)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET author = excluded.author, kind = excluded.kind, title_en = excluded.title_en, title_nl = excluded.title_nl,
			body_en = excluded.body_en, body_nl = excluded.body_nl, technologies = excluded.technologies, sectors = excluded.sectors,
			public = excluded.public, updated = excluded.updated, actor = excluded.actor`,
			e.ID, e.Hub, e.Author, e.Kind, e.TitleEN, e.TitleNL, e.BodyEN, e.BodyNL, jsonList(e.Technologies), jsonList(e.Sectors),
			boolInt(e.Public), meta.Nanos(e.Updated), p.Actor()); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: e.Hub, At: e.Updated, Actor: p.Actor(), ActorOrg: p.Org, Action: "library.entry.set", Target: e.ID, Addr: addr,
			Detail: map[string]string{"kind": e.Kind, "public": fmt.Sprint(e.Public)}})
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("library entry %s: %w", e.ID, err)
	}
	return e, nil
}

// Library finds the entries matching f, the most recently updated first:
// every hub's, or only the public ones.
func (s *Service) Library(ctx context.Context, f LibraryFilter, publicOnly bool) ([]Entry, error) {
	if f.Technology != "" && !known(Technologies, f.Technology) {
		return nil, checkTerms("technology", Technologies, []string{f.Technology})
	}
	if f.Sector != "" && !naceRE.MatchString(f.Sector) {
		return nil, api.BadRequest("sector: a NACE section or division (C or C25)")
	}
	if f.Kind != "" && f.Kind != KindUseCase && f.Kind != KindLesson {
		return nil, api.BadRequest("kind: want use-case or lesson")
	}
	words := strings.Fields(strings.ToLower(f.Q))
	q := `SELECT id, hub, author, kind, title_en, title_nl, body_en, body_nl, technologies, sectors, public, updated FROM prog_library`
	if publicOnly {
		q += ` WHERE public = 1`
	}
	out := []Entry{}
	err := s.scan(ctx, q, nil, func(sc func(...any) error) error {
		var e Entry
		var tech, sectors string
		var public, updated int64
		if err := sc(&e.ID, &e.Hub, &e.Author, &e.Kind, &e.TitleEN, &e.TitleNL, &e.BodyEN, &e.BodyNL, &tech, &sectors, &public, &updated); err != nil {
			return err
		}
		e.Technologies, e.Sectors, e.Public, e.Updated = parseList(tech), parseList(sectors), public == 1, meta.Time(updated).UTC()
		switch {
		case f.Kind != "" && e.Kind != f.Kind,
			f.Hub != "" && e.Hub != f.Hub,
			f.Technology != "" && !slices.Contains(e.Technologies, f.Technology),
			f.Sector != "" && !slices.ContainsFunc(e.Sectors, func(s string) bool { return strings.HasPrefix(s, f.Sector) || strings.HasPrefix(f.Sector, s) }):
			return nil
		}
		text := strings.ToLower(e.TitleEN + " " + e.TitleNL + " " + e.BodyEN + " " + e.BodyNL)
		for _, w := range words {
			if !strings.Contains(text, w) {
				return nil
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Or(b.Updated.Compare(a.Updated), strings.Compare(a.ID, b.ID)) })
	names := map[string]string{}
	for i, e := range out {
		for _, id := range []string{e.Hub, e.Author} {
			if err := s.nameOrg(ctx, names, id); err != nil {
				return nil, fmt.Errorf("library: %w", err)
			}
		}
		out[i].HubName, out[i].AuthorName = cmp.Or(names[e.Hub], e.Hub), cmp.Or(names[e.Author], e.Author)
	}
	return out, nil
}

func libraryFilter(r *http.Request) LibraryFilter {
	q := r.URL.Query()
	return LibraryFilter{Q: q.Get("q"), Technology: q.Get("technology"), Sector: q.Get("sector"), Kind: q.Get("kind"), Hub: q.Get("hub")}
}

// listLibrary is the whole library, for the staff of every hub and
// fieldlab and the programme office.
func (s *Service) listLibrary(r *http.Request, p api.Principal) (any, error) {
	if p.Via != "" || !slices.Contains([]string{"hub", "fieldlab", "platform"}, p.OrgKind) {
		return nil, fmt.Errorf("%w: the library is the hubs'; organisation %s is a %s (its public entries are in the catalogue)", api.ErrForbidden, p.Org, p.OrgKind)
	}
	list, err := s.Library(r.Context(), libraryFilter(r), false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": list}, nil
}

// publicLibrary is the library's public entries, for anyone.
func (s *Service) publicLibrary(r *http.Request, _ api.Principal) (any, error) {
	list, err := s.Library(r.Context(), libraryFilter(r), true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": list}, nil
}

func (s *Service) putEntry(r *http.Request, p api.Principal) (any, error) {
	var e Entry
	if err := api.ReadJSON(r, &e, `body must be {"kind": "use-case|lesson", "title_en": "…", "title_nl": "…", "body_en": "…", "body_nl": "…", "technologies": ["iot"], "sectors": ["C25"], "public": true}`); err != nil {
		return nil, err
	}
	e.ID = r.PathValue("entry")
	out, err := s.SetEntry(r.Context(), p, e, api.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"entry": out}, nil
}
