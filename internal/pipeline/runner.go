package pipeline

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Options tune a Runner. The zero value works: events are kept for
// DrainEvents and local results are discarded.
type Options struct {
	// Events, if set, receives the events of each Process and Tick, one
	// call per pipeline run. The slice is valid only during the call, which
	// holds the pipeline's lock: copy what you keep, do not block, do not
	// call back into the Runner. If nil, events are kept for DrainEvents.
	Events func([]Event)
	// Local, if set, receives the results of pipelines with output: local,
	// under the same rules as Events. If nil, they are discarded.
	Local func([]uns.Point)
	// MaxEvents bounds the events kept for DrainEvents (default 10000).
	// When it is reached, new events are dropped and counted.
	MaxEvents int
	// TickEvery is Run's period (default and maximum 1s: operators rely
	// on a tick at least once a second).
	TickEvery time.Duration
	// Now is Run's clock in unix ns (default the wall clock).
	Now func() int64
}

const (
	defaultMaxEvents = 10000
	// maxRoutes bounds the series → pipelines cache; past it the cache
	// starts afresh, so a flood of distinct series costs time, not memory.
	maxRoutes = 1 << 16
)

// Runner runs the pipelines of a Definition. It implements Stage: Process
// sends each point through every pipeline whose globs match its series and
// returns the points that go on to the hub, plus, unchanged, the points no
// pipeline takes. It is safe for concurrent use: each pipeline runs under
// its own lock, so different pipelines run in parallel and one pipeline's
// operators see one batch at a time.
//
// Operators need time to pass even without input (windows close,
// heartbeats fire): call Tick at least once a second, or let Run do it.
type Runner struct {
	opts Options
	plan atomic.Pointer[plan]
	pool sync.Pool // of *scratch

	passed atomic.Uint64 // points no pipeline took

	evMu      sync.Mutex // guards events and evDropped
	events    []Event
	evDropped uint64
}

// plan is one generation of pipelines; Reload swaps in a new one.
type plan struct {
	pipes []*pipe

	mu     sync.RWMutex     // guards routes
	routes map[string][]int // series → indexes in pipes of the pipelines that take it
}

// scratch is the per-call state of Process, pooled so that steady state
// does not allocate.
type scratch struct {
	in [][]uns.Point // per pipeline: the points of this batch it takes
}

// pipe is a running pipeline.
type pipe struct {
	def  Pipeline
	wait time.Duration // the sum of its operators' MaxWait

	mu      sync.Mutex // guards everything below
	ops     []Operator
	outs    []Output // per stage, reused between runs
	stats   PipelineStats
	events  []Event // the events of one run
	lastTS  int64   // the largest event time seen, for Finish
	hasLast bool
}

// NewRunner builds the operators of def.
func NewRunner(def *Definition, opts Options) (*Runner, error) {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = defaultMaxEvents
	}
	if opts.TickEvery <= 0 || opts.TickEvery > time.Second {
		opts.TickEvery = time.Second
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	r := &Runner{opts: opts}
	r.pool.New = func() any { return &scratch{} }
	pl, err := r.build(def, nil)
	if err != nil {
		return nil, err
	}
	r.plan.Store(pl)
	return r, nil
}

// Reload applies a changed definition without stopping the flow. A
// pipeline whose name, globs, output and stages are all unchanged keeps its
// running operators, with their windows, deadband and counter state and
// statistics. A new or changed pipeline starts empty: the state of a
// changed or removed pipeline (open windows, held values) is lost, which is
// the price of changing it. Points are never lost: a batch in progress
// finishes on the old pipelines and returns its results as usual.
func (r *Runner) Reload(def *Definition) error {
	pl, err := r.build(def, r.plan.Load())
	if err != nil {
		return err
	}
	r.plan.Store(pl)
	return nil
}

