package edge

import (
	"strconv"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"gopkg.in/yaml.v3"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uplink"
)

// Defaults of the desired-state loop (docs/fleet.md).
const (
	DefaultManifestPoll = 30 * time.Second
	DefaultHealthWindow = 30 * time.Second
)

// desiredFile keeps, in the data directory, the manifest the edge runs,
// the one before it and what became of the last one offered. It is
// replaced atomically (write, fsync, rename): after a crash the edge
// finds one whole state or the other.
const desiredFile = "desired.json"

// desiredState is the content of desiredFile.
type desiredState struct {
	// Current is the manifest the edge runs; nil: its local files.
	Current *uplink.Manifest `json:"current,omitempty"`
	// Previous is what ran before Current (nil: the local files), the
	// state a failed health check returns to.
	Previous *uplink.Manifest `json:"previous,omitempty"`
	// Trial says Current is still within its health window: an edge that
	// starts and finds it set did not see Current through it (it crashed
	// or was killed), and returns to Previous.
	Trial bool `json:"trial,omitempty"`
	// Highest is the highest version applied or tried; the edge refuses
	// any version not above it (anti-rollback).
	Highest uint64 `json:"highest"`
	// Failed is the last manifest rolled back or refused for its content,
	// so that the same one offered again is not reported again.
	Failed  *uplink.Manifest `json:"failed,omitempty"`
	Applied uplink.Applied   `json:"applied"`
}

// managed is the edge's desired-state machinery: the state on disk and
// the inputs and pipeline made from it.
type managed struct {
	mu    sync.Mutex // guards state, etag, fetched and pending; held while applying
	state desiredState
	path  string
	etag  string // of the last manifest fetched
	// fetched is closed (and replaced) after each request for the
	// manifest, for the command loop's wait.
	fetched chan struct{}
	// pending is a manifest that waits for a maintenance window; the
	// manage loop offers it again each round.
	pending *uplink.Manifest
	// held is a newer manifest fetched while another was on trial: it
	// is offered once that one's health window has ended.
	held *heldManifest
}

// heldManifest is a manifest waiting to be offered, with its ETag.
type heldManifest struct {
	m    uplink.Manifest
	etag string
}

// inputDigest names the content an input was made from, to tell which
// inputs a manifest changes; "" for the inputs of the local file.
type managedInput struct {
	input
	conf   connector.Configured // what it was built from (a restart builds it anew)
	digest string
	cancel context.CancelFunc
	done   chan struct{}
}

