package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uplink"
)

// Behaviours of a simulated edge toward the rollout's new content.
const (
	good     = "good"     // installs what it is given
	rollsBck = "rollback" // rolls the new content back (an input that cannot connect)
	stuck    = "stuck"    // fetches nothing new: never runs the new content
	away     = "offline"  // does not report at all
)

// simFleet is a fleet of simulated edges that speak to the service as the
// routes do: each poll computes the edge's manifest (GET
// /api/v1/edge/manifest) and stores its report (POST /api/v1/edge/report).
type simFleet struct {
	t       *testing.T
	s       *Service
	clock   *clocktest.Clock
	ids     []string
	behave  map[string]string
	running map[string]uint64
}

func (f *simFleet) poll() {
	f.t.Helper()
	for _, id := range f.ids {
		if f.behave[id] == away {
			continue
		}
		d, err := f.s.Desired(f.t.Context(), "acme", id)
		if err != nil {
			f.t.Fatal(err)
		}
		m := d.Manifest
		p, _ := m.Part("pipeline/temps")
		isNew := strings.Contains(string(p.Content), `"absolute":1}`)
		a := uplink.Applied{Version: m.Version, Offered: m.Version}
		switch {
		case isNew && f.behave[id] == rollsBck:
			a = uplink.Applied{Version: f.running[id], Offered: m.Version, RolledBack: true,
				Error: fmt.Sprintf("version %d rolled back: [input inputs.packer is disconnected: dial tcp: connection refused]", m.Version)}
		case isNew && f.behave[id] == stuck:
			a = uplink.Applied{Version: f.running[id], Offered: f.running[id]}
		}
		f.running[id] = a.Version
		if err := f.s.StoreReport(f.t.Context(), "acme", id, uplink.Report{Manifest: a, ReportSeconds: 10}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// round is one round of the hub's controller and the edges' polls, ten
// seconds apart.
func (f *simFleet) round() {
	f.t.Helper()
	if err := f.s.AdvanceRollouts(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	f.poll()
	f.clock.Add(10 * time.Second)
}

// runUntil runs rounds until rollout id is in state (at most 200 rounds).
func (f *simFleet) runUntil(id, state string) Rollout {
	f.t.Helper()
	for range 200 {
		r, err := f.s.Rollout(f.t.Context(), "acme", id)
		if err != nil {
			f.t.Fatal(err)
		}
		if r.State == state {
			return r
		}
		if !r.active() {
			f.t.Fatalf("rollout %s is %s (%s), want %s", id, r.State, r.Reason, state)
		}
		f.round()
	}
	f.t.Fatalf("rollout %s not %s after 200 rounds", id, state)
	return Rollout{}
}

// temps returns the deadband of pipeline/temps in the edge's manifest.
func (f *simFleet) temps(id string) string {
	f.t.Helper()
	d, err := f.s.Desired(f.t.Context(), "acme", id)
	if err != nil {
		f.t.Fatal(err)
	}
	p, _ := d.Manifest.Part("pipeline/temps")
	if strings.Contains(string(p.Content), `"absolute":1}`) {
		return "new"
	}
	return "old"
}

// newSimFleet makes n edges labelled line=press in group presses, whose
// layer holds tempsV1, each edge installed with it.
func newSimFleet(t *testing.T, db *meta.DB, n int) (*simFleet, *audit.Log) {
	t.Helper()
	ctx := t.Context()
	clock := clocktest.New(now)
	s, err := New(ctx, db, nil, clock.Now, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(ctx, db, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.RecordTo(log)
	f := &simFleet{t: t, s: s, clock: clock, behave: map[string]string{}, running: map[string]uint64{}}
	for i := range n {
		id := fmt.Sprintf("edge-%02d", i)
		if err := s.Insert(ctx, Edge{ID: id, Org: "acme", Name: id, Created: now, Enrolled: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPlace(ctx, "acme", id, Place{Site: "hall-1", Labels: map[string]string{"line": "press"}}); err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, id)
		f.behave[id] = good
	}
	if err := s.PutGroup(ctx, "acme", Group{Name: "presses", Selector: map[string]string{"line": "press"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLayer(ctx, &Layer{Org: "acme", Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV1)}}); err != nil {
		t.Fatal(err)
	}
	f.poll()
	return f, log
}

func newTemps(plan Plan) RolloutSpec {
	return RolloutSpec{Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV2)}, Plan: plan}
}

func actions(t *testing.T, log *audit.Log, id string) []string {
	t.Helper()
	es, err := log.List(t.Context(), "acme", audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Target == id {
			out = append(out, e.Action)
		}
	}
	slices.Reverse(out) // the log lists the latest first
	return out
}

// A rollout to healthy edges: the canary, then steps twice the size, at
// most max_per_minute admitted in any minute; an edge not admitted yet
// keeps the old content; at the end the new content is the layer.
func TestRolloutRamp(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, log := newSimFleet(t, db, 10)
		ctx := t.Context()
		r, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{CanaryCount: 1, MaxPerMinute: 3, StepTimeout: "5m"}))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 2, 4, 3}; !slices.Equal(r.Steps, want) {
			t.Errorf("steps %v, want %v", r.Steps, want)
		}
		if r.Counts[EdgeInstalling] != 1 || r.Counts[EdgeWaiting] != 9 {
			t.Errorf("after the start: %v, want the canary admitted", r.Counts)
		}
		canary := r.Edges[0].Edge
		if got := f.temps(canary); got != "new" {
			t.Errorf("canary %s runs the %s content", canary, got)
		}
		if got := f.temps(r.Edges[1].Edge); got != "old" {
			t.Errorf("edge %s not yet admitted computes the %s content", r.Edges[1].Edge, got)
		}
		// The layer cannot be changed under the rollout.
		if err := f.s.PutLayer(ctx, &Layer{Org: "acme", Scope: ScopeGroup, Target: "presses"}); !errors.Is(err, api.ErrConflict) {
			t.Errorf("layer changed during its rollout: %v", err)
		}
		done := f.runUntil(r.ID, RolloutCompleted)
		if done.Counts[EdgeInstalled] != 10 {
			t.Errorf("completed with %v", done.Counts)
		}
		var admitted []time.Time
		for _, e := range done.Edges {
			if e.Admitted == nil || e.Version == 0 {
				t.Fatalf("edge %+v completed without admission", e)
			}
			admitted = append(admitted, *e.Admitted)
		}
		slices.SortFunc(admitted, func(a, b time.Time) int { return a.Compare(b) })
		for i := range admitted {
			n := 0
			for _, a := range admitted[i:] {
				if a.Sub(admitted[i]) < time.Minute {
					n++
				}
			}
			if n > 3 {
				t.Errorf("%d edges admitted within a minute of %v, max_per_minute is 3", n, admitted[i])
			}
		}
		for _, id := range f.ids {
			if got := f.temps(id); got != "new" {
				t.Errorf("%s runs the %s content after completion", id, got)
			}
		}
		ls, _ := f.s.Layers(ctx, "acme")
		if len(ls) != 1 || !strings.Contains(string(ls[0].Pipelines["temps"]), `"absolute":1}`) {
			t.Errorf("layer after completion: %+v", ls)
		}
		want := []string{"rollout.started", "rollout.step.passed", "rollout.step.passed", "rollout.step.passed", "rollout.step.passed", "rollout.completed"}
		if got := actions(t, log, r.ID); !slices.Equal(got, want) {
			t.Errorf("audit %v, want %v", got, want)
		}
	})
}

// A canary that rolls the change back trips the abort threshold: the
// rollout aborts, the canary gets the old content back in a new version,
// no other edge was touched and the layer is unchanged.
func TestRolloutAbortThreshold(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, log := newSimFleet(t, db, 5)
		ctx := t.Context()
		f.behave["edge-00"] = rollsBck
		before := map[string]uint64{}
		for _, id := range f.ids {
			before[id] = f.running[id]
		}
		r, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{CanaryCount: 1}))
		if err != nil {
			t.Fatal(err)
		}
		done := f.runUntil(r.ID, RolloutAborted)
		if !strings.Contains(done.Reason, "abort threshold: 1 of 1") {
			t.Errorf("reason %q", done.Reason)
		}
		if e := done.Edges[0]; e.Edge != "edge-00" || e.State != EdgeFailed || !strings.Contains(e.Detail, "rolled back") {
			t.Errorf("canary %+v", e)
		}
		if done.Counts[EdgeWaiting] != 4 {
			t.Errorf("after the abort %v, want 4 never admitted", done.Counts)
		}
		f.poll()
		for _, id := range f.ids {
			if got := f.temps(id); got != "old" {
				t.Errorf("%s computes the %s content after the abort", id, got)
			}
		}
		if f.running["edge-00"] <= done.Edges[0].Version {
			t.Errorf("canary runs version %d after the abort, want one above the rolled-back %d", f.running["edge-00"], done.Edges[0].Version)
		}
		for _, id := range f.ids[1:] {
			if f.running[id] != before[id] {
				t.Errorf("%s went from version %d to %d though never admitted", id, before[id], f.running[id])
			}
		}
		if a, f := testutil.ToFloat64(f.s.rollouts.WithLabelValues(RolloutAborted)), testutil.ToFloat64(f.s.edgesJudged.WithLabelValues(EdgeFailed)); a != 1 || f != 1 {
			t.Errorf("counted %g aborted rollouts and %g failed edges, want 1 and 1", a, f)
		}
		if got, want := actions(t, log, r.ID), []string{"rollout.started", "rollout.aborted"}; !slices.Equal(got, want) {
			t.Errorf("audit %v, want %v", got, want)
		}
		// The layer is free again.
		if _, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{})); err != nil {
			t.Errorf("a new rollout after the abort: %v", err)
		}
	})
}