func (r *Runner) build(def *Definition, old *plan) (*plan, error) {
	pl := &plan{routes: map[string][]int{}}
	for i, pd := range def.Pipelines {
		if old != nil {
			if j := slices.IndexFunc(old.pipes, func(p *pipe) bool { return samePipeline(p.def, pd) }); j >= 0 {
				pl.pipes = append(pl.pipes, old.pipes[j])
				continue
			}
		}
		p := &pipe{def: pd, outs: make([]Output, len(pd.Stages))}
		p.stats = PipelineStats{Name: pd.Name, Output: pd.Output, Stages: make([]StageStats, len(pd.Stages))}
		for j, sd := range pd.Stages {
			spec, ok := Lookup(sd.Operator)
			if !ok {
				return nil, fmt.Errorf("pipelines[%d].stages[%d]: unknown operator %q", i, j, sd.Operator)
			}
			op, err := spec.Build(sd.Config)
			if err != nil {
				return nil, fmt.Errorf("pipelines[%d].stages[%d].%s: %w", i, j, sd.Operator, err)
			}
			if w, ok := op.(Waiter); ok {
				p.wait += w.MaxWait()
			}
			p.ops = append(p.ops, op)
			p.stats.Stages[j].Operator = sd.Operator
		}
		pl.pipes = append(pl.pipes, p)
	}
	return pl, nil
}

func samePipeline(a, b Pipeline) bool {
	return a.Name == b.Name && a.Output == b.Output &&
		slices.EqualFunc(a.Match, b.Match, func(x, y Glob) bool { return x.src == y.src }) &&
		reflect.DeepEqual(a.Stages, b.Stages)
}

// route returns the indexes of the pipelines that take series s.
func (pl *plan) route(s string) []int {
	pl.mu.RLock()
	idx, ok := pl.routes[s]
	pl.mu.RUnlock()
	if ok {
		return idx
	}
	idx = nil
	for i, p := range pl.pipes {
		if slices.ContainsFunc(p.def.Match, func(g Glob) bool { return g.Match(s) }) {
			idx = append(idx, i)
		}
	}
	pl.mu.Lock()
	if len(pl.routes) >= maxRoutes {
		clear(pl.routes)
	}
	pl.routes[s] = idx
	pl.mu.Unlock()
	return idx
}

// Process runs pts through the pipelines that take them and returns what
// goes on to the hub: first the points no pipeline takes, in their order,
// then the results of forwarding pipelines, pipeline by pipeline in
// definition order. The result may share pts' backing array.
func (r *Runner) Process(pts []uns.Point) []uns.Point {
	pl := r.plan.Load()
	if len(pl.pipes) == 0 {
		r.passed.Add(uint64(len(pts)))
		return pts
	}
	sc := r.pool.Get().(*scratch)
	for len(sc.in) < len(pl.pipes) {
		sc.in = append(sc.in, nil)
	}
	n := 0
	for i := range pts {
		idx := pl.route(pts[i].Series)
		if len(idx) == 0 {
			pts[n] = pts[i] // n <= i: compacting in place is safe
			n++
			continue
		}
		for _, k := range idx {
			sc.in[k] = append(sc.in[k], pts[i])
		}
	}
	r.passed.Add(uint64(n))
	// The points taken by pipelines were copied to sc, so pts[n:] is free
	// for their results.
	out := pts[:n]
	for k, in := range sc.in[:len(pl.pipes)] {
		if len(in) > 0 {
			out = r.run(pl.pipes[k], in, out, 0, false)
			sc.in[k] = in[:0]
		}
	}
	r.pool.Put(sc)
	return out
}

// Tick lets time pass to now (unix ns) in every pipeline: windows whose
// time is up close, heartbeats fire. It appends to dst what goes on to the
// hub and returns it.
func (r *Runner) Tick(now int64, dst []uns.Point) []uns.Point {
	for _, p := range r.plan.Load().pipes {
		dst = r.run(p, nil, dst, now, true)
	}
	return dst
}

// Finish ends the input, as at the end of a recorded file: it ticks each
// pipeline at the last event time it saw plus the waits of its operators,
// so every window closes. It appends the results to dst.
func (r *Runner) Finish(dst []uns.Point) []uns.Point {
	for _, p := range r.plan.Load().pipes {
		p.mu.Lock()
		last, ok := p.lastTS, p.hasLast
		p.mu.Unlock()
		if ok {
			dst = r.run(p, nil, dst, last+int64(p.wait), true)
		}
	}
	return dst
}

// Run calls Tick every Options.TickEvery with Options.Now until ctx is
// done, handing each non-empty result to forward. The caller owns the
// goroutine that runs it; it returns ctx's error.
func (r *Runner) Run(ctx context.Context, forward func([]uns.Point)) error {
	t := time.NewTicker(r.opts.TickEvery)
	defer t.Stop()
	var buf []uns.Point
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			buf = r.Tick(r.opts.Now(), buf[:0])
			if len(buf) > 0 {
				forward(buf)
			}
		}
	}
}