func loadDesired(dir string) (desiredState, error) {
	var st desiredState
	b, err := os.ReadFile(filepath.Join(dir, desiredFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("desired state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("desired state %s: %w", filepath.Join(dir, desiredFile), err)
	}
	for _, m := range []*uplink.Manifest{st.Current, st.Previous} {
		if m == nil {
			continue
		}
		if err := m.Verify(); err != nil {
			return st, fmt.Errorf("desired state %s: %w", filepath.Join(dir, desiredFile), err)
		}
	}
	return st, nil
}

func (m *managed) save() error {
	b, err := json.MarshalIndent(m.state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode desired state: %w", err)
	}
	if err := writeFileAtomic(m.path, b); err != nil {
		return fmt.Errorf("store desired state: %w", err)
	}
	return nil
}

// config is what a manifest (or the local files) makes of the edge: its
// pipeline definition, its inputs by name with their digests, and
// settings.
type config struct {
	def    *pipeline.Definition
	file   string // the pipeline file def came from; "": the manifest
	inputs []connector.Configured
	digest map[string]string // input path → digest of its content
	poll   time.Duration
	health time.Duration
	// maintenance are the windows within which the manifest may be
	// applied (none: at once).
	maintenance uplink.Maintenance
}

// configOf parses a manifest (nil: the local files). Nothing runs yet:
// an error here changes nothing.
func (e *Edge) configOf(m *uplink.Manifest) (config, error) {
	c := config{digest: map[string]string{}, poll: e.cfg.ManifestPoll, health: e.cfg.HealthWindow}
	if m == nil || len(m.Parts) == 0 {
		c.def, c.file = &pipeline.Definition{}, e.cfg.PipelineFile
		if e.cfg.PipelineFile != "" {
			def, err := pipeline.Load(e.cfg.PipelineFile)
			if err != nil {
				return c, err
			}
			c.def = def
		}
		if e.cfg.InputsFile != "" {
			ins, err := connector.LoadInputs(e.cfg.InputsFile)
			if err != nil {
				return c, err
			}
			c.inputs = ins
			for path, d := range localDigests(e.cfg.InputsFile) {
				c.digest[path] = d
			}
		}
		return c, nil
	}
	secrets, err := e.openSecrets(m)
	if err != nil {
		return c, err
	}
	pipes, ins := map[string][]byte{}, map[string][]byte{}
	for _, p := range m.Parts {
		kind, name := uplink.SplitPartName(p.Name)
		switch kind {
		case uplink.PartPipeline:
			pipes[name] = p.Content
		case uplink.PartInput:
			content, err := uplink.ResolveSecrets(p.Content, secrets)
			if err != nil {
				return c, fmt.Errorf("%s: %w", p.Name, err)
			}
			ins[name] = content
			// An input restarts when a secret it uses changes.
			c.digest["inputs."+name] = p.Digest
			for _, ref := range uplink.SecretRefs(p.Content) {
				s, _ := m.Part(uplink.PartSecret + "/" + ref)
				c.digest["inputs."+name] += " " + s.Digest
			}
		case uplink.PartDeployment:
			return c, fmt.Errorf("%s: a molen edge runs no Margo application deployments (helm, compose)", p.Name)
		case uplink.PartService:
			// A marketplace install runs as a pipeline of its own.
			pipe, err := e.servicePipeline(p, secrets)
			if errors.Is(err, errNotDownloaded) {
				return c, err // names no secret
			}
			if err != nil {
				return c, redact(err, secrets)
			}
			if _, taken := pipes["service-"+name]; taken {
				return c, fmt.Errorf("%s: the pipeline service-%s exists already", p.Name, name)
			}
			pipes["service-"+name] = pipe
		case uplink.PartSetting:
			if name == "maintenance" {
				w, err := uplink.ParseMaintenance(p.Content)
				if err != nil {
					return c, fmt.Errorf("%s: %w", p.Name, err)
				}
				c.maintenance = w
				continue
			}
			var s string
			d, err := time.Duration(0), json.Unmarshal(p.Content, &s)
			if err == nil {
				d, err = time.ParseDuration(s)
			}
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s: want a duration such as \"30s\"", p.Name)
			}
			switch name {
			case "poll_interval":
				c.poll = d
			case "health_window":
				c.health = d
			default:
				return c, fmt.Errorf("%s: unknown setting", p.Name)
			}
		}
	}
	def, err := pipeline.ParseNamed(pipes)
	if err != nil {
		// A service's parameters hold its secrets resolved.
		return c, redact(err, secrets)
	}
	c.def = def
	if c.inputs, err = connector.ParseNamed(ins); err != nil {
		return c, redact(err, secrets)
	}
	return c, nil
}

