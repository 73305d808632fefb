package market

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/uplink"
)

// Install is a company's install of a service version on an edge or a
// group of edges.
type Install struct {
	Org     string         `json:"-"`
	Name    string         `json:"name"`
	Service string         `json:"service"`
	Version string         `json:"version"`
	Scope   string         `json:"scope"` // edge or group
	Target  string         `json:"target"`
	Params  map[string]any `json:"params"` // secret ones are not shown: Secrets names them
	Secrets []string       `json:"secrets"`
	Match   []string       `json:"match"`
	Output  string         `json:"output"`
	// TermsSHA256 are the terms accepted (their sha256), AcceptedBy who.
	TermsSHA256 string    `json:"terms_sha256"`
	AcceptedBy  string    `json:"accepted_by"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// Edges are the install's edges and the state of its part on each
	// (from their reports): pending until an edge reports it.
	Edges []EdgeState `json:"edges"`
}

// EdgeState is an install's state on one edge.
type EdgeState struct {
	Edge  string `json:"edge"`
	Name  string `json:"name"`
	State string `json:"state"` // pending, installing, installed, failed, removing, removed
	Error string `json:"error,omitempty"`
}

// InstallRequest is what the install form sends.
type InstallRequest struct {
	Name    string         `json:"name"` // default: the service's id
	Service string         `json:"service"`
	Version string         `json:"version"` // default: the newest released
	Scope   string         `json:"scope"`
	Target  string         `json:"target"`
	Params  map[string]any `json:"params"`
	Match   []string       `json:"match"`  // default: the service's reads
	Output  string         `json:"output"` // forward (default), local, drop
	// AcceptTerms must be true: the company accepts the service's terms
	// and the data it declares to leave the factory.
	AcceptTerms bool `json:"accept_terms"`
}

var installName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// secretName is the fleet secret that holds an install's secret
// parameter.
func secretName(install, param string) string {
	return "svc-" + install + "-" + strings.ReplaceAll(param, "_", "-")
}

// Installed creates (or, with update, changes) an install of org. The
// version must be released; the target an edge or group of org (another
// company's edge is meta.ErrNotFound); the parameters valid for the
// version's schema, secret ones kept as secrets of the fleet, sealed for
// each edge; the terms accepted (recorded as a data-sharing grant, and in
// the audit log, with what leaves the factory).
func (s *Service) Installed(ctx context.Context, org, by string, req InstallRequest, update bool) (Install, error) {
	if req.Name == "" {
		req.Name = req.Service
	}
	if !installName.MatchString(req.Name) {
		return Install{}, api.BadRequest("name: %q: want 1..41 of a-z 0-9 - (starting with a letter or digit)", req.Name)
	}
	var old *Install
	if update {
		in, err := s.Install(ctx, org, req.Name)
		if err != nil {
			return Install{}, err
		}
		old = &in
		req.Service, req.Scope, req.Target = in.Service, in.Scope, in.Target
		if req.Match == nil {
			req.Match = in.Match
		}
		if req.Output == "" {
			req.Output = in.Output
		}
	}
	if req.Version == "" {
		l, err := s.Listing(ctx, org, false, req.Service)
		if err != nil {
			return Install{}, err
		}
		req.Version = l.Latest
	}
	v, err := s.Version(ctx, req.Service, req.Version)
	if err != nil {
		return Install{}, err
	}
	if v.State != Released {
		return Install{}, api.BadRequest("version: %s %s is %s; only a released version can be installed", req.Service, req.Version, v.State)
	}
	if !req.AcceptTerms {
		return Install{}, api.BadRequest("accept_terms: the service's terms (and what it sends out of the factory) must be accepted")
	}
	switch req.Scope {
	case fleet.ScopeEdge:
		if _, err := s.cfg.Fleet.Edge(ctx, org, req.Target); err != nil {
			return Install{}, err
		}
	case fleet.ScopeGroup:
		groups, err := s.cfg.Fleet.Groups(ctx, org)
		if err != nil {
			return Install{}, err
		}
		if !slices.ContainsFunc(groups, func(g fleet.Group) bool { return g.Name == req.Target }) {
			return Install{}, fmt.Errorf("group %s: %w", req.Target, meta.ErrNotFound)
		}
	default:
		return Install{}, api.BadRequest("scope: %q: want edge or group", req.Scope)
	}
	archive, err := s.blobs.Read(ctx, v.SHA256)
	if err != nil {
		return Install{}, fmt.Errorf("package %s: %w", v.SHA256, err)
	}
	files, pkg, err := svcpack.Read(archive)
	if err != nil {
		return Install{}, err
	}
	// Secret parameters: a value given is set anew; one left out of an
	// update keeps the secret it had.
	given := maps.Clone(req.Params)
	if given == nil {
		given = map[string]any{}
	}
	plain := map[string]any{}
	secrets := map[string]string{}
	var kept []string
	for _, p := range pkg.Molen.Parameters {
		val, ok := given[p.Name]
		switch {
		case p.Secret && ok:
			str, _ := val.(string)
			secrets[p.Name] = str
		case p.Secret && old != nil && slices.Contains(old.Secrets, p.Name):
			given[p.Name] = "kept"
			kept = append(kept, p.Name)
		case ok:
			plain[p.Name] = val
		}
	}
	if _, err := pkg.Params(given); err != nil {
		s.refused.WithLabelValues("params").Inc()
		return Install{}, api.BadRequest("params: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if req.Match == nil {
		req.Match = pkg.Molen.Capabilities.Reads
	}
	if len(req.Match) == 0 {
		return Install{}, api.BadRequest("match: want the UNS globs of the series the service is given")
	}
	for _, g := range req.Match {
		if _, err := pipeline.ParseGlob(g); err != nil {
			return Install{}, api.BadRequest("match: %q: %v", g, err)
		}
	}
	switch req.Output {
	case "":
		req.Output = "forward"
	case "forward", "local", "drop":
	default:
		return Install{}, api.BadRequest("output: %q: want forward, local or drop", req.Output)
	}
	for name, val := range secrets {
		if err := s.cfg.Fleet.PutSecret(ctx, org, req.Scope, req.Target, secretName(req.Name, name), val); err != nil {
			return Install{}, fmt.Errorf("params.%s: %w", name, err)
		}
	}
	names := slices.Sorted(maps.Keys(secrets))
	names = slices.Compact(slices.Sorted(slices.Values(append(names, kept...))))
	termsSum := sha256.Sum256(files[pkg.Molen.Terms])
	in := Install{Org: org, Name: req.Name, Service: req.Service, Version: req.Version, Scope: req.Scope, Target: req.Target,
		Params: plain, Secrets: names, Match: req.Match, Output: req.Output, TermsSHA256: hex.EncodeToString(termsSum[:]),
		AcceptedBy: by, Created: s.cfg.Now().UTC(), Updated: s.cfg.Now().UTC()}
	paramsJSON, _ := json.Marshal(in.Params)
	secretsJSON, _ := json.Marshal(in.Secrets)
	matchJSON, _ := json.Marshal(in.Match)
	if old == nil {
		err = meta.Inserted(s.cfg.DB.ExecContext(ctx, `INSERT INTO market_installs (org, name, listing, version, scope, target, params, secrets, match_globs, output, terms_sha256, accepted_by, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) ON CONFLICT DO NOTHING`,
			org, in.Name, in.Service, in.Version, in.Scope, in.Target, string(paramsJSON), string(secretsJSON), string(matchJSON), in.Output, in.TermsSHA256, by, meta.Nanos(in.Created)))
		if errors.Is(err, meta.ErrExists) {
			return Install{}, fmt.Errorf("install %s exists: change it, or choose another name: %w", in.Name, api.ErrConflict)
		}
	} else {
		in.Created = old.Created
		err = meta.Changed(s.cfg.DB.ExecContext(ctx, `UPDATE market_installs SET version = $1, params = $2, secrets = $3, match_globs = $4, output = $5, terms_sha256 = $6, accepted_by = $7, updated = $8
			WHERE org = $9 AND name = $10`, in.Version, string(paramsJSON), string(secretsJSON), string(matchJSON), in.Output, in.TermsSHA256, by, meta.Nanos(in.Updated), org, in.Name))
	}
	if err != nil {
		return Install{}, err
	}
	if err := s.grant(ctx, org, in.Name, v, pkg.Molen.Capabilities.Egress, in.TermsSHA256, by, in.Updated); err != nil {
		return Install{}, err
	}
	if s.cfg.Audit != nil {
		egress, _ := json.Marshal(pkg.Molen.Capabilities.Egress)
		if _, err := s.cfg.Audit.Record(ctx, audit.Entry{Org: org, Actor: by, Action: "market.terms.accepted", Target: in.Name,
			Detail: map[string]string{"service": in.Service, "version": in.Version, "provider": v.Provider, "terms_sha256": in.TermsSHA256, "egress": string(egress),
				"target": in.Scope + ":" + in.Target}}); err != nil {
			return Install{}, err
		}
	}
	s.cfg.Fleet.Wake(org)
	return s.Install(ctx, org, in.Name)
}

// Uninstall removes an install and its secrets, ending its data-sharing
// grant (by whom): it leaves its edges at their next fetch.
func (s *Service) Uninstall(ctx context.Context, org, name, by string) error {
	in, err := s.Install(ctx, org, name)
	if err != nil {
		return err
	}
	if err := meta.Changed(s.cfg.DB.ExecContext(ctx, `DELETE FROM market_installs WHERE org = $1 AND name = $2`, org, name)); err != nil {
		return err
	}
	if err := s.endGrants(ctx, `org = $4 AND install = $5`, by, EndUninstalled, s.cfg.Now().UTC(), org, name); err != nil {
		return err
	}
	for _, p := range in.Secrets {
		if err := s.cfg.Fleet.DeleteSecret(ctx, org, in.Scope, in.Target, secretName(name, p)); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
	}
	s.cfg.Fleet.Wake(org)
	return nil
}

func (s *Service) installRows(ctx context.Context, where string, args ...any) ([]Install, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT org, name, listing, version, scope, target, params, secrets, match_globs, output, terms_sha256, accepted_by, created, updated
		FROM market_installs WHERE `+where+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("installs: %w", err)
	}
	defer rows.Close()
	out := []Install{}
	for rows.Next() {
		var in Install
		var params, secrets, match string
		var created, updated int64
		if err := rows.Scan(&in.Org, &in.Name, &in.Service, &in.Version, &in.Scope, &in.Target, &params, &secrets, &match, &in.Output, &in.TermsSHA256, &in.AcceptedBy, &created, &updated); err != nil {
			return nil, fmt.Errorf("installs: %w", err)
		}
		if err := errors.Join(json.Unmarshal([]byte(params), &in.Params), json.Unmarshal([]byte(secrets), &in.Secrets), json.Unmarshal([]byte(match), &in.Match)); err != nil {
			return nil, fmt.Errorf("install %s: %w", in.Name, err)
		}
		in.Created, in.Updated = meta.Time(created), meta.Time(updated)
		out = append(out, in)
	}
	return out, rows.Err()
}

