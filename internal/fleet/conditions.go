package fleet

import (
	"context"
	"fmt"
	"time"
)

// Kinds of Condition.
const (
	// ConditionOffline: the edge has not reported for longer than its
	// offline time; Since is its last report.
	ConditionOffline = "offline"
	// ConditionBuffer: the edge holds points it has not forwarded;
	// Since is when the oldest of them was stored (the edge's own
	// account, as of its last report).
	ConditionBuffer = "buffer"
	// ConditionInput: an input of the edge is not connected (Subject is
	// its name); the report does not say since when.
	ConditionInput = "input"
)

// Condition is something wrong with an edge that a person may want to be
// told of: the edge gone quiet, data waiting on it, a machine's
// connection down.
type Condition struct {
	Edge string `json:"edge"`
	Name string `json:"name"` // the edge's name
	Site string `json:"site"`
	Kind string `json:"kind"`
	// Subject is what within the edge: the input's name, or "".
	Subject string `json:"subject,omitempty"`
	// Since is when it began, where the edge's reports say so; zero
	// where they do not (a disconnected input).
	Since  time.Time `json:"since"`
	Detail string    `json:"detail"`
}

// Conditions lists what is wrong with org's edges now, from their latest
// reports: an offline edge is only offline (what it reported before going
// quiet is stale); an edge that never reported has no conditions.
func (s *Service) Conditions(ctx context.Context, org string) ([]Condition, error) {
	edges, err := s.Inventory(ctx, org, Filter{})
	if err != nil {
		return nil, err
	}
	var out []Condition
	for _, e := range edges {
		if e.Reported == nil || e.Revoked {
			continue
		}
		c := Condition{Edge: e.ID, Name: e.Name, Site: e.Site}
		r := e.Reported.Report
		if !e.Online {
			c.Kind, c.Since = ConditionOffline, e.Reported.At
			c.Detail = fmt.Sprintf("no report since %s", e.Reported.At.UTC().Format(time.DateTime+" UTC"))
			out = append(out, c)
			continue
		}
		if r.BufferPoints > 0 && r.OldestPendingSeconds > 0 {
			b := c
			b.Kind = ConditionBuffer
			b.Since = e.Reported.At.Add(-time.Duration(r.OldestPendingSeconds * float64(time.Second)))
			b.Detail = fmt.Sprintf("%d points waiting to be forwarded", r.BufferPoints)
			if r.DiskTotal > 0 {
				b.Detail += fmt.Sprintf("; %.0f %% of its disk free", 100*float64(r.DiskFree)/float64(r.DiskTotal))
			}
			out = append(out, b)
		}
		for _, in := range r.Inputs {
			if in.State == "connected" {
				continue
			}
			i := c
			i.Kind, i.Subject = ConditionInput, in.Name
			i.Detail = fmt.Sprintf("input %s (%s) is %s", in.Name, in.Kind, in.State)
			if in.Error != "" {
				i.Detail += ": " + in.Error
			}
			out = append(out, i)
		}
	}
	return out, nil
}