// redact replaces every secret value in err's text by its reference: an
// input that does not load must not put its password into the log or the
// report (a value in a URL is quoted back by the URL's parser).
func redact(err error, secrets map[string]string) error {
	msg := err.Error()
	for name, v := range secrets {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, "${secret:"+name+"}")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// openSecrets decrypts the manifest's secret parts with the edge's key:
// name → value. A secret sealed for another key fails the manifest.
func (e *Edge) openSecrets(m *uplink.Manifest) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range m.Parts {
		if p.Kind != uplink.PartSecret {
			continue
		}
		signer := e.signer.Load()
		if signer == nil {
			// At start, before the forwarder has loaded the identity.
			if c, ok, err := loadCredential(e.cfg.DataDir); ok && err == nil {
				signer = c.signer()
			}
		}
		if signer == nil {
			return nil, fmt.Errorf("%s: the edge has no key to open it", p.Name)
		}
		var s uplink.SealedSecret
		if err := json.Unmarshal(p.Content, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		v, err := uplink.OpenSealed(signer.Key, s.Sealed)
		if err != nil {
			return nil, fmt.Errorf("%s: sealed for another key (the edge's key changed?): %w", p.Name, err)
		}
		_, name := uplink.SplitPartName(p.Name)
		out[name] = string(v)
	}
	return out, nil
}

// install makes c the running configuration: inputs that c changes or
// drops stop, new and changed ones start, the pipeline is replaced in
// one step. All of c's inputs are built before anything changes, so a
// manifest that cannot be built leaves everything as it was. Devices keep
// publishing to the MQTT listener throughout; a stopped input has
// acknowledged to its peer only what is in the outbox.
func (e *Edge) install(c config) error {
	keep := map[string]bool{}
	var start []managedInput
	e.inputsMu.Lock()
	running := map[string]managedInput{}
	for _, in := range e.inputs {
		running[in.path] = in
	}
	e.inputsMu.Unlock()
	// An input whose content is unchanged keeps running, whatever its
	// name: its connection and counters stay.
	byDigest := map[string]string{}
	for path, in := range running {
		if in.digest != "" {
			byDigest[in.digest] = path
		}
	}
	rename := map[string]string{} // running path → path in c
	for _, ci := range c.inputs {
		if path, ok := byDigest[c.digest[ci.Path]]; ok && c.digest[ci.Path] != "" {
			delete(byDigest, c.digest[ci.Path])
			keep[path], rename[path] = true, ci.Path
			continue
		}
		in, err := ci.Build(e.log)
		if err != nil {
			return err
		}
		start = append(start, managedInput{input: input{path: ci.Path, kind: ci.Kind, in: in}, digest: c.digest[ci.Path], conf: ci})
	}
	if err := e.pipe.runner.Reload(c.def); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	e.pipe.setDefinition(c.def, c.file)
	// The pipeline changed; now the inputs.
	var stop []managedInput
	e.inputsMu.Lock()
	next := e.inputs[:0:0]
	for _, in := range e.inputs {
		if keep[in.path] {
			in.path = rename[in.path]
			next = append(next, in)
		} else {
			stop = append(stop, in)
		}
	}
	e.inputsMu.Unlock()
	for _, in := range stop {
		in.cancel()
		<-in.done
	}
	faultPoint("apply-inputs") // the pipeline replaced, the old inputs stopped, the new not started
	for i := range start {
		e.runInput(&start[i])
		next = append(next, start[i])
	}
	slices.SortFunc(next, func(a, b managedInput) int {
		switch {
		case a.path < b.path:
			return -1
		case a.path > b.path:
			return 1
		}
		return 0
	})
	e.inputsMu.Lock()
	e.inputs = next
	e.inputsMu.Unlock()
	return nil
}

// runInput starts an input under the edge's context.
func (e *Edge) runInput(in *managedInput) {
	ctx, cancel := context.WithCancel(e.runCtx)
	in.cancel, in.done = cancel, make(chan struct{})
	done := in.done
	e.group.Go(func() error {
		defer close(done)
		// An input returns an error only for what retrying cannot fix;
		// the others keep running, and its status says what is wrong.
		if err := in.in.Run(ctx, sink{e}); err != nil && ctx.Err() == nil {
			e.log.Error("input stopped", "input", in.path, "kind", in.kind, "err", err)
		}
		return nil
	})
}

// partStates is what the edge reports of a manifest's parts in state.
func partStates(m *uplink.Manifest, state, errText string) []uplink.PartState {
	if m == nil {
		return nil
	}
	out := make([]uplink.PartState, len(m.Parts))
	for i, p := range m.Parts {
		out[i] = uplink.PartState{Name: p.Name, Digest: p.Digest, State: state, Error: errText}
	}
	return out
}

// leaving are the parts of prev that next does not hold, in state (with
// since for StateRemoved): what a new manifest removes.
func leaving(prev, next *uplink.Manifest, state string, since time.Time) []uplink.PartState {
	if prev == nil {
		return nil
	}
	var out []uplink.PartState
	for _, p := range prev.Parts {
		if next != nil {
			if _, ok := next.Part(p.Name); ok {
				continue
			}
		}
		out = append(out, uplink.PartState{Name: p.Name, Digest: p.Digest, State: state, Since: since})
	}
	return out
}

// hold keeps a manifest fetched while another is on trial: its new and
// changed parts are reported pending until the trial ends and it is
// offered. A manifest that is not newer than the one on trial, or does
// not verify, is left to the next fetch after the trial.
func (e *Edge) hold(m uplink.Manifest, etag string, report func()) {
	mg := e.managed
	mg.mu.Lock()
	st := &mg.state
	if !st.Trial || st.Current == nil || m.Version <= st.Highest || m.Verify() != nil {
		mg.mu.Unlock()
		return
	}
	mg.held = &heldManifest{m: m, etag: etag}
	parts := slices.DeleteFunc(st.Applied.Parts, func(p uplink.PartState) bool { return p.State == uplink.StatePending })
	for _, p := range m.Parts {
		if q, ok := st.Current.Part(p.Name); !ok || q.Digest != p.Digest {
			parts = append(parts, uplink.PartState{Name: p.Name, Digest: p.Digest, State: uplink.StatePending,
				Error: fmt.Sprintf("version %d waits for the health window of version %d", m.Version, st.Current.Version)})
		}
	}
	st.Applied.Parts = parts
	mg.mu.Unlock()
	report()
}

// offer handles a manifest from the hub: it verifies it, refuses a
// version not above the highest tried, applies it and watches its health
// for the health window, returning to the previous state if it fails. It
// returns when the manifest is installed and healthy, refused or rolled
// back.
//
// poll is called every poll interval while the manifest is watched, to
// fetch (and hold) a newer one meanwhile.
func (e *Edge) offer(ctx context.Context, m uplink.Manifest, report, poll func()) {
	mg := e.managed
	mg.mu.Lock()
	st := &mg.state
	if st.Current != nil && st.Current.Digest == m.Digest && st.Current.Version == m.Version {
		mg.pending, st.Applied.Pending, st.Applied.PendingReason = nil, 0, ""
		mg.mu.Unlock()
		return // what runs
	}
	if st.Current == nil && len(m.Parts) == 0 && m.Verify() == nil {
		// The hub holds no desired state for this edge: its local files
		// run, as they do.
		st.Highest = max(st.Highest, m.Version)
		st.Applied.Offered, st.Applied.Error = m.Version, ""
		_ = mg.save()
		mg.mu.Unlock()
		return
	}
	fail := func(err error) {
		st.Applied.Offered, st.Applied.Error = m.Version, err.Error()
		e.log.Error("manifest refused", "version", m.Version, "err", err)
		e.metrics.manifestRefused.Inc()
		_ = mg.save()
		mg.mu.Unlock()
	}
	if err := m.Verify(); err != nil {
		fail(err)
		return
	}
	if m.Version <= st.Highest && m.Version == st.Applied.Offered && m.Digest == offeredDigest(st) {
		mg.mu.Unlock()
		return // refused or rolled back already, and reported so
	}
	if m.Version <= st.Highest {
		fail(fmt.Errorf("%w: version %d is not above %d, the highest this edge has applied (anti-rollback)", uplink.ErrManifest, m.Version, st.Highest))
		return
	}
	c, err := e.configOf(&m)
	if errors.Is(err, errNotDownloaded) {
		// A service's package is not here yet (the hub or the network
		// failed it): the manifest waits, and the manage loop downloads
		// and offers it again each round, as for a maintenance window.
		if st.Applied.Pending != m.Version {
			e.log.Warn("manifest waits for a service package", "version", m.Version, "err", err)
		}
		mg.pending = &m
		st.Applied.Pending = m.Version
		st.Applied.PendingReason = fmt.Sprintf("version %d waits for a service package: %v", m.Version, err)
		mg.mu.Unlock()
		return
	}
	if err != nil {
		st.Highest, st.Failed = m.Version, &m
		st.Applied.Parts = partStates(&m, uplink.StateFailed, err.Error())
		fail(fmt.Errorf("version %d: %w", m.Version, err))
		return
	}
	if now := e.cfg.Now().Local(); !c.maintenance.Open(now) {
		// Outside its maintenance windows: the manifest waits, and the
		// manage loop offers it again each round.
		if st.Applied.Pending != m.Version {
			e.log.Info("manifest waits for a maintenance window", "version", m.Version, "windows", c.maintenance.String())
		}
		mg.pending = &m
		st.Applied.Pending = m.Version
		st.Applied.PendingReason = fmt.Sprintf("version %d waits for a maintenance window (%s, edge time %s)", m.Version, c.maintenance, now.Format("Mon 15:04"))
		mg.mu.Unlock()
		return
	}
	mg.pending, st.Applied.Pending, st.Applied.PendingReason = nil, 0, ""
	var next *uplink.Manifest
	if len(m.Parts) > 0 {
		next = &m
	}
	prev := st.Current
	st.Applied.Parts = append(partStates(next, uplink.StateInstalling, ""), leaving(prev, next, uplink.StateRemoving, time.Time{})...)
	st.Previous, st.Current, st.Trial, st.Highest = prev, next, true, m.Version
	st.Applied.Offered, st.Applied.Error, st.Applied.RolledBack = m.Version, "", false
	// On disk first: killed from here on, the edge starts with Previous
	// (Trial), which is what runs until install returns.
	if err := mg.save(); err != nil {
		st.Current, st.Trial = prev, false
		fail(err)
		return
	}
	faultPoint("apply-saved")
	if len(leaving(prev, next, "", time.Time{})) > 0 {
		// The hub hears which parts are removing before they stop.
		mg.mu.Unlock()
		report()
		mg.mu.Lock()
	}
	if err := e.install(c); err != nil {
		st.Current, st.Trial, st.Failed = prev, false, &m
		st.Applied.Parts = partStates(&m, uplink.StateFailed, err.Error())
		fail(fmt.Errorf("version %d: %w", m.Version, err))
		return
	}
	st.Applied.Parts = append(partStates(next, uplink.StateInstalling, ""), leaving(prev, next, uplink.StateRemoved, time.Now())...)
	e.log.Info("manifest installed; watching its health", "version", m.Version, "parts", len(m.Parts), "window", c.health)
	mg.mu.Unlock()
	report()

	why := e.watchHealth(ctx, c.health, poll)
	if ctx.Err() != nil {
		return // stopping: the next start finds Trial and goes back
	}
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if why == "" {
		st.Trial = false
		st.Applied.Version, st.Applied.Digest = m.Version, m.Digest
		st.Applied.Parts = slices.Concat(partStates(next, uplink.StateInstalled, ""),
			slices.DeleteFunc(st.Applied.Parts, func(p uplink.PartState) bool { return p.State != uplink.StateRemoved && p.State != uplink.StatePending }))
		e.poll.Store(int64(c.poll))
		if err := mg.save(); err != nil {
			e.log.Error("cannot store the desired state; the edge returns to the previous one at its next start", "err", err)
		}
		e.log.Info("manifest healthy", "version", m.Version)
		return
	}
	e.log.Error("manifest unhealthy; returning to the previous state", "version", m.Version, "reason", why)
	e.metrics.manifestRolledBack.Inc()
	e.rollback(fmt.Sprintf("version %d rolled back: %s", m.Version, why))
}

// rollback returns to the previous state. mu must be held.
func (e *Edge) rollback(why string) {
	st := &e.managed.state
	failed := st.Current
	st.Failed = failed
	c, err := e.configOf(st.Previous)
	if err == nil {
		err = e.install(c)
	}
	if err != nil {
		// The previous state ran before; it not loading now means its
		// files changed under it. Keep what runs and say so.
		e.log.Error("cannot return to the previous state", "err", err)
		why += "; the previous state does not load: " + err.Error()
	} else {
		st.Current = st.Previous
		e.poll.Store(int64(c.poll))
	}
	st.Trial, st.Applied.RolledBack, st.Applied.Error = false, true, why
	if st.Current != nil {
		st.Applied.Version, st.Applied.Digest = st.Current.Version, st.Current.Digest
	} else {
		st.Applied.Version, st.Applied.Digest = 0, ""
	}
	st.Applied.Parts = append(partStates(st.Current, uplink.StateInstalled, ""), removedParts(failed, st.Current, why)...)
	if err := e.managed.save(); err != nil {
		e.log.Error("cannot store the desired state", "err", err)
	}
}

// removedParts are the parts of failed that cur does not hold, reported
// failed with why.
func removedParts(failed, cur *uplink.Manifest, why string) []uplink.PartState {
	if failed == nil {
		return nil
	}
	var out []uplink.PartState
	for _, p := range failed.Parts {
		if cur != nil {
			if q, ok := cur.Part(p.Name); ok && q.Digest == p.Digest {
				continue
			}
		}
		out = append(out, uplink.PartState{Name: p.Name, Digest: p.Digest, State: uplink.StateFailed, Error: why})
	}
	return out
}

// watchHealth watches the edge for window after a change: every input
// must be connected by its end, the pipeline must not fail, and
// forwarding must progress (data waiting is sent, unless the hub is
// unreachable, which is not the change's fault). It returns why the
// change is unhealthy, or "".
//
// poll (if not nil) is called every poll interval meanwhile.
func (e *Edge) watchHealth(ctx context.Context, window time.Duration, poll func()) string {
	ps := e.pipe
	errs0 := pipelineErrors(ps.runner.Stats())
	acked0 := e.outbox.Acked()
	t := time.NewTimer(window)
	defer t.Stop()
	var tick <-chan time.Time
	if poll != nil {
		tk := time.NewTicker(time.Duration(e.poll.Load()))
		defer tk.Stop()
		tick = tk.C
	}
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			return ""
		case <-tick:
			poll()
		case <-t.C:
			waiting = false
		}
	}
	var why []string
	e.inputsMu.Lock()
	for _, in := range e.inputs {
		if s := in.in.Status(); s.State != connector.Connected {
			msg := fmt.Sprintf("input %s is %s", in.path, s.State)
			if s.LastError != "" {
				msg += ": " + s.LastError
			}
			why = append(why, msg)
		}
	}
	e.inputsMu.Unlock()
	if n := pipelineErrors(ps.runner.Stats()) - errs0; n > 0 {
		why = append(why, fmt.Sprintf("the pipeline failed %d times", n))
	}
	st := e.outbox.Stats()
	e.fwd.mu.Lock()
	reachable := time.Since(e.fwd.lastContact) < window
	e.fwd.mu.Unlock()
	if st.PendingRecords > 0 && e.outbox.Acked() == acked0 && reachable && oldestAge(st.OldestPending) > window {
		why = append(why, "forwarding made no progress")
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprint(why)
}

