package market

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/service"
)

// A data-sharing grant is what a company agreed to when it accepted a
// service's terms at an install: which provider organisation receives
// what data from its edges, under which terms (their sha256), accepted by
// whom and when. It is in force while the install runs that version; an
// uninstall, a change to another version or the version's revocation
// ends it. It gives no read access on the hub (that is auth's grants):
// it records consent to what the service itself sends out of the edge.
type DataGrant struct {
	ID          string     `json:"id"`
	Install     string     `json:"install"`
	Service     string     `json:"service"`
	Version     string     `json:"version"`
	Provider    string     `json:"provider"`
	Egress      []Egress   `json:"egress"`
	TermsSHA256 string     `json:"terms_sha256"`
	AcceptedBy  string     `json:"accepted_by"`
	Accepted    time.Time  `json:"accepted"`
	Ended       *time.Time `json:"ended,omitempty"`
	EndedBy     string     `json:"ended_by,omitempty"`
	EndReason   string     `json:"end_reason,omitempty"`
	Active      bool       `json:"active"`
}

func egressOf(es []service.Egress) []Egress {
	out := []Egress{}
	for _, e := range es {
		out = append(out, Egress(e))
	}
	return out
}

// Why a data-sharing grant ended.
const (
	EndUninstalled = "uninstalled"
	EndChanged     = "changed"
	EndRevoked     = "revoked"
)

// grant records the acceptance of v's terms for org's install, ending the
// grant the install had before (a change of version, or terms accepted
// anew).
func (s *Service) grant(ctx context.Context, org, install string, v Version, egress []service.Egress, termsSHA, by string, now time.Time) error {
	if err := s.endGrants(ctx, `org = $4 AND install = $5`, by, EndChanged, now, org, install); err != nil {
		return err
	}
	eg, _ := json.Marshal(egressOf(egress))
	_, err := s.cfg.DB.ExecContext(ctx, `INSERT INTO market_grants (id, org, install, listing, version, provider, egress, terms_sha256, accepted_by, accepted)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		"dsg_"+secret.New("")[:16], org, install, v.Listing, v.Version, v.Provider, string(eg), termsSHA, by, meta.Nanos(now))
	if err != nil {
		return fmt.Errorf("record the data-sharing grant of %s: %w", install, err)
	}
	return nil
}

// endGrants ends the grants in force that match where (its arguments
// from $4 on).
func (s *Service) endGrants(ctx context.Context, where, by, reason string, now time.Time, args ...any) error {
	_, err := s.cfg.DB.ExecContext(ctx, `UPDATE market_grants SET ended = $1, ended_by = $2, end_reason = $3 WHERE ended = 0 AND `+where,
		append([]any{meta.Nanos(now), by, reason}, args...)...)
	if err != nil {
		return fmt.Errorf("end data-sharing grants: %w", err)
	}
	return nil
}

// grantEarlierInstalls records the grants of installs made before
// accepted terms were grants (those with none at all, of a version not
// revoked): accepted by whom and when the install says, the egress its
// version declares.
func (s *Service) grantEarlierInstalls(ctx context.Context) error {
	ins, err := s.installRows(ctx, `NOT EXISTS (SELECT 1 FROM market_grants g WHERE g.org = market_installs.org AND g.install = market_installs.name)`)
	if err != nil {
		return err
	}
	for _, in := range ins {
		v, err := s.Version(ctx, in.Service, in.Version)
		if err != nil {
			return err
		}
		pkg, err := service.ParseManifest([]byte(v.Manifest))
		if v.State == Revoked || err != nil {
			continue
		}
		if err := s.grant(ctx, in.Org, in.Name, v, pkg.Molen.Capabilities.Egress, in.TermsSHA256, in.AcceptedBy, in.Updated); err != nil {
			return err
		}
	}
	return nil
}

// DataGrants lists org's data-sharing grants, in force or ended: newest
// first, those in force before ended ones accepted at the same time.
func (s *Service) DataGrants(ctx context.Context, org string) ([]DataGrant, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, install, listing, version, provider, egress, terms_sha256, accepted_by, accepted, ended, ended_by, end_reason
		FROM market_grants WHERE org = $1 ORDER BY accepted DESC, ended, id`, org)
	if err != nil {
		return nil, fmt.Errorf("data-sharing grants of %s: %w", org, err)
	}
	defer rows.Close()
	out := []DataGrant{}
	for rows.Next() {
		var g DataGrant
		var eg string
		var accepted, ended int64
		if err := rows.Scan(&g.ID, &g.Install, &g.Service, &g.Version, &g.Provider, &eg, &g.TermsSHA256, &g.AcceptedBy, &accepted, &ended, &g.EndedBy, &g.EndReason); err != nil {
			return nil, fmt.Errorf("data-sharing grants: %w", err)
		}
		if err := json.Unmarshal([]byte(eg), &g.Egress); err != nil {
			return nil, fmt.Errorf("data-sharing grant %s: %w", g.ID, err)
		}
		g.Accepted, g.Active = meta.Time(accepted), ended == 0
		if ended != 0 {
			t := meta.Time(ended)
			g.Ended = &t
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