// The stuck detector: at the step's timeout an online edge that did not
// install counts as failed, an offline one is skipped; under the
// threshold the rollout goes on and completes, and the edge offline
// throughout gets the final state when it comes back.
func TestRolloutStuckStep(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, log := newSimFleet(t, db, 4)
		ctx := t.Context()
		f.behave["edge-01"] = stuck
		f.behave["edge-03"] = away
		f.clock.Add(2 * Offline) // edge-03's last report is long gone
		f.poll()
		r, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{CanaryCount: 1, MinFailures: 2, FailurePercent: ptr(50.0), StepTimeout: "1m"}))
		if err != nil {
			t.Fatal(err)
		}
		if r.Edges[3].Edge != "edge-03" {
			t.Errorf("the offline edge is not last: %+v", r.Edges)
		}
		done := f.runUntil(r.ID, RolloutCompleted)
		states := map[string]string{}
		for _, e := range done.Edges {
			states[e.Edge] = e.State + ": " + e.Detail
		}
		if !strings.HasPrefix(states["edge-01"], "failed: stuck") || !strings.HasPrefix(states["edge-03"], "skipped: offline") ||
			!strings.HasPrefix(states["edge-00"], "installed") || !strings.HasPrefix(states["edge-02"], "installed") {
			t.Errorf("edge states %v", states)
		}
		if got := actions(t, log, r.ID); !slices.Contains(got, "rollout.step.timed_out") {
			t.Errorf("audit %v lacks the timeout", got)
		}
		f.behave["edge-03"] = good
		f.poll()
		if got := f.temps("edge-03"); got != "new" {
			t.Errorf("edge-03 back: computes the %s content", got)
		}
		// The rollout ended: the next one on the layer starts.
		if _, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{})); err != nil {
			t.Errorf("the next rollout: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// Pause stops admissions, resume goes on; one active rollout per layer and
// per edge (409); people of another organisation neither see nor change
// it; a bad plan is refused naming the fields.
func TestRolloutControl(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, log := newSimFleet(t, db, 4)
		ctx := t.Context()
		r, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{CanaryCount: 1}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{})); !errors.Is(err, api.ErrConflict) {
			t.Errorf("second rollout on the layer: %v, want a conflict", err)
		}
		edgeLayer := RolloutSpec{Scope: ScopeEdge, Target: "edge-02", Settings: map[string]json.RawMessage{"poll_interval": raw(`"5s"`)}}
		if _, err := f.s.StartRollout(ctx, "acme", "usr_eng", edgeLayer); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "edge-02") {
			t.Errorf("a rollout on an edge of another running one: %v, want a conflict naming it", err)
		}
		if _, err := f.s.ChangeRollout(ctx, "globex", r.ID, ActionAbort, "usr_x"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("globex aborts acme's rollout: %v", err)
		}
		if rs, err := f.s.Rollouts(ctx, "globex"); err != nil || len(rs) != 0 {
			t.Errorf("globex lists %v, %v", rs, err)
		}
		f.round() // the canary installs
		if _, err := f.s.ChangeRollout(ctx, "acme", r.ID, ActionPause, "usr_eng"); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			f.round()
		}
		p, _ := f.s.Rollout(ctx, "acme", r.ID)
		if p.State != RolloutPaused || p.Counts[EdgeWaiting] != 3 {
			t.Errorf("paused: %s %v, want nothing more admitted", p.State, p.Counts)
		}
		if _, err := f.s.ChangeRollout(ctx, "acme", r.ID, ActionPause, "usr_eng"); !errors.Is(err, api.ErrConflict) {
			t.Errorf("pausing a paused rollout: %v", err)
		}
		if _, err := f.s.ChangeRollout(ctx, "acme", r.ID, ActionResume, "usr_eng"); err != nil {
			t.Fatal(err)
		}
		f.runUntil(r.ID, RolloutCompleted)
		if _, err := f.s.ChangeRollout(ctx, "acme", r.ID, ActionAbort, "usr_eng"); !errors.Is(err, api.ErrConflict) {
			t.Errorf("aborting a completed rollout: %v", err)
		}
		if got := actions(t, log, r.ID); !slices.Contains(got, "rollout.paused") || !slices.Contains(got, "rollout.resumed") {
			t.Errorf("audit %v lacks pause and resume", got)
		}
		for _, c := range []struct {
			spec RolloutSpec
			want []string
		}{
			{newTemps(Plan{CanaryCount: 2, CanaryPercent: 10, Ramp: 20, StepTimeout: "soon", MaxPerMinute: -1}),
				[]string{"canary_count, canary_percent", "ramp", "step_timeout", "max_per_minute"}},
			{RolloutSpec{Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(`{"match": ["a/#"], "stages": [{"smooth": {}}]}`)}},
				[]string{"pipelines.temps.stages[0]"}},
			{RolloutSpec{Scope: ScopeGroup, Target: "presses", Group: "nobody"}, []string{"group"}},
		} {
			_, err := f.s.StartRollout(ctx, "acme", "usr_eng", c.spec)
			for _, w := range c.want {
				if !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %v does not name %s", err, w)
				}
			}
		}
		if _, err := f.s.StartRollout(ctx, "acme", "usr_eng", RolloutSpec{Scope: ScopeGroup, Target: "presses", Labels: map[string]string{"line": "paint"}}); !errors.Is(err, api.ErrConflict) {
			t.Errorf("a rollout to no edge: %v", err)
		}
	})
}