// pipelineErrors counts the points the pipeline's operators could not
// handle: values of the wrong type, expressions that failed.
func pipelineErrors(s pipeline.Stats) uint64 {
	var n uint64
	for _, p := range s.Pipelines {
		for _, st := range p.Stages {
			n += st.Skipped[pipeline.WrongType] + st.Skipped[pipeline.EvalError]
		}
	}
	return n
}

// managing reports whether the edge follows a hub's desired state.
func (e *Edge) managing() bool { return e.cfg.ManifestPoll > 0 }

// startDesired loads the desired state kept on disk and returns the
// configuration to start with: the manifest that ran last, or the local
// files. A manifest still on trial when the edge stopped (it crashed or
// was killed within the health window) is not started: the one before it
// is.
func (e *Edge) startDesired() (config, error) {
	e.managed = &managed{path: filepath.Join(e.cfg.DataDir, desiredFile), fetched: make(chan struct{})}
	e.poll.Store(int64(e.cfg.ManifestPoll))
	st, err := loadDesired(e.cfg.DataDir)
	if err != nil {
		e.log.Error("the stored desired state is damaged; starting with the local files until the hub sends it again", "err", err)
		st = desiredState{Highest: st.Highest}
	}
	if st.Trial {
		v := uint64(0)
		if st.Current != nil {
			v = st.Current.Version
		}
		e.log.Warn("the edge stopped before the last manifest passed its health window; returning to the previous state", "version", v)
		st.Failed, st.Current, st.Trial = st.Current, st.Previous, false
		st.Applied.RolledBack = true
		st.Applied.Error = fmt.Sprintf("version %d rolled back: the edge stopped within its health window", v)
	}
	e.managed.state = st
	c, err := e.configOf(st.Current)
	if err != nil && st.Current != nil {
		e.log.Error("the stored manifest does not load; starting with the local files", "version", st.Current.Version, "err", err)
		e.managed.state.Current = nil
		c, err = e.configOf(nil)
	}
	if err != nil {
		return c, err
	}
	if st.Current != nil {
		e.poll.Store(int64(c.poll))
		e.managed.state.Applied.Version, e.managed.state.Applied.Digest = st.Current.Version, st.Current.Digest
		e.managed.state.Applied.Parts = append(partStates(st.Current, uplink.StateInstalled, ""), e.managed.state.Applied.Parts...)[:len(st.Current.Parts)]
	}
	return c, nil
}

