package edge

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"

	_ "github.com/molen-io/molen/internal/operator" // registers the operators
	_ "github.com/molen-io/molen/internal/service"  // registers the service stage
)

// reloadEvery is how often the edge looks at the pipeline file for changes.
const reloadEvery = 2 * time.Second

// keptEvents is how many recent events the status API shows.
const keptEvents = 500

// pipelineState is the edge's running pipeline: the runner, the file it
// came from, and what it produced that does not go to the outbox.
type pipelineState struct {
	runner *pipeline.Runner
	file   string

	mu              sync.Mutex // guards everything below
	modTime         time.Time
	loadedAt        time.Time
	loadError       string           // the last failed reload; the previous pipeline keeps running
	warnings        []string         // of the running definition (Definition.Warnings)
	events          []pipeline.Event // the newest keptEvents, a ring
	nextEvent       int
	outgoing        []pipeline.Event // for the outbox at the next tick
	outgoingDropped int64
	eventCount      map[string]int64 // by kind
	local           map[string]uns.Point
}

// loadPipeline builds the runner for def, which came from file ("": from
// the hub's manifest, or none).
func (e *Edge) loadPipeline(def *pipeline.Definition, file string) error {
	ps := &pipelineState{eventCount: map[string]int64{}, local: map[string]uns.Point{}}
	r, err := pipeline.NewRunner(def, pipeline.Options{Events: ps.addEvents, Local: ps.addLocal})
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", file, err)
	}
	ps.runner = r
	e.pipe = ps
	e.stage = r
	ps.setDefinition(def, file)
	e.logPipelineWarnings(def.Warnings())
	return nil
}

// setDefinition notes that def, from file ("": the manifest), runs now:
// the file is watched for changes only while it is what runs.
func (ps *pipelineState) setDefinition(def *pipeline.Definition, file string) {
	var mod time.Time
	if file != "" {
		if st, err := os.Stat(file); err == nil {
			mod = st.ModTime()
		}
	}
	ps.mu.Lock()
	ps.file, ps.modTime, ps.loadedAt, ps.loadError, ps.warnings = file, mod, time.Now(), "", def.Warnings()
	ps.mu.Unlock()
}

// logPipelineWarnings says, once per load, what the pipeline file does that
// is probably not meant (series that reach the hub in no form).
func (e *Edge) logPipelineWarnings(ws []string) {
	for _, w := range ws {
		e.log.Warn("pipeline: "+w, "file", e.cfg.PipelineFile)
	}
}

// maxOutgoingEvents bounds the events waiting for the next second's
// append; beyond it events are dropped and counted (a pipeline emitting
// that many events a second is misconfigured).
const maxOutgoingEvents = 10_000

// addEvents queues events for the outbox, keeps the newest for the status
// API and counts them. It runs under a pipeline's lock: it must not block.
func (ps *pipelineState) addEvents(evs []pipeline.Event) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, ev := range evs {
		ps.eventCount[ev.Kind]++
		if len(ps.outgoing) < maxOutgoingEvents {
			ps.outgoing = append(ps.outgoing, ev)
		} else {
			ps.outgoingDropped++
		}
		if len(ps.events) < keptEvents {
			ps.events = append(ps.events, ev)
			continue
		}
		ps.events[ps.nextEvent] = ev
		ps.nextEvent = (ps.nextEvent + 1) % keptEvents
	}
}

// drainOutgoing appends the queued events to dst and empties the queue.
func (ps *pipelineState) drainOutgoing(dst []pipeline.Event) []pipeline.Event {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	dst = append(dst, ps.outgoing...)
	clear(ps.outgoing)
	ps.outgoing = ps.outgoing[:0]
	return dst
}

// addLocal keeps the latest value of each series of `output: local`
// pipelines, bounded like the events.
func (ps *pipelineState) addLocal(pts []uns.Point) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range pts {
		if _, ok := ps.local[p.Series]; !ok && len(ps.local) >= 10_000 {
			continue
		}
		ps.local[p.Series] = p
	}
}

// runPipeline ticks the runner every second and appends what ticks emit
// (closed windows, heartbeats, OEE figures) together with the events of the
// last second to the outbox, and reloads the pipeline when its file
// changes. It returns when ctx ends.
func (e *Edge) runPipeline(ctx context.Context) error {
	ps := e.pipe
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var pts []uns.Point
	var evs []pipeline.Event
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			pts = ps.runner.Tick(now.UnixNano(), pts[:0])
			evs = ps.drainOutgoing(evs[:0])
			e.appendDerived(ctx, pts, evs)
			if n%int(reloadEvery/time.Second) == 0 {
				e.maybeReload()
			}
		}
	}
}

