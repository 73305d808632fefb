package market

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/svcpack"
)

// Listing is a service as the catalogue shows it: what its newest
// version (released, or any for its provider) says, and its versions.
type Listing struct {
	ID          string            `json:"id"`
	Provider    string            `json:"provider"`
	Name        map[string]string `json:"name"` // by language: en, nl
	Description map[string]string `json:"description"`
	Tagline     map[string]string `json:"tagline"`
	Category    string            `json:"category"`
	Maturity    []string          `json:"maturity"`
	Tags        []string          `json:"tags"`
	Site        string            `json:"site,omitempty"`
	Latest      string            `json:"latest"` // the newest released version; "" for none
	Reads       []string          `json:"reads"`
	Writes      []string          `json:"writes"`
	Events      []string          `json:"events"`
	Egress      []Egress          `json:"egress"`
	Parameters  []Parameter       `json:"parameters"`
	Versions    []Version         `json:"versions"`
	Installs    int               `json:"installs"`
	// Terms are the newest version's terms of use (TERMS.md), on a
	// listing's own page.
	Terms string `json:"terms,omitempty"`
}

// Egress is data that leaves the factory, as the manifest declares it.
type Egress struct {
	To      string `json:"to"`
	Data    string `json:"data"`
	Purpose string `json:"purpose"`
}

// Parameter is a field of the install form.
type Parameter struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Label       map[string]string `json:"label"`
	Description map[string]string `json:"description,omitempty"`
	Default     any               `json:"default,omitempty"`
	Required    bool              `json:"required,omitempty"`
	Secret      bool              `json:"secret,omitempty"`
	Min         *float64          `json:"min,omitempty"`
	Max         *float64          `json:"max,omitempty"`
	Enum        []string          `json:"enum,omitempty"`
}

// Filter narrows the catalogue; every field given must hold.
type Filter struct {
	Category, Maturity, Provider string
	Text                         string // in the id, names, tagline or tags
}

// listingOf builds the listing of versions (of one service, oldest
// first) from the newest one that shown allows.
func listingOf(vs []Version, shown func(Version) bool) (Listing, bool) {
	var l Listing
	var from *Version
	for i := len(vs) - 1; i >= 0; i-- {
		if !shown(vs[i]) {
			continue
		}
		l.Versions = append(l.Versions, vs[i])
		if from == nil {
			from = &vs[i]
		}
		if l.Latest == "" && vs[i].State == Released {
			l.Latest = vs[i].Version
		}
	}
	if from == nil {
		return l, false
	}
	pkg, err := service.ParseManifest([]byte(from.Manifest))
	if err != nil {
		return l, false
	}
	md, x := pkg.Manifest.Metadata, pkg.Molen
	nl := x.Translations["nl"]
	l.ID, l.Provider = from.Listing, from.Provider
	l.Name = map[string]string{"en": md.Name, "nl": nl.Name}
	l.Description = map[string]string{"en": md.Description, "nl": nl.Description}
	l.Tagline = map[string]string{"en": md.Catalog.Application.Tagline, "nl": nl.Tagline}
	l.Category, l.Maturity, l.Tags, l.Site = x.Category, nonNil(x.Maturity), nonNil(md.Catalog.Application.Tags), md.Catalog.Application.Site
	l.Reads, l.Writes, l.Events = nonNil(x.Capabilities.Reads), nonNil(x.Capabilities.Writes), nonNil(x.Capabilities.Events)
	l.Egress = []Egress{}
	for _, e := range x.Capabilities.Egress {
		l.Egress = append(l.Egress, Egress(e))
	}
	l.Parameters = []Parameter{}
	for _, p := range x.Parameters {
		l.Parameters = append(l.Parameters, Parameter(p))
	}
	return l, true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Catalogue lists the services with a released or deprecated version,
// narrowed by f. A provider (org) sees its own services whatever their
// state.
func (s *Service) Catalogue(ctx context.Context, org string, f Filter) ([]Listing, error) {
	vs, err := s.versions(ctx, `1 = 1`)
	if err != nil {
		return nil, err
	}
	counts, err := s.installCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := []Listing{}
	for _, group := range byListing(vs) {
		l, ok := listingOf(group, func(v Version) bool { return visible(v, org) })
		if !ok || !f.match(l) {
			continue
		}
		l.Installs = counts[l.ID]
		out = append(out, l)
	}
	return out, nil
}

// visible says whether org sees v in the catalogue: a released or
// deprecated version, or any of its own but revoked ones.
func visible(v Version, org string) bool {
	return v.State == Released || v.State == Deprecated || v.Provider == org && v.State != Revoked
}

func byListing(vs []Version) [][]Version {
	var out [][]Version
	for i := 0; i < len(vs); {
		j := i
		for j < len(vs) && vs[j].Listing == vs[i].Listing {
			j++
		}
		out = append(out, vs[i:j])
		i = j
	}
	return out
}

func (f Filter) match(l Listing) bool {
	switch {
	case f.Category != "" && l.Category != f.Category,
		f.Maturity != "" && !slices.Contains(l.Maturity, f.Maturity),
		f.Provider != "" && l.Provider != f.Provider:
		return false
	}
	if f.Text == "" {
		return true
	}
	hay := strings.ToLower(strings.Join(append([]string{l.ID, l.Name["en"], l.Name["nl"], l.Tagline["en"], l.Tagline["nl"]}, l.Tags...), " "))
	return strings.Contains(hay, strings.ToLower(f.Text))
}

// Listing returns one service's page for org: the versions org may see
// (a provider sees all of its own, the platform everything), with the
// newest one's terms. meta.ErrNotFound when org sees none.
func (s *Service) Listing(ctx context.Context, org string, platform bool, id string) (Listing, error) {
	vs, err := s.versions(ctx, `v.listing = $1`, id)
	if err != nil {
		return Listing{}, err
	}
	l, ok := listingOf(vs, func(v Version) bool { return platform || v.Provider == org || visible(v, org) })
	if !ok {
		return Listing{}, fmt.Errorf("service %s: %w", id, meta.ErrNotFound)
	}
	counts, err := s.installCounts(ctx)
	if err != nil {
		return Listing{}, err
	}
	l.Installs = counts[id]
	if b, err := s.blobs.Read(ctx, l.Versions[0].SHA256); err == nil {
		if files, pkg, err := svcpack.Read(b); err == nil {
			l.Terms = string(files[pkg.Molen.Terms])
		}
	}
	return l, nil
}

// Review lists the versions waiting for the platform's review.
func (s *Service) Review(ctx context.Context) ([]Version, error) {
	return s.versions(ctx, `v.state = $1`, InReview)
}

// ProviderVersions lists every version of org's services.
func (s *Service) ProviderVersions(ctx context.Context, org string) ([]Version, error) {
	return s.versions(ctx, `l.org = $1`, org)
}

func (s *Service) installCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT listing, COUNT(*) FROM market_installs GROUP BY listing`)
	if err != nil {
		return nil, fmt.Errorf("install counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
