package fleet

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

// The states of a rollout. Running and paused rollouts are active: they
// hold their layer and their edges (ADR 0019).
const (
	RolloutRunning   = "running"
	RolloutPaused    = "paused"
	RolloutCompleted = "completed"
	RolloutAborted   = "aborted"
)

// The states of an edge in a rollout.
const (
	EdgeWaiting    = "waiting"    // not admitted yet: runs the layer's old content
	EdgeInstalling = "installing" // admitted: offered the new content, not yet judged
	EdgeInstalled  = "installed"  // reports the new version running
	EdgeFailed     = "failed"     // refused it, failed it, rolled it back, or stuck
	EdgeSkipped    = "skipped"    // offline when admitted or at its step's timeout
)

// Plan is how a rollout grows: a canary step of CanaryCount edges (or
// CanaryPercent of them), then steps Ramp times the size of the one
// before, at most MaxPerMinute edges admitted in any minute. It is aborted
// once at least MinFailures of its admitted edges failed and they are at
// least FailurePercent of them. A step whose edges are not all judged
// StepTimeout after its last one was admitted is judged by the stuck
// detector.
type Plan struct {
	CanaryCount    int      `json:"canary_count,omitempty"`
	CanaryPercent  float64  `json:"canary_percent,omitempty"`
	Ramp           int      `json:"ramp"`
	MaxPerMinute   int      `json:"max_per_minute"`
	FailurePercent *float64 `json:"failure_percent,omitempty"`
	MinFailures    int      `json:"min_failures"`
	StepTimeout    string   `json:"step_timeout"`
}

// The plan's defaults (docs/fleet.md#rollouts).
const (
	DefaultRamp           = 2
	DefaultMaxPerMinute   = 60
	DefaultFailurePercent = 10.0
	DefaultMinFailures    = 1
	DefaultStepTimeout    = "10m"
)

// RolloutSpec is what a rollout changes and where: the new content of one
// layer (scope and target as a layer's) for the edges the layer applies
// to that match Labels (as a group's selector; none: all of them) and
// belong to Group (if given).
type RolloutSpec struct {
	Scope     string                     `json:"scope"`
	Target    string                     `json:"target"`
	Inputs    map[string]json.RawMessage `json:"inputs,omitempty"`
	Pipelines map[string]json.RawMessage `json:"pipelines,omitempty"`
	Settings  map[string]json.RawMessage `json:"settings,omitempty"`
	Labels    map[string]string          `json:"labels,omitempty"`
	Group     string                     `json:"group,omitempty"`
	Plan
}

// layer is the new content as a layer of org.
func (sp RolloutSpec) layer(org string) Layer {
	return Layer{Org: org, Scope: sp.Scope, Target: sp.Target, Inputs: sp.Inputs, Pipelines: sp.Pipelines, Settings: sp.Settings}
}

// withDefaults fills what the plan leaves out.
func (p Plan) withDefaults() Plan {
	if p.CanaryCount == 0 && p.CanaryPercent == 0 {
		p.CanaryCount = 1
	}
	if p.Ramp == 0 {
		p.Ramp = DefaultRamp
	}
	if p.MaxPerMinute == 0 {
		p.MaxPerMinute = DefaultMaxPerMinute
	}
	if p.FailurePercent == nil {
		f := DefaultFailurePercent
		p.FailurePercent = &f
	}
	if p.MinFailures == 0 {
		p.MinFailures = DefaultMinFailures
	}
	if p.StepTimeout == "" {
		p.StepTimeout = DefaultStepTimeout
	}
	return p
}