// run sends in through p's stages (and ticks them if tick), appending
// forwarded results to dst.
func (r *Runner) run(p *pipe, in []uns.Point, dst []uns.Point, now int64, tick bool) []uns.Point {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.In += uint64(len(in))
	for i := range in {
		if !p.hasLast || in[i].TS > p.lastTS {
			p.lastTS, p.hasLast = in[i].TS, true
		}
	}
	p.events = p.events[:0]
	carry := in
	for i, op := range p.ops {
		if len(carry) == 0 && !tick {
			break
		}
		o := &p.outs[i]
		o.Reset()
		st := &p.stats.Stages[i]
		if len(carry) > 0 {
			st.In += uint64(len(carry))
			op.Process(carry, o)
		}
		if tick {
			op.Tick(now, o)
		}
		st.Out += uint64(len(o.Points))
		st.Events += uint64(len(o.Events))
		for k, c := range o.Skipped {
			st.Skipped[k] += c
		}
		p.events = append(p.events, o.Events...)
		carry = o.Points
	}
	p.stats.Out += uint64(len(carry))
	p.stats.Events += uint64(len(p.events))
	switch p.def.Output {
	case Forward:
		dst = append(dst, carry...)
	case Local:
		if r.opts.Local != nil && len(carry) > 0 {
			r.opts.Local(carry)
		}
	}
	if len(p.events) > 0 {
		r.emit(p.events)
	}
	return dst
}

func (r *Runner) emit(evs []Event) {
	if r.opts.Events != nil {
		r.opts.Events(evs)
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	room := r.opts.MaxEvents - len(r.events)
	if room < len(evs) {
		r.evDropped += uint64(len(evs) - max(room, 0))
		evs = evs[:max(room, 0)]
	}
	r.events = append(r.events, evs...)
}

// DrainEvents appends the kept events to dst, oldest first, forgets them
// and returns dst. Without Options.Events, call it regularly: once
// Options.MaxEvents are kept, new events are dropped and counted.
func (r *Runner) DrainEvents(dst []Event) []Event {
	r.evMu.Lock()
	defer r.evMu.Unlock()
	dst = append(dst, r.events...)
	clear(r.events)
	r.events = r.events[:0]
	return dst
}

// Stats are a Runner's counters since it started (a pipeline kept by
// Reload keeps its counters).
type Stats struct {
	Passed        uint64          `json:"passed"`         // points no pipeline took, passed on unchanged
	EventsDropped uint64          `json:"events_dropped"` // events dropped because DrainEvents was not called in time
	Pipelines     []PipelineStats `json:"pipelines"`
}

// PipelineStats counts what went through one pipeline.
type PipelineStats struct {
	Name   string       `json:"name"`
	Output Destination  `json:"output"`
	In     uint64       `json:"in"`  // points the pipeline took
	Out    uint64       `json:"out"` // points its last stage emitted (sent to Output)
	Events uint64       `json:"events"`
	Stages []StageStats `json:"stages"`
}

// StageStats counts what went through one stage.
type StageStats struct {
	Operator string             `json:"operator"`
	In       uint64             `json:"in"`
	Out      uint64             `json:"out"`
	Events   uint64             `json:"events"`
	Skipped  [NumReasons]uint64 `json:"skipped"` // by Reason, in the order of the Reason constants
	// Detail is what an operator that is a Reporter reports of itself
	// (a service stage: its module's calls, failures and memory).
	Detail any `json:"detail,omitempty"`
}

// Reporter is implemented by operators with statistics of their own, for
// StageStats.Detail. Report is called under the pipeline's lock.
type Reporter interface {
	Report() any
}

// SkippedTotal is the number of points the stage skipped for any reason.
func (s StageStats) SkippedTotal() uint64 {
	var n uint64
	for _, c := range s.Skipped {
		n += c
	}
	return n
}

// Stats returns a snapshot of the counters.
func (r *Runner) Stats() Stats {
	s := Stats{Passed: r.passed.Load()}
	r.evMu.Lock()
	s.EventsDropped = r.evDropped
	r.evMu.Unlock()
	for _, p := range r.plan.Load().pipes {
		p.mu.Lock()
		ps := p.stats
		ps.Stages = slices.Clone(p.stats.Stages)
		for j, op := range p.ops {
			if r, ok := op.(Reporter); ok {
				ps.Stages[j].Detail = r.Report()
			}
		}
		p.mu.Unlock()
		s.Pipelines = append(s.Pipelines, ps)
	}
	return s
}