// applied is the desired state's account for the status API and the
// report.
func (e *Edge) applied() uplink.Applied {
	e.managed.mu.Lock()
	defer e.managed.mu.Unlock()
	a := e.managed.state.Applied
	a.Parts = slices.Clone(a.Parts)
	e.softwarePart(a.Parts)
	return a
}

// manage asks the hub for the edge's manifest every poll interval (a
// conditional request: an unchanged manifest costs a 304), offers a new
// one, and reports the edge's state. A hub that cannot be reached changes
// nothing: the edge runs what it runs.
func (e *Edge) manage(ctx context.Context) error {
	wait := time.Duration(0)
	var last *uplink.Manifest // the last manifest fetched
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-e.manifestNow: // the long poll says the manifest changed
			t.Stop()
		}
		wait = time.Duration(e.poll.Load())
		e.fwd.mu.Lock()
		hub := e.fwd.identity.Hub
		e.fwd.mu.Unlock()
		if e.signer.Load() == nil || hub == "" {
			continue // not enrolled with a key yet
		}
		client := &uplink.Client{URL: hub, HTTP: e.http, Signer: e.signer.Load}
		report := func() {
			if err := client.SendReport(ctx, e.report()); err != nil {
				if ctx.Err() == nil {
					e.log.Warn("cannot report to the hub", "err", err)
				}
				return
			}
			// A version on trial is kept once the hub has its report; the
			// hub then hears at once that it is kept.
			if e.confirmSoftware() {
				if err := client.SendReport(ctx, e.report()); err != nil && ctx.Err() == nil {
					e.log.Warn("cannot report to the hub", "err", err)
				}
			}
		}
		e.managed.mu.Lock()
		etag := e.managed.etag
		e.managed.mu.Unlock()
		m, etag, err := client.FetchManifest(ctx, etag)
		fetchErr := ""
		if err != nil && !errors.Is(err, uplink.ErrNotModified) {
			fetchErr = err.Error()
		}
		e.managed.mu.Lock()
		e.managed.state.Applied.FetchError = fetchErr
		if err == nil {
			e.managed.etag = etag
		}
		close(e.managed.fetched)
		e.managed.fetched = make(chan struct{})
		pending := e.managed.pending
		e.managed.mu.Unlock()
		// While a manifest is watched, the edge keeps asking: a newer one
		// is held (pending parts) and offered after it.
		poll := func() {
			e.managed.mu.Lock()
			tag := e.managed.etag
			e.managed.mu.Unlock()
			if next, tag, err := client.FetchManifest(ctx, tag); err == nil {
				e.hold(next, tag, report)
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, uplink.ErrNotModified):
		case err != nil:
			e.log.Warn("cannot fetch the desired state; running what runs", "err", err)
		default:
			last = &m
		}
		e.fetchServices(ctx, client, last)
		if pending != nil {
			e.fetchServices(ctx, client, pending)
		}
		// The software part first: an edge that stages a new version
		// leaves the rest of the manifest to it.
		if e.updateSoftware(ctx, client, last) {
			report()
			close(e.restart)
			return nil
		}
		switch {
		case err == nil:
			e.offer(ctx, m, report, poll)
		case errors.Is(err, uplink.ErrNotModified) && pending != nil:
			e.offer(ctx, *pending, report, poll)
		}
		for ctx.Err() == nil {
			e.managed.mu.Lock()
			held := e.managed.held
			e.managed.held = nil
			if held != nil {
				e.managed.etag = held.etag
			}
			e.managed.mu.Unlock()
			if held == nil {
				break
			}
			last = &held.m
			e.fetchServices(ctx, client, last)
			e.offer(ctx, held.m, report, poll)
		}
		report()
	}
}

