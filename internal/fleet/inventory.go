package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// Place is an edge's place in its company: a site and labels.
type Place struct {
	Site   string            `json:"site"`
	Labels map[string]string `json:"labels"`
}

var labelKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,62}$`)

// Validate checks a place: a site name as a part name (or none), at most
// 32 labels with keys like part names and values of at most 63
// characters.
func (p Place) Validate() error {
	if p.Site != "" && !partName.MatchString(p.Site) {
		return api.BadRequest("site: %q must be 1..63 of a-z 0-9 . _ - (starting with a letter or digit)", p.Site)
	}
	if len(p.Labels) > 32 {
		return api.BadRequest("labels: at most 32")
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if !labelKey.MatchString(k) {
			return api.BadRequest("labels: key %q must be 1..63 of a-z 0-9 . _ / - (starting with a letter or digit)", k)
		}
		if v := p.Labels[k]; len(v) > 63 || !meta.Text(v) {
			return api.BadRequest("labels.%s: at most 63 characters of text", k)
		}
	}
	return nil
}

// Place returns the place of an edge of org (none: no site, no labels).
func (s *Service) Place(ctx context.Context, org, edge string) (Place, error) {
	var site, labels string
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT site, labels FROM edge_places WHERE org = $1 AND edge = $2`, org, edge).Scan(&site, &labels))
	if errors.Is(err, meta.ErrNotFound) {
		return Place{Labels: map[string]string{}}, nil
	}
	if err != nil {
		return Place{}, fmt.Errorf("place of edge %s: %w", edge, err)
	}
	p := Place{Site: site}
	if err := json.Unmarshal([]byte(labels), &p.Labels); err != nil {
		return Place{}, fmt.Errorf("labels of edge %s: %w", edge, err)
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	return p, nil
}

// SetPlace sets the site and labels of an edge of org.
func (s *Service) SetPlace(ctx context.Context, org, edge string, p Place) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := s.Edge(ctx, org, edge); err != nil {
		return err
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	labels, _ := json.Marshal(p.Labels)
	_, err := s.db.ExecContext(ctx, `INSERT INTO edge_places (edge, org, site, labels) VALUES ($1, $2, $3, $4)
		ON CONFLICT (edge) DO UPDATE SET site = excluded.site, labels = excluded.labels`, edge, org, p.Site, string(labels))
	if err != nil {
		return fmt.Errorf("set place of edge %s: %w", edge, err)
	}
	s.wake.notify(org)
	return nil
}

// Group is a set of an organisation's edges chosen by their labels.
type Group struct {
	Name string `json:"name"`
	// Selector holds the labels an edge must have, each with the value
	// given ("" matches any value of the label), like Kubernetes's
	// matchLabels. An empty selector matches no edge.
	Selector map[string]string `json:"selector"`
}

// Matches reports whether an edge with labels is in g.
func (g Group) Matches(labels map[string]string) bool {
	if len(g.Selector) == 0 {
		return false
	}
	for k, want := range g.Selector {
		got, ok := labels[k]
		if !ok || (want != "" && got != want) {
			return false
		}
	}
	return true
}

