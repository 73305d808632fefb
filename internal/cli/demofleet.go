//go:build !edgeonly

package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uplink"
)

// seedFleet makes the demo's edge managed by the hub: its place (the
// simulated factory's site, with labels), a group, and the desired state
// the edge runs — the demo pipeline in the organisation's layer, the
// inputs of this run's machines in the edge's own, settings in the
// group's. The edge starts with the same content in its local files and
// then takes the hub's manifest. Two more edges are registered in other
// halls, not yet installed, so that the inventory shows a fleet, and a
// Margo device (demoMargoDevice) onboards and reports.
func seedFleet(ctx context.Context, h *hub.Hub, edgeID string, pipelineYAML, inputsYAML []byte) error {
	f := h.Fleet()
	org := hub.DefaultOrg
	if err := f.SetPlace(ctx, org, edgeID, fleet.Place{Site: "hall-1", Labels: map[string]string{"line": "assembly", "ring": "canary"}}); err != nil {
		return fmt.Errorf("demo fleet: %w", err)
	}
	if err := f.PutGroup(ctx, org, fleet.Group{Name: "assembly", Selector: map[string]string{"line": "assembly"}}); err != nil {
		return fmt.Errorf("demo fleet: %w", err)
	}
	edges, err := f.Edges(ctx, org)
	if err != nil {
		return err
	}
	if len(edges) < 3 {
		for _, e := range []struct{ name, site, line string }{{"paint-shop", "hall-2", "paint"}, {"warehouse", "hall-3", "logistics"}} {
			made, _, err := f.CreateEdge(ctx, org, e.name)
			if err != nil {
				return fmt.Errorf("demo fleet: %w", err)
			}
			if err := f.SetPlace(ctx, org, made.ID, fleet.Place{Site: e.site, Labels: map[string]string{"line": e.line}}); err != nil {
				return fmt.Errorf("demo fleet: %w", err)
			}
			// The paint shop takes changes only when the line stands
			// still: Saturday morning and weekday lunch.
			if e.line == "paint" {
				l := fleet.Layer{Org: org, Scope: fleet.ScopeEdge, Target: made.ID, Settings: map[string]json.RawMessage{
					"maintenance": json.RawMessage(`["sat 06:00-10:00", "mon-fri 12:00-12:30"]`)}}
				if err := f.PutLayer(ctx, &l); err != nil {
					return fmt.Errorf("demo fleet: %w", err)
				}
			}
		}
		if err := demoMargoDevice(ctx, h); err != nil {
			return err
		}
	}
	pipes, err := namedEntries(pipelineYAML, "pipelines", func(entry map[string]any, i int) string {
		name, _ := entry["name"].(string)
		delete(entry, "name")
		if name == "" {
			name = "pipeline-" + strconv.Itoa(i)
		}
		return name
	})
	if err != nil {
		return err
	}
	inputs, err := namedEntries(inputsYAML, "inputs", func(entry map[string]any, i int) string {
		for kind := range entry {
			return kind + "-" + strconv.Itoa(i)
		}
		return "input-" + strconv.Itoa(i)
	})
	if err != nil {
		return err
	}
	for _, l := range []fleet.Layer{
		{Scope: fleet.ScopeOrg, Pipelines: pipes},
		{Scope: fleet.ScopeGroup, Target: "assembly", Settings: map[string]json.RawMessage{"poll_interval": json.RawMessage(`"10s"`), "health_window": json.RawMessage(`"20s"`)}},
		{Scope: fleet.ScopeEdge, Target: edgeID, Inputs: inputs},
	} {
		l.Org = org
		if err := f.PutLayer(ctx, &l); err != nil {
			return fmt.Errorf("demo fleet: layer %s: %w", l.Scope, err)
		}
	}
	return nil
}

// seedDemoFleet waits until the demo's edge knows its identity (it
// enrolls as it starts) and seeds the fleet with its configuration.
func seedDemoFleet(ctx context.Context, h *hub.Hub, e *edge.Edge, rate float64, inputsYAML []byte) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(time.Minute)
	for e.Status().Edge.ID == "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return fmt.Errorf("demo fleet: the edge did not enroll within a minute")
		case <-tick.C:
		}
	}
	return seedFleet(ctx, h, e.Status().Edge.ID, []byte(demoPipeline(rate)), inputsYAML)
}

// namedEntries turns the list under key of a YAML document into JSON
// entries by the name name gives each.
func namedEntries(doc []byte, key string, name func(entry map[string]any, i int) string) (map[string]json.RawMessage, error) {
	var d map[string][]map[string]any
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("demo fleet: %s: %w", key, err)
	}
	out := map[string]json.RawMessage{}
	for i, entry := range d[key] {
		n := name(entry, i)
		b, err := json.Marshal(entry)
		if err != nil {
			return nil, fmt.Errorf("demo fleet: %s.%s: %w", key, n, err)
		}
		out[n] = b
	}
	return out, nil
}

// demoRollout rolls a pipeline for hall-1's climate sensors out to the
// hall's edges once the demo's edge reports healthy, so that Fleet →
// Rollouts shows one going canary first and completing (after the edge's
// health window). Not when the demo's data holds a rollout already.
func demoRollout(ctx context.Context, h *hub.Hub, log *slog.Logger) {
	f := h.Fleet()
	if rs, err := f.Rollouts(ctx, hub.DefaultOrg); err != nil || len(rs) > 0 {
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if inv, err := f.Inventory(ctx, hub.DefaultOrg, fleet.Filter{Site: "hall-1", Health: "ok"}); err == nil && len(inv) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	spec := fleet.RolloutSpec{Scope: fleet.ScopeSite, Target: "hall-1", Pipelines: map[string]json.RawMessage{
		"hall-climate": json.RawMessage(`{"match": ["demo-factory/hall-1/climate/+/humidity_pct"], "stages": [{"deadband": {"absolute": 1}}]}`)},
		Plan: fleet.Plan{CanaryCount: 1, StepTimeout: "5m"}}
	if _, err := f.StartRollout(ctx, hub.DefaultOrg, "system", spec); err != nil && ctx.Err() == nil {
		log.Warn("demo rollout not started", "err", err)
	}
}

// seedRelease lists the demo's own binary as a release of its version,
// signed with the run's release key, so that Fleet → Software and the
// layer editor's choice of version show a release. A hub that lists a
// release already (an earlier run) is left as it is.
func seedRelease(ctx context.Context, h *hub.Hub, key ed25519.PrivateKey) error {
	rels, err := h.Fleet().Releases(ctx)
	if err != nil || len(rels) > 0 {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env, err := uplink.SignRelease(key, self, uplink.Release{Version: Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
	if err != nil {
		return err
	}
	f, err := os.Open(self)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = h.Fleet().AddRelease(ctx, env, f, "demo")
	return err
}
