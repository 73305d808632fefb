package fleet

import (
	"bytes"
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
	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/margo"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uplink"

	_ "github.com/molen-io/molen/internal/connector/files" // the input kinds a layer may hold
	_ "github.com/molen-io/molen/internal/connector/httpin"
	_ "github.com/molen-io/molen/internal/connector/modbus"
	_ "github.com/molen-io/molen/internal/connector/mqtt"
	_ "github.com/molen-io/molen/internal/connector/mtconnect"
	_ "github.com/molen-io/molen/internal/connector/opcua"
	_ "github.com/molen-io/molen/internal/connector/s7"
	_ "github.com/molen-io/molen/internal/connector/sparkplug"
	_ "github.com/molen-io/molen/internal/connector/vda5050"
	_ "github.com/molen-io/molen/internal/operator" // the operators a pipeline may use
)

// The scopes of desired-state layers, in precedence order: a later scope
// overrides an earlier one part by part.
const (
	ScopeOrg   = "org"
	ScopeSite  = "site"
	ScopeGroup = "group"
	ScopeEdge  = "edge"
)

// scopeRank orders the scopes; 0 for an unknown one.
func scopeRank(s string) int {
	return slices.Index([]string{ScopeOrg, ScopeSite, ScopeGroup, ScopeEdge}, s) + 1
}

// Layer is one scope's desired state: inputs and pipelines by name (their
// content as in the inputs and pipeline files, docs/fleet.md), settings by
// key. A null value removes a part that a lower layer put there.
type Layer struct {
	Org       string                     `json:"-"`
	Scope     string                     `json:"scope"`
	Target    string                     `json:"target"`
	Inputs    map[string]json.RawMessage `json:"inputs,omitempty"`
	Pipelines map[string]json.RawMessage `json:"pipelines,omitempty"`
	Settings  map[string]json.RawMessage `json:"settings,omitempty"`
	// Deployments are Margo ApplicationDeployments, for devices that are
	// Margo clients (docs/fleet.md#margo).
	Deployments map[string]json.RawMessage `json:"deployments,omitempty"`
	// Software holds the version of molen the edges run, by product
	// ("molen": "1.5.0"), resolved per edge to a release (docs/fleet.md).
	Software map[string]json.RawMessage `json:"software,omitempty"`
	// Secrets are the layer's secret values by name, never their value:
	// they are set one by one (PutSecret) and ignored in a layer written.
	Secrets []SecretInfo `json:"secrets,omitempty"`
	Updated time.Time    `json:"updated"`
}

// Settings are the edge settings a layer may hold: durations, and the
// maintenance windows (docs/fleet.md).
var Settings = []string{"health_window", "maintenance", "poll_interval"}

var partName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

var null = []byte("null")

// isNull reports whether a part's content is JSON null (a removal).
func isNull(c json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(c), null) }

