package programme

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/molen-io/molen/internal/programme/dma"
)

// MinPeers is the least number of other companies a peer benchmark shows:
// a smaller group could single a company out.
const MinPeers = 5

// Peers is a company's benchmark against the programme's companies of
// its size class, NACE section and province: their mean overall score at
// their latest assessment, shown only when at least MinPeers of them have
// one.
type Peers struct {
	Size      string  `json:"size"`
	Sector    string  `json:"sector"` // NACE section
	Region    string  `json:"region"`
	Companies int     `json:"companies"` // in the group, with an assessment (0 when too few)
	Shown     bool    `json:"shown"`
	Overall   float64 `json:"overall,omitempty"` // the group's mean
}

// PeersOf benchmarks c against its peers across every hub.
func (s *Service) PeersOf(ctx context.Context, c Company) (Peers, error) {
	p := Peers{Size: c.Size, Sector: c.NACE[:1], Region: c.NUTS}
	in := map[string]bool{}
	err := s.scan(ctx, `SELECT org, nace FROM prog_companies WHERE size = $1 AND nuts = $2 AND org <> $3`, []any{c.Size, c.NUTS, c.Org},
		func(sc func(...any) error) error {
			var org, nace string
			if err := sc(&org, &nace); err != nil {
				return err
			}
			if nace[:1] == p.Sector {
				in[org] = true
			}
			return nil
		})
	if err != nil {
		return Peers{}, fmt.Errorf("peers of %s: %w", c.Org, err)
	}
	scores, err := s.overalls(ctx, in)
	if err != nil {
		return Peers{}, fmt.Errorf("peers of %s: %w", c.Org, err)
	}
	var sum float64
	n := 0
	for _, st := range scores {
		for _, stage := range []dma.Stage{dma.T2, dma.T1, dma.T0} {
			if v, ok := st[stage]; ok {
				sum += v
				n++
				break
			}
		}
	}
	if n >= MinPeers {
		p.Companies, p.Shown, p.Overall = n, true, math.Round(sum/float64(n)*10)/10
	}
	return p, nil
}

// Evidence is what molen measures of a company's factory: the facts no
// DMA form can show, next to its answers on readiness, data and
// automation.
type Evidence struct {
	Edges    int       `json:"edges"`    // enrolled, not revoked
	Machines int       `json:"machines"` // assets with series (paths less their tag)
	Series   int       `json:"series"`
	First    time.Time `json:"first,omitzero"` // the oldest point stored
	Last     time.Time `json:"last,omitzero"`  // the newest
	Days     int       `json:"days"`           // of data, first to last
	// Services is how many marketplace services are installed for the
	// company (installs, whatever their state on its edges).
	Services int `json:"services"`
}