// appendDerived stores what the pipeline derived without a device waiting
// for it: points from ticks and the events of the last second. Nobody waits
// for an acknowledgement of these, so a refusal is counted and logged.
func (e *Edge) appendDerived(ctx context.Context, pts []uns.Point, evs []pipeline.Event) {
	if len(pts)+len(evs) == 0 {
		return
	}
	rec := uplink.EncodeRecord(nil, pts, evs)
	out := e.outputs.Enqueue(rec, len(pts)+len(evs))
	if _, err := e.outbox.Append(ctx, rec, len(pts)+len(evs)); err != nil {
		if ctx.Err() == nil {
			e.metrics.derivedLost.Add(float64(len(pts) + len(evs)))
			e.log.Warn("pipeline output not stored", "points", len(pts), "events", len(evs), "err", err)
		}
		return
	}
	e.metrics.points.Add(float64(len(pts)))
	e.metrics.events.Add(float64(len(evs)))
	out.Wait(ctx) // counted by the outputs if they fail
}

// maybeReload applies the pipeline file if it changed. A file that does not
// load leaves the running pipeline in place and is reported in the status.
func (e *Edge) maybeReload() {
	ps := e.pipe
	ps.mu.Lock()
	file := ps.file
	ps.mu.Unlock()
	if file == "" {
		return // the manifest's, or none
	}
	// Under the desired state's lock: a manifest being applied and a file
	// being reloaded do not interleave.
	e.managed.mu.Lock()
	defer e.managed.mu.Unlock()
	if e.managed.state.Current != nil {
		return
	}
	st, err := os.Stat(ps.file)
	if err != nil {
		ps.setLoadError(fmt.Errorf("pipeline file: %w", err))
		return
	}
	ps.mu.Lock()
	unchanged := st.ModTime().Equal(ps.modTime)
	ps.mu.Unlock()
	if unchanged {
		return
	}
	def, err := pipeline.Load(ps.file)
	if err == nil {
		err = ps.runner.Reload(def)
	}
	ps.mu.Lock()
	ps.modTime = st.ModTime()
	ps.mu.Unlock()
	if err != nil {
		ps.setLoadError(err)
		e.log.Error("pipeline file changed but does not load; the previous pipeline keeps running", "file", ps.file, "err", err)
		return
	}
	ps.mu.Lock()
	ps.loadError, ps.loadedAt, ps.warnings = "", time.Now(), def.Warnings()
	ws := ps.warnings
	ps.mu.Unlock()
	e.log.Info("pipeline reloaded", "file", ps.file)
	e.logPipelineWarnings(ws)
}

func (ps *pipelineState) setLoadError(err error) {
	ps.mu.Lock()
	ps.loadError = err.Error()
	ps.mu.Unlock()
}

// PipelineStatus is what the status API shows about the pipeline.
type PipelineStatus struct {
	File      string    `json:"file"`
	LoadedAt  time.Time `json:"loaded_at"`
	LoadError string    `json:"load_error,omitempty"`
	// Warnings says what the running file does that is probably not meant,
	// such as series that reach the hub in no form (docs/pipelines.md).
	Warnings []string         `json:"warnings,omitempty"`
	Stats    pipeline.Stats   `json:"stats"`
	Events   map[string]int64 `json:"events"` // by kind, since start
	// EventsDropped counts events dropped because more than 10,000 waited
	// for one second's append.
	EventsDropped int64          `json:"events_dropped"`
	Local         map[string]any `json:"local,omitempty"` // latest value of each series of local pipelines
}

func (ps *pipelineState) status() *PipelineStatus {
	// The runner's counters first, outside ps.mu: a pipeline holds its own
	// lock while it hands events to addEvents, which takes ps.mu, so taking
	// them in the other order here could stop both for good.
	stats := ps.runner.Stats()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s := &PipelineStatus{Stats: stats, File: ps.file, LoadedAt: ps.loadedAt.UTC(), LoadError: ps.loadError, Warnings: ps.warnings,
		Events: make(map[string]int64, len(ps.eventCount)), EventsDropped: ps.outgoingDropped}
	for k, n := range ps.eventCount {
		s.Events[k] = n
	}
	if len(ps.local) > 0 {
		s.Local = make(map[string]any, len(ps.local))
		for k, p := range ps.local {
			s.Local[k] = p.Value.Any()
		}
	}
	return s
}

// EventJSON is an event on the status API; times in unix ms.
type EventJSON struct {
	Asset string            `json:"asset"`
	Kind  string            `json:"kind"`
	Start int64             `json:"start"`
	End   int64             `json:"end,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// recentEvents returns the kept events, newest first.
func (ps *pipelineState) recentEvents() []EventJSON {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]EventJSON, 0, len(ps.events))
	for i := range ps.events {
		j := (ps.nextEvent - 1 - i + 2*len(ps.events)) % len(ps.events)
		ev := ps.events[j]
		out = append(out, EventJSON{Asset: ev.Asset, Kind: ev.Kind, Start: ev.Start / 1e6, End: ev.End / 1e6, Attrs: ev.Attrs})
	}
	return out
}