// Validate checks a layer: its scope and target, each part's name, and
// each part's content as the edge would load it. Its error wraps
// api.ErrBadRequest and names every part at fault.
func (l Layer) Validate() error {
	var errs []string
	switch {
	case scopeRank(l.Scope) == 0:
		errs = append(errs, fmt.Sprintf("scope: %q is not one of org, site, group, edge", l.Scope))
	case l.Scope == ScopeOrg && l.Target != "":
		errs = append(errs, "target: the organisation's layer has none")
	case l.Scope == ScopeEdge && (l.Target == "" || !meta.Text(l.Target)):
		errs = append(errs, "target: the edge's ID")
	case (l.Scope == ScopeSite || l.Scope == ScopeGroup) && !partName.MatchString(l.Target):
		errs = append(errs, fmt.Sprintf("target: %q must be 1..63 of a-z 0-9 . _ - (starting with a letter or digit)", l.Target))
	}
	for _, name := range slices.Sorted(maps.Keys(l.Pipelines)) {
		if err := checkPart(uplink.PartPipeline, name, l.Pipelines[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Inputs)) {
		if err := checkPart(uplink.PartInput, name, l.Inputs[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Settings)) {
		if err := checkPart(uplink.PartSetting, name, l.Settings[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Deployments)) {
		if err := checkPart(uplink.PartDeployment, name, l.Deployments[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Software)) {
		if err := checkPart(uplink.PartSoftware, name, l.Software[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return api.BadRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

// checkPart checks one part's name and content (null, a removal, is
// always valid content).
func checkPart(kind, name string, content json.RawMessage) error {
	where := kind + "s." + name
	switch kind {
	case uplink.PartSetting:
		where = "settings." + name
	case uplink.PartSoftware:
		where = "software." + name
	}
	if !partName.MatchString(name) {
		return fmt.Errorf("%s: name must be 1..63 of a-z 0-9 . _ - (starting with a letter or digit)", where)
	}
	if isNull(content) {
		return nil
	}
	switch kind {
	case uplink.PartPipeline:
		_, err := pipeline.ParseNamed(map[string][]byte{name: content})
		return err
	case uplink.PartInput:
		_, err := connector.ParseNamed(map[string][]byte{name: content})
		return err
	case uplink.PartDeployment:
		if err := margo.ValidateDeployment(content); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	case uplink.PartSetting:
		if !slices.Contains(Settings, name) {
			return fmt.Errorf("%s: unknown setting (want one of %s)", where, strings.Join(Settings, ", "))
		}
		if name == "maintenance" {
			if _, err := uplink.ParseMaintenance(content); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return nil
		}
		var s string
		if json.Unmarshal(content, &s) != nil {
			return fmt.Errorf("%s: want a duration as a string, such as \"30s\"", where)
		}
		if d, err := time.ParseDuration(s); err != nil || d < time.Second || d > 24*time.Hour {
			return fmt.Errorf("%s: %q: want a duration from 1s to 24h, such as \"30s\"", where, s)
		}
	case uplink.PartSoftware:
		if name != Product {
			return fmt.Errorf("%s: unknown software (want %s)", where, Product)
		}
		var v string
		if json.Unmarshal(content, &v) != nil || !versionText.MatchString(v) {
			return fmt.Errorf("%s: want a released version as a string, such as \"1.5.0\"", where)
		}
	}
	return nil
}

// Layers returns the layers of org, by scope and target.
func (s *Service) Layers(ctx context.Context, org string) ([]Layer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scope, target, doc, updated FROM fleet_layers WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("layers of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Layer
	for rows.Next() {
		var l Layer
		var scope, target, doc string
		var updated int64
		if err := rows.Scan(&scope, &target, &doc, &updated); err != nil {
			return nil, fmt.Errorf("layers of %s: %w", org, err)
		}
		if err := json.Unmarshal([]byte(doc), &l); err != nil {
			return nil, fmt.Errorf("layer %s/%s of %s: %w", scope, target, org, err)
		}
		l.Org, l.Scope, l.Target, l.Updated = org, scope, target, meta.Time(updated)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("layers of %s: %w", org, err)
	}
	secrets, err := s.secrets(ctx, org)
	if err != nil {
		return nil, err
	}
	for _, x := range secrets {
		i := slices.IndexFunc(out, func(l Layer) bool { return l.Scope == x.scope && l.Target == x.target })
		if i < 0 { // a layer of secrets only
			out = append(out, Layer{Org: org, Scope: x.scope, Target: x.target, Updated: meta.Time(x.updated)})
			i = len(out) - 1
		}
		out[i].Secrets = append(out[i].Secrets, SecretInfo{Name: x.name, Updated: meta.Time(x.updated).UnixMilli()})
	}
	sortLayers(out)
	return out, nil
}

// sortLayers orders layers by scope, in precedence order, then by target.
func sortLayers(ls []Layer) {
	slices.SortFunc(ls, func(a, b Layer) int {
		if c := scopeRank(a.Scope) - scopeRank(b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
}

// PutLayer validates and stores a layer (replacing the one of its scope
// and target). An edge layer's target must be an edge of the organisation.
// A layer that a rollout is changing is api.ErrConflict.
func (s *Service) PutLayer(ctx context.Context, l *Layer) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := s.targetExists(ctx, l.Org, l.Scope, l.Target); err != nil {
		return err
	}
	if err := s.checkNoRollout(ctx, l.Org, l.Scope, l.Target); err != nil {
		return err
	}
	if err := s.checkSoftware(ctx, *l); err != nil {
		return err
	}
	l.Updated = s.now()
	doc, err := json.Marshal(Layer{Inputs: compactAll(l.Inputs), Pipelines: compactAll(l.Pipelines), Settings: compactAll(l.Settings),
		Deployments: compactAll(l.Deployments), Software: compactAll(l.Software)})
	if err != nil {
		return api.BadRequest("layer: %v", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO fleet_layers (org, scope, target, doc, updated) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org, scope, target) DO UPDATE SET doc = excluded.doc, updated = excluded.updated`,
		l.Org, l.Scope, l.Target, string(doc), meta.Nanos(l.Updated))
	if err != nil {
		return fmt.Errorf("store layer %s/%s of %s: %w", l.Scope, l.Target, l.Org, err)
	}
	s.wake.notify(l.Org)
	return nil
}

// targetExists checks that a layer's target is an edge, a site (where an
// edge of org is placed) or a group of org: meta.ErrNotFound otherwise.
func (s *Service) targetExists(ctx context.Context, org, scope, target string) error {
	var err error
	switch scope {
	case ScopeEdge:
		_, err = s.Edge(ctx, org, target)
	case ScopeSite:
		var n int
		if err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM edge_places WHERE org = $1 AND site = $2`, org, target).Scan(&n); err == nil && n == 0 {
			err = fmt.Errorf("site %s of %s: no edge is placed there: %w", target, org, meta.ErrNotFound)
		}
	case ScopeGroup:
		var n int
		if err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM fleet_groups WHERE org = $1 AND name = $2`, org, target).Scan(&n); err == nil && n == 0 {
			err = fmt.Errorf("group %s of %s: %w", target, org, meta.ErrNotFound)
		}
	}
	return err
}

// DeleteLayer removes a layer; meta.ErrNotFound if there is none,
// api.ErrConflict while a rollout is changing it.
func (s *Service) DeleteLayer(ctx context.Context, org, scope, target string) error {
	if err := s.checkNoRollout(ctx, org, scope, target); err != nil {
		return err
	}
	if err := meta.Changed(s.db.ExecContext(ctx, `DELETE FROM fleet_layers WHERE org = $1 AND scope = $2 AND target = $3`, org, scope, target)); err != nil {
		return fmt.Errorf("delete layer %s/%s of %s: %w", scope, target, org, err)
	}
	s.wake.notify(org)
	return nil
}

func compactAll(m map[string]json.RawMessage) map[string]json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			out[k] = v
			continue
		}
		out[k] = b.Bytes()
	}
	return out
}

// Origin says which layer put a part into an edge's manifest, and which
// layers' values it overrode.
type Origin struct {
	Part    string `json:"part"`
	Layer   string `json:"layer"` // "org", "site:hall-2", "group:presses", "edge"
	Removed bool   `json:"removed,omitempty"`
	// Skipped says why the part is not in this edge's manifest:
	// "margo-client" (a Margo client gets deployments only), "molen-edge"
	// (a molen edge runs no Margo deployments).
	Skipped    string   `json:"skipped,omitempty"`
	Overridden []string `json:"overridden,omitempty"` // lower layers that held the part
}

// ServiceParts gives the service parts of an edge of org in groups: the
// content (uplink.ServiceInstall) by install name.
type ServiceParts func(ctx context.Context, org, edge string, groups []string) (map[string]json.RawMessage, error)

// SetServiceParts has every manifest hold the parts f gives: the
// marketplace's installs (docs/services.md).
func (s *Service) SetServiceParts(f ServiceParts) { s.serviceParts = f }

// Wake has the edges of org fetch their manifest now (long polls answer):
// for a change of desired state made outside the layers.
func (s *Service) Wake(org string) { s.wake.notify(org) }

// Desired is an edge's computed desired state: its manifest, and where
// each part came from.
type Desired struct {
	Manifest uplink.Manifest `json:"manifest"`
	Explain  []Origin        `json:"explain"`
	Groups   []string        `json:"groups"`
}

// layerLabel names a layer in an explanation.
func layerLabel(l Layer) string {
	if l.Scope == ScopeOrg || l.Scope == ScopeEdge {
		return l.Scope
	}
	return l.Scope + ":" + l.Target
}

// Desired computes the manifest of an edge of org from the layers that
// apply to it: the organisation's, its site's, its groups' (by name) and
// its own. A rollout that has admitted the edge replaces the layer it
// changes with its new content (ADR 0019). A manifest whose digest differs
// from the last one computed gets the next version. meta.ErrNotFound for
// no such edge.
func (s *Service) Desired(ctx context.Context, org, id string) (Desired, error) {
	e, err := s.Edge(ctx, org, id)
	if err != nil {
		return Desired{}, err
	}
	place, err := s.Place(ctx, org, e.ID)
	if err != nil {
		return Desired{}, err
	}
	groups, err := s.Groups(ctx, org)
	if err != nil {
		return Desired{}, err
	}
	layers, err := s.Layers(ctx, org)
	if err != nil {
		return Desired{}, err
	}
	if nl, err := s.rolloutLayer(ctx, org, e.ID); err != nil {
		return Desired{}, err
	} else if nl != nil {
		layers = withRollout(layers, nl)
	}
	var d Desired
	member := map[string]bool{}
	for _, g := range groups {
		if g.Matches(place.Labels) {
			member[g.Name] = true
			d.Groups = append(d.Groups, g.Name)
		}
	}
	type held struct {
		kind    string
		content json.RawMessage
		origin  Origin
	}
	parts := map[string]*held{}
	for _, l := range layers {
		switch {
		case l.Scope == ScopeSite && (place.Site == "" || l.Target != place.Site),
			l.Scope == ScopeGroup && !member[l.Target],
			l.Scope == ScopeEdge && l.Target != e.ID:
			continue
		}
		for kind, m := range map[string]map[string]json.RawMessage{uplink.PartInput: l.Inputs, uplink.PartPipeline: l.Pipelines,
			uplink.PartSetting: l.Settings, uplink.PartDeployment: l.Deployments, uplink.PartSoftware: l.Software} {
			for name, content := range m {
				full := kind + "/" + name
				h := parts[full]
				if h == nil {
					h = &held{kind: kind, origin: Origin{Part: full}}
					parts[full] = h
				} else if !h.origin.Removed {
					h.origin.Overridden = append(h.origin.Overridden, h.origin.Layer)
				}
				h.content, h.origin.Layer, h.origin.Removed = content, layerLabel(l), isNull(content)
			}
		}
	}
	secrets, err := s.secrets(ctx, org)
	if err != nil {
		return Desired{}, err
	}
	// Secrets apply in the layers' order, as parts do: the layers' order
	// is scope rank, then target (group names).
	slices.SortStableFunc(secrets, func(a, b storedSecret) int { return scopeRank(a.scope) - scopeRank(b.scope) })
	sealedBy := map[string]storedSecret{}
	for _, x := range secrets {
		l := Layer{Scope: x.scope, Target: x.target}
		switch {
		case l.Scope == ScopeSite && (place.Site == "" || l.Target != place.Site),
			l.Scope == ScopeGroup && !member[l.Target],
			l.Scope == ScopeEdge && l.Target != e.ID:
			continue
		}
		full := uplink.PartSecret + "/" + x.name
		h := parts[full]
		if h == nil {
			h = &held{kind: uplink.PartSecret, origin: Origin{Part: full}}
			parts[full] = h
		} else {
			h.origin.Overridden = append(h.origin.Overridden, h.origin.Layer)
		}
		h.origin.Layer, sealedBy[full] = layerLabel(l), x
	}
	if s.serviceParts != nil {
		// Marketplace installs: parts of their own, beside the layers'.
		installs, err := s.serviceParts(ctx, org, e.ID, d.Groups)
		if err != nil {
			return Desired{}, err
		}
		for name, content := range installs {
			full := uplink.PartService + "/" + name
			parts[full] = &held{kind: uplink.PartService, content: content, origin: Origin{Part: full, Layer: "market"}}
		}
	}
	client, err := s.isMargoClient(ctx, e.ID)
	if err != nil {
		return Desired{}, err
	}
	var rep *Reported
	if _, ok := parts[uplink.PartSoftware+"/"+Product]; ok {
		if rep, err = s.lastReport(ctx, org, e.ID); err != nil {
			return Desired{}, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(parts)) {
		h := parts[name]
		switch {
		case h.origin.Removed:
		case client && h.kind != uplink.PartDeployment:
			h.origin.Skipped = "margo-client"
		case !client && h.kind == uplink.PartDeployment:
			h.origin.Skipped = "molen-edge"
		}
		d.Explain = append(d.Explain, h.origin)
		if h.origin.Removed || h.origin.Skipped != "" {
			continue
		}
		if x, ok := sealedBy[name]; ok {
			if e.PublicKey == "" {
				continue // an edge without a key (not enrolled yet, or by credential) gets none
			}
			if h.content, err = s.sealFor(ctx, e, x); err != nil {
				return Desired{}, err
			}
		}
		if h.kind == uplink.PartSoftware {
			// The layer names a version; the edge gets the release of its
			// platform.
			if h.content, err = s.software(ctx, h.content, rep); err != nil {
				return Desired{}, err
			}
		}
		d.Manifest.Parts = append(d.Manifest.Parts, uplink.Part{Name: name, Kind: h.kind, Digest: uplink.PartDigest(h.content), Content: h.content})
	}
	if d.Manifest.Parts == nil {
		d.Manifest.Parts = []uplink.Part{}
	}
	d.Manifest.Edge, d.Manifest.Digest = e.ID, uplink.ManifestDigest(d.Manifest.Parts)
	if d.Manifest.Version, err = s.version(ctx, org, e.ID, d.Manifest.Digest); err != nil {
		return Desired{}, err
	}
	return d, nil
}

// version returns the version of an edge's manifest with digest: the
// stored one if its digest is the same, the next one (stored now)
// otherwise. Two hubs computing at once settle on one row: the update
// names the version it replaces.
func (s *Service) version(ctx context.Context, org, edge, digest string) (uint64, error) {
	for range 5 {
		var v int64
		var d string
		err := meta.Found(s.db.QueryRowContext(ctx, `SELECT version, digest FROM edge_manifests WHERE edge = $1`, edge).Scan(&v, &d))
		switch {
		case errors.Is(err, meta.ErrNotFound):
			err = meta.Inserted(s.db.ExecContext(ctx, `INSERT INTO edge_manifests (edge, org, version, digest) VALUES ($1, $2, 1, $3) ON CONFLICT DO NOTHING`, edge, org, digest))
			if err == nil {
				return 1, nil
			}
		case err != nil:
		case d == digest:
			return uint64(v), nil
		default:
			err = meta.Changed(s.db.ExecContext(ctx, `UPDATE edge_manifests SET version = $1, digest = $2 WHERE edge = $3 AND version = $4`, v+1, digest, edge, v))
			if err == nil {
				return uint64(v + 1), nil
			}
		}
		if !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, meta.ErrExists) {
			return 0, fmt.Errorf("manifest version of %s: %w", edge, err)
		}
	}
	return 0, fmt.Errorf("manifest version of %s: changed concurrently, try again", edge)
}