// Installs lists org's installs with their state on each edge.
func (s *Service) Installs(ctx context.Context, org string) ([]Install, error) {
	ins, err := s.installRows(ctx, `org = $1`, org)
	if err != nil {
		return nil, err
	}
	inv, err := s.cfg.Fleet.Inventory(ctx, org, fleet.Filter{})
	if err != nil {
		return nil, err
	}
	for i := range ins {
		ins[i].Edges = edgeStates(ins[i], inv)
	}
	return ins, nil
}

// Install returns one install; meta.ErrNotFound for none.
func (s *Service) Install(ctx context.Context, org, name string) (Install, error) {
	ins, err := s.installRows(ctx, `org = $1 AND name = $2`, org, name)
	if err != nil {
		return Install{}, err
	}
	if len(ins) == 0 {
		return Install{}, fmt.Errorf("install %s: %w", name, meta.ErrNotFound)
	}
	inv, err := s.cfg.Fleet.Inventory(ctx, org, fleet.Filter{})
	if err != nil {
		return Install{}, err
	}
	ins[0].Edges = edgeStates(ins[0], inv)
	return ins[0], nil
}

// edgeStates are an install's edges and its part's state on each.
func edgeStates(in Install, inv []fleet.InventoryEdge) []EdgeState {
	out := []EdgeState{}
	part := uplink.PartService + "/" + in.Name
	for _, e := range inv {
		if in.Scope == fleet.ScopeEdge && e.ID != in.Target || in.Scope == fleet.ScopeGroup && !slices.Contains(e.Groups, in.Target) {
			continue
		}
		st := EdgeState{Edge: e.ID, Name: e.Name, State: uplink.StatePending}
		if e.Reported != nil {
			for _, p := range e.Reported.Report.Manifest.Parts {
				if p.Name == part {
					st.State, st.Error = p.State, p.Error
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// ServiceParts are the service parts of an edge of org in groups: one for
// each install on it or its groups whose version is released or
// deprecated. A revoked version has none: it leaves every edge's desired
// state at once, and an edge offline now finds it gone when it returns.
func (s *Service) ServiceParts(ctx context.Context, org, edge string, groups []string) (map[string]json.RawMessage, error) {
	ins, err := s.installRows(ctx, `org = $1`, org)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for _, in := range ins {
		if in.Scope == fleet.ScopeEdge && in.Target != edge || in.Scope == fleet.ScopeGroup && !slices.Contains(groups, in.Target) {
			continue
		}
		v, err := s.Version(ctx, in.Service, in.Version)
		if err != nil {
			return nil, err
		}
		if v.State != Released && v.State != Deprecated || v.Countersign == nil {
			continue
		}
		params := maps.Clone(in.Params)
		if params == nil {
			params = map[string]any{}
		}
		for _, p := range in.Secrets {
			params[p] = "${secret:" + secretName(in.Name, p) + "}"
		}
		pj, _ := json.Marshal(params)
		content, err := json.Marshal(uplink.ServiceInstall{ID: v.Listing, Version: v.Version, Provider: v.Provider, SHA256: v.SHA256, Size: v.Size,
			URL: uplink.ServicePath + v.SHA256, Signature: v.Signature, Release: *v.Countersign, Params: pj, Match: in.Match, Output: in.Output})
		if err != nil {
			return nil, err
		}
		out[in.Name] = content
	}
	return out, nil
}
