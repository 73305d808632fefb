package fleet

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// benchFleet is a fleet of n edges in group presses, with the group's
// layer of tempsV1 and a report from each, on SQLite.
func benchFleet(b *testing.B, n int) (*Service, *clocktest.Clock) {
	b.Helper()
	ctx := b.Context()
	db, err := meta.OpenSQLite(ctx, filepath.Join(b.TempDir(), "meta.db"), meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	clock := clocktest.New(now)
	s, err := New(ctx, db, nil, clock.Now, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("edge-%04d", i)
		if err := s.Insert(ctx, Edge{ID: id, Org: "acme", Name: id, Created: now, Enrolled: now}); err != nil {
			b.Fatal(err)
		}
		if err := s.SetPlace(ctx, "acme", id, Place{Labels: map[string]string{"line": "press"}}); err != nil {
			b.Fatal(err)
		}
		if err := s.StoreReport(ctx, "acme", id, uplink.Report{ReportSeconds: 30}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.PutGroup(ctx, "acme", Group{Name: "presses", Selector: map[string]string{"line": "press"}}); err != nil {
		b.Fatal(err)
	}
	if err := s.PutLayer(ctx, &Layer{Org: "acme", Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV1)}}); err != nil {
		b.Fatal(err)
	}
	return s, clock
}

// BenchmarkDesired is the cost of one manifest request's computation in a
// fleet of 1,000 edges, without a rollout and with one that has admitted
// the edge (the extra lookup Desired makes for every request).
func BenchmarkDesired(b *testing.B) {
	for _, during := range []bool{false, true} {
		b.Run(fmt.Sprintf("rollout=%v", during), func(b *testing.B) {
			s, _ := benchFleet(b, 1000)
			if during {
				spec := RolloutSpec{Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV2)}}
				if _, err := s.StartRollout(b.Context(), "acme", "usr_bench", spec); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Desired(b.Context(), "acme", "edge-0000"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdvanceRollouts is the cost of one round of the controller over
// a running rollout of 1,000 edges, all admitted and installing.
func BenchmarkAdvanceRollouts(b *testing.B) {
	s, clock := benchFleet(b, 1000)
	spec := RolloutSpec{Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV2)},
		Plan: Plan{CanaryPercent: 100, MaxPerMinute: 100000, StepTimeout: "24h"}}
	r, err := s.StartRollout(b.Context(), "acme", "usr_bench", spec)
	if err != nil {
		b.Fatal(err)
	}
	if r.Counts[EdgeInstalling] != 1000 {
		b.Fatalf("admitted %v", r.Counts)
	}
	clock.Add(time.Second)
	b.ResetTimer()
	for b.Loop() {
		if err := s.AdvanceRollouts(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