// All of a rollout's state is in the database: a hub that restarts
// mid-rollout (a new service on the same database) carries on.
func TestRolloutSurvivesRestart(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, _ := newSimFleet(t, db, 6)
		r, err := f.s.StartRollout(t.Context(), "acme", "usr_eng", newTemps(Plan{CanaryCount: 1}))
		if err != nil {
			t.Fatal(err)
		}
		f.round()
		f.round()
		mid, _ := f.s.Rollout(t.Context(), "acme", r.ID)
		if mid.Step == 0 || mid.State != RolloutRunning {
			t.Fatalf("not mid-rollout: step %d %s", mid.Step, mid.State)
		}
		restarted, err := New(t.Context(), db, nil, f.clock.Now, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		f.s = restarted
		done := f.runUntil(r.ID, RolloutCompleted)
		if done.Counts[EdgeInstalled] != 6 {
			t.Errorf("after the restart: %v", done.Counts)
		}
	})
}

// An edge whose admission is under way — admitted by another controller
// round or hub that has not yet recorded the version it gets — is judged
// by that version, never by a report of what it ran before: its old
// version does not pass the canary step. (TestFleetRollout in
// internal/e2e met this state between admit's two writes.)
func TestRolloutAdmissionUnderway(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		f, _ := newSimFleet(t, db, 3)
		ctx := t.Context()
		f.behave["edge-00"] = rollsBck
		r, err := f.s.StartRollout(ctx, "acme", "usr_eng", newTemps(Plan{CanaryCount: 1}))
		if err != nil {
			t.Fatal(err)
		}
		canary := r.Edges[0]
		// The state between admit's two writes: admitted, no version yet.
		if _, err := db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET version = 0 WHERE rollout = $1 AND edge = $2`, r.ID, canary.Edge); err != nil {
			t.Fatal(err)
		}
		if err := f.s.AdvanceRollouts(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.Rollout(ctx, "acme", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e := got.Edges[0]; e.State != EdgeInstalling || e.Version != canary.Version || got.Counts[EdgeWaiting] != 2 {
			t.Fatalf("canary %+v judged by the version it ran before (want installing, version %d); counts %v", e, canary.Version, got.Counts)
		}
		done := f.runUntil(r.ID, RolloutAborted)
		if done.Counts[EdgeFailed] != 1 || done.Counts[EdgeWaiting] != 2 {
			t.Errorf("aborted with %v, want the canary failed and the others never admitted", done.Counts)
		}
	})
}