// Validate checks a plan with its defaults filled in; its error names
// every field at fault.
func (p Plan) Validate() error {
	var errs []string
	switch {
	case p.CanaryCount != 0 && p.CanaryPercent != 0:
		errs = append(errs, "canary_count, canary_percent: give one of them")
	case p.CanaryCount < 0 || p.CanaryCount > 100000:
		errs = append(errs, "canary_count: must be 1..100000")
	case p.CanaryPercent < 0 || p.CanaryPercent > 100 || math.IsNaN(p.CanaryPercent):
		errs = append(errs, "canary_percent: must be above 0 and at most 100")
	}
	if p.Ramp < 1 || p.Ramp > 10 {
		errs = append(errs, "ramp: must be 1..10 (each step this many times the one before)")
	}
	if p.MaxPerMinute < 1 || p.MaxPerMinute > 100000 {
		errs = append(errs, "max_per_minute: must be 1..100000")
	}
	if f := p.FailurePercent; f != nil && (*f < 0 || *f > 100 || math.IsNaN(*f)) {
		errs = append(errs, "failure_percent: must be 0..100")
	}
	if p.MinFailures < 1 || p.MinFailures > 100000 {
		errs = append(errs, "min_failures: must be 1..100000")
	}
	if d, err := time.ParseDuration(p.StepTimeout); err != nil || d < time.Second || d > 7*24*time.Hour {
		errs = append(errs, fmt.Sprintf("step_timeout: %q: want a duration from 1s to 168h, such as \"10m\"", p.StepTimeout))
	}
	if len(errs) > 0 {
		return api.BadRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (p Plan) timeout() time.Duration {
	d, _ := time.ParseDuration(p.StepTimeout)
	return d
}

// Steps returns the sizes of the steps of a rollout over n edges: the
// canary (at least one edge), then each step Ramp times the one before,
// the last one what remains.
func (p Plan) Steps(n int) []int {
	if n == 0 {
		return nil
	}
	size := p.CanaryCount
	if p.CanaryPercent > 0 {
		size = int(math.Ceil(p.CanaryPercent * float64(n) / 100))
	}
	size = max(1, size)
	var out []int
	for left := n; left > 0; size *= max(1, p.Ramp) {
		step := min(size, left)
		out = append(out, step)
		left -= step
	}
	return out
}

// exceeded reports whether failed of admitted edges trip the abort
// threshold.
func (p Plan) exceeded(failed, admitted int) bool {
	return failed >= p.MinFailures && admitted > 0 && float64(failed)*100 >= *p.FailurePercent*float64(admitted)
}

// RolloutEdge is one edge of a rollout.
type RolloutEdge struct {
	Edge     string     `json:"edge"`
	Step     int        `json:"step"` // -1 until admitted
	State    string     `json:"state"`
	Version  uint64     `json:"version,omitempty"` // the manifest version it must run
	Admitted *time.Time `json:"admitted,omitempty"`
	Detail   string     `json:"detail,omitempty"`
	ord      int
}

// Rollout is a rollout with its progress.
type Rollout struct {
	ID   string      `json:"id"`
	Org  string      `json:"-"`
	Spec RolloutSpec `json:"spec"`
	// Previous is the layer's content when the rollout started (nil: the
	// layer did not exist); the edges not admitted run it, and all of
	// them again after an abort.
	Previous    *Layer     `json:"previous"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Step        int        `json:"step"`
	Steps       []int      `json:"steps"`
	StepStarted *time.Time `json:"step_started,omitempty"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
	CreatedBy   string     `json:"created_by"`
	// Counts are the edges by state.
	Counts map[string]int `json:"counts"`
	Edges  []RolloutEdge  `json:"edges"`
}

func (r *Rollout) active() bool { return r.State == RolloutRunning || r.State == RolloutPaused }

func (r *Rollout) count() {
	r.Counts = map[string]int{EdgeWaiting: 0, EdgeInstalling: 0, EdgeInstalled: 0, EdgeFailed: 0, EdgeSkipped: 0}
	for _, e := range r.Edges {
		r.Counts[e.State]++
	}
	r.Steps = r.Spec.Steps(len(r.Edges))
}

// StartRollout validates spec, chooses its edges (the layer's, by the
// selector; online ones first, then by ID) and starts it on behalf of
// actor. A running or paused rollout of the same layer, or one holding
// any of the same edges, is api.ErrConflict; so is no edge to roll out
// to.
func (s *Service) StartRollout(ctx context.Context, org, actor string, spec RolloutSpec) (Rollout, error) {
	spec.Plan = spec.Plan.withDefaults()
	l := spec.layer(org)
	verr := l.Validate()
	if err := spec.Plan.Validate(); err != nil || verr != nil {
		return Rollout{}, api.BadRequest("%s", strings.Join(badRequestText(verr, err), "; "))
	}
	if spec.Group != "" {
		if err := s.targetExists(ctx, org, ScopeGroup, spec.Group); err != nil {
			return Rollout{}, api.BadRequest("group: %q is not a group of this organisation", spec.Group)
		}
	}
	if len(spec.Labels) > 0 {
		if err := (Place{Labels: spec.Labels}).Validate(); err != nil {
			return Rollout{}, api.BadRequest("labels: %s", badRequestText(err)[0])
		}
	}
	if err := s.targetExists(ctx, org, l.Scope, l.Target); err != nil {
		return Rollout{}, err
	}
	inv, err := s.Inventory(ctx, org, Filter{Labels: spec.Labels, Group: spec.Group})
	if err != nil {
		return Rollout{}, err
	}
	var chosen []InventoryEdge
	for _, e := range inv {
		if applies(l, e.ID, e.Site, e.Groups) && !e.Revoked {
			chosen = append(chosen, e)
		}
	}
	if len(chosen) == 0 {
		return Rollout{}, fmt.Errorf("%w: no edge matches the selector and holds layer %s", api.ErrConflict, layerLabel(l))
	}
	slices.SortStableFunc(chosen, func(a, b InventoryEdge) int {
		if a.Online != b.Online {
			if a.Online {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var prev *Layer
	ls, err := s.Layers(ctx, org)
	if err != nil {
		return Rollout{}, err
	}
	for _, x := range ls {
		if x.Scope == l.Scope && x.Target == l.Target {
			prev = &x
		}
	}
	now := s.now()
	r := Rollout{ID: "ro-" + secret.New("")[:12], Org: org, Spec: spec, Previous: prev, State: RolloutRunning,
		Created: now, Updated: now, CreatedBy: actor}
	specDoc, _ := json.Marshal(spec)
	prevDoc := []byte("null")
	if prev != nil {
		prevDoc, _ = json.Marshal(prev)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_rollouts (id, org, scope, target, spec, previous, state, reason, step, step_started, created, updated, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', 0, 0, $8, $8, $9)`,
			r.ID, org, l.Scope, l.Target, string(specDoc), string(prevDoc), r.State, meta.Nanos(now), actor); err != nil {
			if meta.Unique(err) {
				return fmt.Errorf("%w: layer %s has a rollout that is still running or paused", api.ErrConflict, layerLabel(l))
			}
			return err
		}
		for i, e := range chosen {
			// The unique index on active edges refuses an edge of another
			// running or paused rollout, whichever hub started it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_rollout_edges (rollout, edge, org, ord, step, state, version, admitted, detail, active)
				VALUES ($1, $2, $3, $4, -1, $5, 0, 0, '', 1)`, r.ID, e.ID, org, i, EdgeWaiting); err != nil {
				if meta.Unique(err) {
					return fmt.Errorf("%w: edge %s is in another rollout that is still running or paused", api.ErrConflict, e.ID)
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, api.ErrConflict) {
			return Rollout{}, err
		}
		return Rollout{}, fmt.Errorf("start rollout of %s: %w", layerLabel(l), err)
	}
	s.record(ctx, audit.Entry{Org: org, Actor: actor, Action: "rollout.started", Target: r.ID, Detail: map[string]string{
		"layer": layerLabel(l), "edges": fmt.Sprint(len(chosen)), "steps": fmt.Sprint(spec.Steps(len(chosen)))}})
	if err := s.advance(ctx, r.ID); err != nil {
		return Rollout{}, err
	}
	return s.Rollout(ctx, org, r.ID)
}

// badRequestText are the messages of the errors given, without the
// "bad request: " each one starts with.
func badRequestText(errs ...error) []string {
	var out []string
	for _, err := range errs {
		if err != nil {
			out = append(out, strings.TrimPrefix(err.Error(), api.ErrBadRequest.Error()+": "))
		}
	}
	return out
}

// applies reports whether layer l applies to an edge with id at site in
// groups.
func applies(l Layer, id, site string, groups []string) bool {
	switch l.Scope {
	case ScopeSite:
		return site != "" && site == l.Target
	case ScopeGroup:
		return slices.Contains(groups, l.Target)
	case ScopeEdge:
		return id == l.Target
	}
	return true
}

const rolloutColumns = `id, org, spec, previous, state, reason, step, step_started, created, updated, created_by`

func scanRollout(sc scanner) (Rollout, error) {
	var r Rollout
	var spec, prev string
	var started, created, updated int64
	if err := meta.Found(sc.Scan(&r.ID, &r.Org, &spec, &prev, &r.State, &r.Reason, &r.Step, &started, &created, &updated, &r.CreatedBy)); err != nil {
		return Rollout{}, err
	}
	if err := json.Unmarshal([]byte(spec), &r.Spec); err != nil {
		return Rollout{}, fmt.Errorf("rollout %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(prev), &r.Previous); err != nil {
		return Rollout{}, fmt.Errorf("rollout %s: %w", r.ID, err)
	}
	if started != 0 {
		t := meta.Time(started)
		r.StepStarted = &t
	}
	r.Created, r.Updated = meta.Time(created), meta.Time(updated)
	return r, nil
}

// Rollout returns a rollout of org with its edges; meta.ErrNotFound for
// none (also for another organisation's).
func (s *Service) Rollout(ctx context.Context, org, id string) (Rollout, error) {
	r, err := scanRollout(s.db.QueryRowContext(ctx, `SELECT `+rolloutColumns+` FROM fleet_rollouts WHERE org = $1 AND id = $2`, org, id))
	if err != nil {
		return Rollout{}, fmt.Errorf("rollout %s of %s: %w", id, org, err)
	}
	if r.Edges, err = s.rolloutEdges(ctx, id); err != nil {
		return Rollout{}, err
	}
	r.count()
	return r, nil
}

// Rollouts lists the rollouts of org, the latest first, without their
// edges (Counts says how many are in which state).
func (s *Service) Rollouts(ctx context.Context, org string) ([]Rollout, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rolloutColumns+` FROM fleet_rollouts WHERE org = $1`, org)
	if err != nil {
		return nil, fmt.Errorf("rollouts of %s: %w", org, err)
	}
	defer rows.Close()
	out := []Rollout{}
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, fmt.Errorf("rollouts of %s: %w", org, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rollouts of %s: %w", org, err)
	}
	counts, err := s.db.QueryContext(ctx, `SELECT rollout, state, COUNT(*) FROM fleet_rollout_edges WHERE org = $1 GROUP BY rollout, state`, org)
	if err != nil {
		return nil, fmt.Errorf("rollouts of %s: %w", org, err)
	}
	defer counts.Close()
	by := map[string]map[string]int{}
	for counts.Next() {
		var id, state string
		var n int
		if err := counts.Scan(&id, &state, &n); err != nil {
			return nil, fmt.Errorf("rollouts of %s: %w", org, err)
		}
		if by[id] == nil {
			by[id] = map[string]int{}
		}
		by[id][state] = n
	}
	for i := range out {
		r := &out[i]
		r.count()
		n := 0
		for st, c := range by[r.ID] {
			r.Counts[st] = c
			n += c
		}
		r.Steps = r.Spec.Steps(n)
		r.Edges = []RolloutEdge{}
	}
	slices.SortFunc(out, func(a, b Rollout) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, counts.Err()
}

func (s *Service) rolloutEdges(ctx context.Context, id string) ([]RolloutEdge, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT edge, ord, step, state, version, admitted, detail FROM fleet_rollout_edges WHERE rollout = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("edges of rollout %s: %w", id, err)
	}
	defer rows.Close()
	out := []RolloutEdge{}
	for rows.Next() {
		var e RolloutEdge
		var v, at int64
		if err := rows.Scan(&e.Edge, &e.ord, &e.Step, &e.State, &v, &at, &e.Detail); err != nil {
			return nil, fmt.Errorf("edges of rollout %s: %w", id, err)
		}
		e.Version = uint64(v)
		if at != 0 {
			t := meta.Time(at)
			e.Admitted = &t
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b RolloutEdge) int { return a.ord - b.ord })
	return out, rows.Err()
}

// The actions on a rollout that people take.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionAbort  = "abort"
)

// ChangeRollout pauses, resumes or aborts a rollout of org on behalf of
// actor. Pausing stops admissions and timeouts (admitted edges keep the
// new content); resuming restarts the step's timeout; aborting returns
// every admitted edge to the layer's old content. A rollout that is not
// in a state the action applies to is api.ErrConflict.
func (s *Service) ChangeRollout(ctx context.Context, org, id, action, actor string) (Rollout, error) {
	r, err := s.Rollout(ctx, org, id)
	if err != nil {
		return Rollout{}, err
	}
	var from []string
	to, reason := "", ""
	switch action {
	case ActionPause:
		from, to = []string{RolloutRunning}, RolloutPaused
	case ActionResume:
		from, to = []string{RolloutPaused}, RolloutRunning
	case ActionAbort:
		from, to, reason = []string{RolloutRunning, RolloutPaused}, RolloutAborted, "aborted by "+actor
	default:
		return Rollout{}, fmt.Errorf("rollout action %q: %w", action, meta.ErrNotFound)
	}
	now := meta.Nanos(s.now())
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// A resumed step's timeout runs from now again, if it had begun.
		err := meta.Changed(tx.ExecContext(ctx, `UPDATE fleet_rollouts SET state = $1, reason = CASE WHEN $2 = '' THEN reason ELSE $2 END, updated = $3,
			step_started = CASE WHEN $1 = 'running' AND step_started <> 0 THEN $3 ELSE step_started END
			WHERE org = $4 AND id = $5 AND state IN ($6, $7)`, to, reason, now, org, id, from[0], from[len(from)-1]))
		if err == nil && to == RolloutAborted {
			_, err = tx.ExecContext(ctx, `UPDATE fleet_rollout_edges SET active = 0 WHERE rollout = $1`, id)
		}
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return Rollout{}, fmt.Errorf("%w: rollout %s is %s: it cannot %s", api.ErrConflict, id, r.State, action)
	}
	if err != nil {
		return Rollout{}, fmt.Errorf("%s rollout %s: %w", action, id, err)
	}
	done := map[string]string{ActionPause: "paused", ActionResume: "resumed", ActionAbort: "aborted"}[action]
	if to == RolloutAborted {
		s.wake.notify(org) // the admitted edges go back to the old content
		s.rollouts.WithLabelValues(to).Inc()
	}
	s.record(ctx, audit.Entry{Org: org, Actor: actor, Action: "rollout." + done, Target: id, Detail: map[string]string{
		"layer": layerLabel(r.Spec.layer(org)), "step": fmt.Sprint(r.Step)}})
	return s.Rollout(ctx, org, id)
}

// AdvanceRollouts moves every running rollout on as far as the edges'
// reports allow (ADR 0019): it judges admitted edges, applies the stuck
// detector and the abort threshold, admits edges up to the step's size
// and the rate, and passes steps or completes. The hub calls it on a
// ticker under a lease; all of its state is in the database, so another
// hub (or this one after a restart) carries on where it stopped.
func (s *Service) AdvanceRollouts(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM fleet_rollouts WHERE state = $1`, RolloutRunning)
	if err != nil {
		return fmt.Errorf("running rollouts: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("running rollouts: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("running rollouts: %w", err)
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.advance(ctx, id))
	}
	return errors.Join(errs...)
}

// RunRollouts calls AdvanceRollouts every interval while hold (the
// lease, nil: always) says this hub runs the job, until ctx ends.
func (s *Service) RunRollouts(ctx context.Context, every time.Duration, hold func(context.Context) bool) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if hold == nil || hold(ctx) {
			if err := s.AdvanceRollouts(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("rollouts", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// judge is the state of an edge admitted for version v, by its latest
// report: installed once it runs v or later; failed once it was offered v
// or later and says why it does not run it.
func judge(v uint64, rep *Reported) (string, string) {
	if rep == nil {
		return EdgeInstalling, ""
	}
	a := rep.Report.Manifest
	switch {
	case a.Version >= v:
		return EdgeInstalled, ""
	case a.Offered >= v && a.Error != "":
		return EdgeFailed, a.Error
	}
	return EdgeInstalling, ""
}

// advance moves one running rollout on (AdvanceRollouts).
func (s *Service) advance(ctx context.Context, id string) error {
	r, err := scanRollout(s.db.QueryRowContext(ctx, `SELECT `+rolloutColumns+` FROM fleet_rollouts WHERE id = $1`, id))
	if err != nil {
		return fmt.Errorf("rollout %s: %w", id, err)
	}
	if r.State != RolloutRunning {
		return nil
	}
	if r.Edges, err = s.rolloutEdges(ctx, id); err != nil {
		return err
	}
	reports, err := s.reports(ctx, r.Org)
	if err != nil {
		return err
	}
	now := s.now()
	online := func(edge string) bool {
		rep, ok := reports[edge]
		return ok && now.Sub(rep.At) < offline(rep.Report)
	}
	set := func(e *RolloutEdge, state, detail string) error {
		e.State, e.Detail = state, detail
		if state == EdgeFailed || state == EdgeSkipped {
			s.edgesJudged.WithLabelValues(state).Inc()
		}
		return meta.Changed(s.db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET state = $1, detail = $2 WHERE rollout = $3 AND edge = $4`, state, detail, id, e.Edge))
	}
	plan := r.Spec.Plan
	steps := plan.Steps(len(r.Edges))

	// Judge the admitted edges by their reports; a skipped edge that came
	// back and installed counts as installed.
	for i := range r.Edges {
		e := &r.Edges[i]
		if e.State != EdgeInstalling && e.State != EdgeSkipped {
			continue
		}
		if e.Version == 0 && e.State == EdgeInstalling {
			// Its admission is under way in another round or hub (admit
			// writes the step, then the version), or was cut short by a
			// restart. Judged by "version 0", any report would pass it;
			// its version is what its manifest is now that it is admitted.
			d, err := s.Desired(ctx, r.Org, e.Edge)
			if errors.Is(err, meta.ErrNotFound) {
				continue // gone: admit marks it skipped
			} else if err != nil {
				return err
			}
			e.Version = d.Manifest.Version
			if _, err := s.db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET version = $1 WHERE rollout = $2 AND edge = $3 AND version = 0`,
				int64(e.Version), id, e.Edge); err != nil {
				return fmt.Errorf("version of edge %s in rollout %s: %w", e.Edge, id, err)
			}
		}
		var rep *Reported
		if x, ok := reports[e.Edge]; ok {
			rep = &x
		}
		st, why := judge(e.Version, rep)
		if e.State == EdgeSkipped && st != EdgeInstalled {
			continue
		}
		if st != e.State {
			if err := set(e, st, why); err != nil {
				return err
			}
		}
	}
	// The stuck detector: the step's edges not judged in its timeout are
	// skipped when offline (they get the change when they return) and
	// failed when online.
	if r.StepStarted != nil && now.Sub(*r.StepStarted) >= plan.timeout() {
		var stuck, gone int
		for i := range r.Edges {
			e := &r.Edges[i]
			if e.Step != r.Step || e.State != EdgeInstalling {
				continue
			}
			var err error
			if online(e.Edge) {
				stuck++
				err = set(e, EdgeFailed, fmt.Sprintf("stuck: version %d not running %s after the step's last admission", e.Version, plan.StepTimeout))
			} else {
				gone++
				err = set(e, EdgeSkipped, "offline at the step's timeout: gets the change when it returns")
			}
			if err != nil {
				return err
			}
		}
		if stuck+gone > 0 {
			s.record(ctx, audit.Entry{Org: r.Org, Actor: "system", Action: "rollout.step.timed_out", Target: id, Detail: map[string]string{
				"step": fmt.Sprint(r.Step), "stuck": fmt.Sprint(stuck), "offline": fmt.Sprint(gone)}})
		}
	}
	// The abort threshold, over every edge admitted and not skipped.
	var admitted, failed, inStep, installedInStep, judgedInStep int
	for _, e := range r.Edges {
		if e.Step < 0 {
			continue
		}
		if e.State != EdgeSkipped {
			admitted++
		}
		if e.State == EdgeFailed {
			failed++
		}
		if e.Step == r.Step {
			inStep++
			if e.State != EdgeInstalling {
				judgedInStep++
			}
			if e.State == EdgeInstalled {
				installedInStep++
			}
		}
	}
	if plan.exceeded(failed, admitted) {
		return s.finish(ctx, &r, RolloutAborted, fmt.Sprintf("abort threshold: %d of %d admitted edges failed (at least %d and %g %%)",
			failed, admitted, plan.MinFailures, *plan.FailurePercent))
	}

	// Admit the step's edges, at most MaxPerMinute in any minute.
	if r.Step < len(steps) && inStep < steps[r.Step] {
		var lastMinute int
		for _, e := range r.Edges {
			if e.Admitted != nil && now.Sub(*e.Admitted) < time.Minute {
				lastMinute++
			}
		}
		for i := range r.Edges {
			e := &r.Edges[i]
			if inStep == steps[r.Step] || lastMinute >= plan.MaxPerMinute {
				break
			}
			if e.Step >= 0 {
				continue
			}
			if err := s.admit(ctx, &r, e, online(e.Edge), now); err != nil {
				return err
			}
			inStep++
			lastMinute++
			if e.State != EdgeInstalling {
				judgedInStep++
			}
		}
		if inStep < steps[r.Step] {
			return nil
		}
		if err := meta.Changed(s.db.ExecContext(ctx, `UPDATE fleet_rollouts SET step_started = $1, updated = $1 WHERE id = $2 AND state = $3`,
			meta.Nanos(now), id, RolloutRunning)); err != nil {
			return ignoreGone(err)
		}
		// Edges admitted now are judged at the next round, from their
		// next report.
		return nil
	}
	if judgedInStep < inStep {
		return nil
	}
	// The step is judged: it passes, unless it is the canary and no edge of
	// it installed (all offline: nothing was shown).
	if r.Step == 0 && installedInStep == 0 {
		return s.finish(ctx, &r, RolloutAborted, "no edge of the canary installed the change (they failed, or were offline): nothing to judge the rollout by")
	}
	s.record(ctx, audit.Entry{Org: r.Org, Actor: "system", Action: "rollout.step.passed", Target: id, Detail: map[string]string{
		"step": fmt.Sprint(r.Step), "edges": fmt.Sprint(inStep), "installed": fmt.Sprint(installedInStep)}})
	if r.Step+1 < len(steps) {
		err := meta.Changed(s.db.ExecContext(ctx, `UPDATE fleet_rollouts SET step = $1, step_started = 0, updated = $2 WHERE id = $3 AND state = $4 AND step = $5`,
			r.Step+1, meta.Nanos(now), id, RolloutRunning, r.Step))
		if err != nil {
			return ignoreGone(err)
		}
		return s.advance(ctx, id)
	}
	return s.finish(ctx, &r, RolloutCompleted, "")
}

// ignoreGone treats a rollout that changed state meanwhile (paused,
// aborted by a person) as done with: its next round sees the new state.
func ignoreGone(err error) error {
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	}
	return err
}

// admit lets edge e into the rollout's current step: from now its manifest
// holds the new content. An edge that is offline is skipped (it is not
// waited for, and gets the change when it returns).
func (s *Service) admit(ctx context.Context, r *Rollout, e *RolloutEdge, online bool, now time.Time) error {
	state, detail := EdgeInstalling, ""
	if !online {
		state, detail = EdgeSkipped, "offline when admitted: gets the change when it returns"
		s.edgesJudged.WithLabelValues(state).Inc()
	}
	if err := meta.Changed(s.db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET step = $1, state = $2, admitted = $3, detail = $4 WHERE rollout = $5 AND edge = $6`,
		r.Step, state, meta.Nanos(now), detail, r.ID, e.Edge)); err != nil {
		return fmt.Errorf("admit edge %s to rollout %s: %w", e.Edge, r.ID, err)
	}
	d, err := s.Desired(ctx, r.Org, e.Edge)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		state, detail = EdgeSkipped, "no longer an edge of the organisation"
		_, err = s.db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET state = $1, detail = $2 WHERE rollout = $3 AND edge = $4`,
			state, detail, r.ID, e.Edge)
	case err == nil:
		// The version only, not the state: another round may have judged
		// the edge meanwhile (it records the version itself when it finds
		// none).
		_, err = s.db.ExecContext(ctx, `UPDATE fleet_rollout_edges SET version = $1 WHERE rollout = $2 AND edge = $3`,
			int64(d.Manifest.Version), r.ID, e.Edge)
	}
	if err != nil {
		return fmt.Errorf("admit edge %s to rollout %s: %w", e.Edge, r.ID, err)
	}
	t := now
	e.Step, e.State, e.Detail, e.Version, e.Admitted = r.Step, state, detail, d.Manifest.Version, &t
	s.wake.notify(e.Edge) // its long poll fetches the new manifest now
	return nil
}

// finish ends a running rollout: completed, its new content becomes the
// layer; aborted, the layer stays as it was and every edge computes its
// manifest from it again (a new version for the admitted ones).
func (s *Service) finish(ctx context.Context, r *Rollout, state, reason string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if state == RolloutCompleted {
			l := r.Spec.layer(r.Org)
			doc, err := json.Marshal(Layer{Inputs: compactAll(l.Inputs), Pipelines: compactAll(l.Pipelines), Settings: compactAll(l.Settings)})
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_layers (org, scope, target, doc, updated) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (org, scope, target) DO UPDATE SET doc = excluded.doc, updated = excluded.updated`,
				r.Org, l.Scope, l.Target, string(doc), meta.Nanos(s.now())); err != nil {
				return err
			}
		}
		if err := meta.Changed(tx.ExecContext(ctx, `UPDATE fleet_rollouts SET state = $1, reason = $2, updated = $3 WHERE id = $4 AND state = $5`,
			state, reason, meta.Nanos(s.now()), r.ID, RolloutRunning)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE fleet_rollout_edges SET active = 0 WHERE rollout = $1`, r.ID)
		return err
	})
	if err != nil {
		return ignoreGone(err)
	}
	detail := map[string]string{"layer": layerLabel(r.Spec.layer(r.Org)), "step": fmt.Sprint(r.Step)}
	if reason != "" {
		detail["reason"] = reason
	}
	s.wake.notify(r.Org) // the layer changed, or the admitted edges go back
	s.rollouts.WithLabelValues(state).Inc()
	s.record(ctx, audit.Entry{Org: r.Org, Actor: "system", Action: "rollout." + state, Target: r.ID, Detail: detail})
	s.log.Info("rollout "+state, "rollout", r.ID, "org", r.Org, "reason", reason)
	return nil
}

// rolloutLayer returns the new content of the active rollout that has
// admitted edge, if any: Desired uses it in place of the layer it changes.
func (s *Service) rolloutLayer(ctx context.Context, org, edge string) (*Layer, error) {
	var spec string
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT r.spec FROM fleet_rollout_edges e JOIN fleet_rollouts r ON r.id = e.rollout
		WHERE e.edge = $1 AND e.org = $2 AND e.step >= 0 AND e.active = 1`, edge, org).Scan(&spec))
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollout of edge %s: %w", edge, err)
	}
	var sp RolloutSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return nil, fmt.Errorf("rollout of edge %s: %w", edge, err)
	}
	l := sp.layer(org)
	return &l, nil
}

// checkNoRollout refuses (api.ErrConflict) a change of a layer that an
// active rollout is changing.
func (s *Service) checkNoRollout(ctx context.Context, org, scope, target string) error {
	var id string
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT id FROM fleet_rollouts WHERE org = $1 AND scope = $2 AND target = $3 AND state IN ('running', 'paused')`,
		org, scope, target).Scan(&id))
	switch {
	case err == nil:
		return fmt.Errorf("%w: rollout %s is changing this layer: wait for it, or abort it", api.ErrConflict, id)
	case errors.Is(err, meta.ErrNotFound):
		return nil
	}
	return fmt.Errorf("rollouts of layer %s/%s: %w", scope, target, err)
}

// withRollout replaces, in layers (sorted as Layers sorts them), the layer
// that nl changes by nl, or adds it.
func withRollout(layers []Layer, nl *Layer) []Layer {
	out := slices.DeleteFunc(slices.Clone(layers), func(l Layer) bool { return l.Scope == nl.Scope && l.Target == nl.Target })
	out = append(out, *nl)
	sortLayers(out)
	return out
}