// Groups returns the groups of org by name.
func (s *Service) Groups(ctx context.Context, org string) ([]Group, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, selector FROM fleet_groups WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		var sel string
		if err := rows.Scan(&g.Name, &sel); err != nil {
			return nil, fmt.Errorf("groups of %s: %w", org, err)
		}
		if err := json.Unmarshal([]byte(sel), &g.Selector); err != nil {
			return nil, fmt.Errorf("group %s of %s: %w", g.Name, org, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("groups of %s: %w", org, err)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutGroup stores a group of org (replacing one of its name).
func (s *Service) PutGroup(ctx context.Context, org string, g Group) error {
	if !partName.MatchString(g.Name) {
		return api.BadRequest("name: %q must be 1..63 of a-z 0-9 . _ - (starting with a letter or digit)", g.Name)
	}
	if len(g.Selector) == 0 {
		return api.BadRequest("selector: give at least one label, such as {\"line\": \"press\"}")
	}
	if err := (Place{Labels: g.Selector}).Validate(); err != nil {
		return api.BadRequest("selector: %v", strings.TrimPrefix(err.Error(), api.ErrBadRequest.Error()+": "))
	}
	sel, _ := json.Marshal(g.Selector)
	_, err := s.db.ExecContext(ctx, `INSERT INTO fleet_groups (org, name, selector) VALUES ($1, $2, $3)
		ON CONFLICT (org, name) DO UPDATE SET selector = excluded.selector`, org, g.Name, string(sel))
	if err != nil {
		return fmt.Errorf("store group %s of %s: %w", g.Name, org, err)
	}
	s.wake.notify(org)
	return nil
}

// DeleteGroup removes a group of org; meta.ErrNotFound if there is none.
func (s *Service) DeleteGroup(ctx context.Context, org, name string) error {
	if err := meta.Changed(s.db.ExecContext(ctx, `DELETE FROM fleet_groups WHERE org = $1 AND name = $2`, org, name)); err != nil {
		return fmt.Errorf("delete group %s of %s: %w", name, org, err)
	}
	s.wake.notify(org)
	return nil
}

// StoreReport keeps an edge's report as its latest, received at the
// hub's now.
func (s *Service) StoreReport(ctx context.Context, org, edge string, r uplink.Report) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO edge_reports (edge, org, reported, report) VALUES ($1, $2, $3, $4)
		ON CONFLICT (edge) DO UPDATE SET reported = excluded.reported, report = excluded.report`, edge, org, meta.Nanos(s.now()), string(doc))
	if err != nil {
		return fmt.Errorf("store report of edge %s: %w", edge, err)
	}
	return nil
}

// Reported is an edge's latest report and when it came.
type Reported struct {
	At     time.Time     `json:"at"`
	Report uplink.Report `json:"report"`
}

// reports returns the latest reports of org's edges by edge ID.
func (s *Service) reports(ctx context.Context, org string) (map[string]Reported, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT edge, reported, report FROM edge_reports WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("reports of %s: %w", org, err)
	}
	defer rows.Close()
	out := map[string]Reported{}
	for rows.Next() {
		var id, doc string
		var at int64
		if err := rows.Scan(&id, &at, &doc); err != nil {
			return nil, fmt.Errorf("reports of %s: %w", org, err)
		}
		var r Reported
		if err := json.Unmarshal([]byte(doc), &r.Report); err != nil {
			return nil, fmt.Errorf("report of %s: %w", id, err)
		}
		r.At = meta.Time(at)
		out[id] = r
	}
	return out, rows.Err()
}

// places returns the places of org's edges by edge ID.
func (s *Service) places(ctx context.Context, org string) (map[string]Place, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT edge, site, labels FROM edge_places WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("places of %s: %w", org, err)
	}
	defer rows.Close()
	out := map[string]Place{}
	for rows.Next() {
		var id, site, labels string
		if err := rows.Scan(&id, &site, &labels); err != nil {
			return nil, fmt.Errorf("places of %s: %w", org, err)
		}
		p := Place{Site: site}
		if err := json.Unmarshal([]byte(labels), &p.Labels); err != nil {
			return nil, fmt.Errorf("labels of %s: %w", id, err)
		}
		out[id] = p
	}
	return out, rows.Err()
}

// Offline is how long after its last report an edge counts as offline:
// three report intervals of the default; for an edge that reports less
// often, three of its own (offline).
const Offline = 90 * time.Second

// offline is how long after a report r its edge counts as offline.
func offline(r uplink.Report) time.Duration {
	return max(Offline, 3*time.Duration(r.ReportSeconds*float64(time.Second)))
}

// InventoryEdge is one edge of the inventory.
type InventoryEdge struct {
	edgeJSON
	Site   string            `json:"site"`
	Labels map[string]string `json:"labels"`
	Groups []string          `json:"groups"`
	Online bool              `json:"online"`
	// Health is "ok", "degraded" (an input not connected, pipeline
	// errors, a rolled-back or failed manifest), "offline" or "unknown"
	// (never reported).
	Health   string    `json:"health"`
	Reported *Reported `json:"reported,omitempty"`
	// DesiredVersion is the version of the edge's last computed manifest
	// (0: none computed yet).
	DesiredVersion uint64 `json:"desired_version"`
}

// Filter narrows the inventory: every field given must hold.
type Filter struct {
	Site   string
	Labels map[string]string // as a group's selector
	Group  string
	Health string
	Text   string // in the edge's ID or name
}

// Inventory lists the edges of org with their place, groups and latest
// report, by ID, narrowed by f.
func (s *Service) Inventory(ctx context.Context, org string, f Filter) ([]InventoryEdge, error) {
	edges, err := s.Edges(ctx, org)
	if err != nil {
		return nil, err
	}
	places, err := s.places(ctx, org)
	if err != nil {
		return nil, err
	}
	reports, err := s.reports(ctx, org)
	if err != nil {
		return nil, err
	}
	groups, err := s.Groups(ctx, org)
	if err != nil {
		return nil, err
	}
	versions, err := s.versions(ctx, org)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []InventoryEdge{}
	for _, e := range edges {
		p := places[e.ID]
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		ie := InventoryEdge{edgeJSON: edgeToJSON(e), Site: p.Site, Labels: p.Labels, Groups: []string{}, Health: "unknown", DesiredVersion: versions[e.ID]}
		for _, g := range groups {
			if g.Matches(p.Labels) {
				ie.Groups = append(ie.Groups, g.Name)
			}
		}
		if r, ok := reports[e.ID]; ok {
			ie.Reported = &r
			ie.Online = now.Sub(r.At) < offline(r.Report)
			ie.Health = health(r.Report, ie.Online)
		}
		if !f.match(ie) {
			continue
		}
		out = append(out, ie)
	}
	return out, nil
}

func (f Filter) match(ie InventoryEdge) bool {
	switch {
	case f.Site != "" && ie.Site != f.Site,
		f.Group != "" && !slices.Contains(ie.Groups, f.Group),
		f.Health != "" && ie.Health != f.Health,
		len(f.Labels) > 0 && !(Group{Selector: f.Labels}).Matches(ie.Labels),
		f.Text != "" && !strings.Contains(strings.ToLower(ie.ID+" "+ie.Name), strings.ToLower(f.Text)):
		return false
	}
	return true
}

// health sums up a report.
func health(r uplink.Report, online bool) string {
	if !online {
		return "offline"
	}
	if r.PipelineError != "" || r.Manifest.Error != "" || r.Manifest.RolledBack {
		return "degraded"
	}
	for _, in := range r.Inputs {
		if in.State != "connected" {
			return "degraded"
		}
	}
	return "ok"
}

func (s *Service) versions(ctx context.Context, org string) (map[string]uint64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT edge, version FROM edge_manifests WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("manifest versions of %s: %w", org, err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("manifest versions of %s: %w", org, err)
		}
		out[id] = uint64(v)
	}
	return out, rows.Err()
}