// report is what the edge tells the hub about itself.
func (e *Edge) report() uplink.Report {
	s := e.Status()
	r := uplink.Report{Version: e.cfg.Version, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Inputs: make([]uplink.InputHealth, len(s.Inputs)), BufferRecords: s.Outbox.PendingRecords, BufferPoints: s.Outbox.PendingPoints,
		OldestPendingSeconds: s.Outbox.OldestPendingSeconds, Forwarded: s.Forward.Points, Manifest: s.Desired, Software: e.softwareState(),
		ReportSeconds: time.Duration(e.poll.Load()).Seconds()}
	for i, in := range s.Inputs {
		r.Inputs[i] = uplink.InputHealth{Name: in.Input, Kind: in.Kind, State: string(in.State), Error: in.LastError}
	}
	for _, o := range s.Outputs {
		r.Outputs = append(r.Outputs, uplink.OutputHealth{Name: o.Name, Kind: o.Kind, State: o.State, Error: o.LastError,
			Sent: o.Sent, Dropped: o.Dropped, Pending: o.Pending, LagSeconds: o.LagSeconds})
	}
	if s.Pipeline != nil {
		r.PipelineError = s.Pipeline.LoadError
		r.PipelineErrors = int64(pipelineErrors(s.Pipeline.Stats))
	}
	r.CPU = e.cpu.percent()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.Memory = ms.Sys
	r.DiskFree, r.DiskTotal = diskSpace(e.cfg.DataDir)
	e.fwd.mu.Lock()
	id := e.fwd.identity.EdgeID
	e.fwd.mu.Unlock()
	c := e.capabilities(id)
	r.Capabilities = &c
	return r
}

// localDigests are the digests of the entries of an inputs file, as the
// hub would digest the same entry as a part (PartDigest of its JSON), by
// their place ("inputs[2]"): an input that moves from the file into the
// hub's desired state unchanged keeps running. Nothing for a file that
// does not read.
func localDigests(file string) map[string]string {
	var doc struct {
		Inputs []map[string]any `yaml:"inputs"`
	}
	b, err := os.ReadFile(file)
	if err != nil || yaml.Unmarshal(b, &doc) != nil {
		return nil
	}
	out := map[string]string{}
	for i, entry := range doc.Inputs {
		if j, err := json.Marshal(entry); err == nil {
			out["inputs["+strconv.Itoa(i)+"]"] = uplink.PartDigest(j)
		}
	}
	return out
}

// offeredDigest is the digest of the version last offered, where the edge
// still knows it (it runs it, or ran it on trial before going back).
func offeredDigest(st *desiredState) string {
	for _, m := range []*uplink.Manifest{st.Current, st.Previous, st.Failed} {
		if m != nil && m.Version == st.Applied.Offered {
			return m.Digest
		}
	}
	return ""
}
