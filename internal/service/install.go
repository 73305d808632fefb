package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// ErrUndeclaredImport is wrapped when a module imports a host function its
// manifest did not declare (or one molen does not provide).
var ErrUndeclaredImport = errors.New("module imports an undeclared host function")

// ErrBadModule is wrapped when a module lacks the exports of molen-svc/1.
var ErrBadModule = errors.New("not a molen-svc/1 module")

// compilationCache shares compiled code between the installs of a
// process (a second install of the same module, or a restart, does not
// compile again) and, kept on disk, between processes: compiling a Go
// module of 3 MiB takes seconds, loading it from the disk cache tens of
// milliseconds (docs/benchmarks.md). The directory is the one given to
// UseCacheDir (the edge's data directory), else $MOLEN_WASM_CACHE, else
// molen/wasm in the user's cache directory; without any, the cache is in
// memory.
var compilationCache = sync.OnceValue(func() wazero.CompilationCache {
	dir := cacheDir.Load()
	if dir == nil || *dir == "" {
		d := os.Getenv("MOLEN_WASM_CACHE")
		if d == "" {
			if u, err := os.UserCacheDir(); err == nil {
				d = filepath.Join(u, "molen", "wasm")
			}
		}
		dir = &d
	}
	if *dir != "" {
		if c, err := wazero.NewCompilationCacheWithDir(*dir); err == nil {
			return c
		}
	}
	return wazero.NewCompilationCache()
})

var (
	cacheDir    atomic.Pointer[string]
	memoryCache = wazero.NewCompilationCache() // when the disk cache fails
)

// UseCacheDir keeps compiled modules in dir. It takes effect if called
// before the process opens its first install.
func UseCacheDir(dir string) { cacheDir.Store(&dir) }

// Options tune an install. The zero value works.
type Options struct {
	// Params is the install's parameters, a JSON object given to the
	// module's Init (default {}).
	Params []byte
	// Log receives the module's log lines and the install's failures.
	Log *slog.Logger
	// StateFile keeps the install's key-value state across restarts of
	// the process ("": in memory, surviving restarts of the module only).
	StateFile string
	// Now is the clock the module reads (default the wall clock). With
	// EventClock, the clock is the newest event time of the input instead
	// (or the tick's time), as in `molen service test`.
	Now        func() int64
	EventClock bool
	// Interpreter runs the module in wazero's interpreter instead of
	// compiling it to machine code (for platforms without the compiler).
	Interpreter bool
	// HoldMax bounds the points the hold policy keeps (default 100000);
	// beyond it the oldest are passed on unchanged.
	HoldMax int
}

// Install is a service package running on an edge: one module instance
// with its limits, its state and its failure policy. Process and Tick are
// not safe for concurrent use (the pipeline runs one stage at a time);
// Stats is.
type Install struct {
	pkg      *Package
	opts     Options
	log      *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	policy   Policy

	inst    *instance // nil until started, and after a failure
	dec     resultDecoder
	buf     []byte
	sel     []uns.Point
	res     []uns.Point
	evs     []uns.Event
	held    []uns.Point
	clock   int64
	stopped bool
	// consecutive counts the failed calls since the last good one.
	consecutive int

	state      map[string][]byte
	stateSize  int
	stateDirty bool

	mu    sync.Mutex // guards stats and metrics
	stats Stats
}

// Stats count what an install did.
type Stats struct {
	Calls     uint64             `json:"calls"`      // Process and Tick calls into the module
	In        uint64             `json:"in"`         // points given to the module
	Out       uint64             `json:"out"`        // points it emitted
	Events    uint64             `json:"events"`     // events it emitted
	Failures  uint64             `json:"failures"`   // failed calls
	Starts    uint64             `json:"starts"`     // instantiations (1 + restarts)
	PassedOn  uint64             `json:"passed_on"`  // points passed on unchanged by the failure policy
	Held      int                `json:"held"`       // points held now
	Stopped   bool               `json:"stopped"`    // stopped after MaxFailures consecutive failures
	LastError string             `json:"last_error"` // the latest failure
	MemoryMiB float64            `json:"memory_mib"` // the module's linear memory
	Metrics   map[string]float64 `json:"metrics,omitempty"`
}

// instance is one instantiation of the module.
type instance struct {
	mod                         api.Module
	buffer, init, process, tick api.Function
	stderr                      *tailBuffer
	bufPtr                      uint32 // the module's input buffer
	bufCap                      int
}

// Open compiles the package's module and checks it against the manifest:
// its imports must be WASI or host functions of declared capabilities,
// and it must export the functions of molen-svc/1. The module starts on
// the first Process or Tick.
func Open(ctx context.Context, pkg *Package, opts Options) (*Install, error) {
	wasm, err := os.ReadFile(filepath.Join(pkg.Dir, pkg.Molen.Module))
	if err != nil {
		return nil, fmt.Errorf("service %s: read module: %w", pkg.Manifest.Metadata.ID, err)
	}
	return OpenModule(ctx, pkg, wasm, opts)
}

// OpenModule is Open with the module's bytes.
func OpenModule(ctx context.Context, pkg *Package, wasm []byte, opts Options) (*Install, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	if opts.HoldMax <= 0 {
		opts.HoldMax = 100_000
	}
	if len(opts.Params) == 0 {
		opts.Params = []byte("{}")
	}
	id := pkg.Manifest.Metadata.ID
	newRuntime := func(cache wazero.CompilationCache) wazero.Runtime {
		cfg := wazero.NewRuntimeConfigCompiler()
		if opts.Interpreter {
			cfg = wazero.NewRuntimeConfigInterpreter()
		}
		pages := uint32(min(pkg.Limits.MemoryBytes/65536, 65536))
		return wazero.NewRuntimeWithConfig(ctx, cfg.WithMemoryLimitPages(pages).WithCloseOnContextDone(true).WithCompilationCache(cache))
	}
	rt := newRuntime(compilationCache())
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		// A cache that cannot be read or written (a full disk, a removed
		// directory) fails the compilation: compile without it.
		rt.Close(ctx)
		rt = newRuntime(memoryCache)
		var retryErr error
		if compiled, retryErr = rt.CompileModule(ctx, wasm); retryErr == nil {
			opts.Log.Warn("service: compiled without the compilation cache", "service", id, "err", err)
		}
		err = retryErr
	}
	in := &Install{pkg: pkg, opts: opts, rt: rt, policy: Policy(pkg.Molen.OnFailure),
		log: opts.Log.With("service", id), state: map[string][]byte{}}
	fail := func(err error) (*Install, error) {
		rt.Close(ctx)
		return nil, fmt.Errorf("service %s: %w", id, err)
	}
	if err != nil {
		return fail(fmt.Errorf("compile module: %w", err))
	}
	in.compiled = compiled
	if err := checkModule(compiled, pkg.Molen.Capabilities.Host); err != nil {
		return fail(err)
	}
	if mem := compiled.ExportedMemories()["memory"]; mem != nil && uint64(mem.Min())*65536 > pkg.Limits.MemoryBytes {
		return fail(fmt.Errorf("the module needs %d MiB of memory to start, its limit is %d MiB",
			uint64(mem.Min())*65536>>20, pkg.Limits.MemoryBytes>>20))
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(err)
	}
	if err := in.hostModule(ctx); err != nil {
		return fail(err)
	}
	if opts.StateFile != "" {
		if err := in.loadState(); err != nil {
			return fail(err)
		}
	}
	return in, nil
}

// checkModule checks a module's imports against the declared host
// capabilities and its exports against molen-svc/1.
func checkModule(m wazero.CompiledModule, declared []string) error {
	allowed := map[string]string{}
	for capability, fns := range HostCapabilities {
		for _, fn := range fns {
			allowed[fn] = capability
		}
	}
	var errs []error
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			continue
		case "molen":
			capability, ok := allowed[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%w: molen.%s does not exist in %s", ErrUndeclaredImport, name, ABIVersion))
			} else if !slices.Contains(declared, capability) {
				errs = append(errs, fmt.Errorf("%w: molen.%s needs capability %q, which the manifest does not declare (capabilities.host)",
					ErrUndeclaredImport, name, capability))
			}
		default:
			errs = append(errs, fmt.Errorf("%w: %s.%s is not provided by molen", ErrUndeclaredImport, mod, name))
		}
	}
	exp := m.ExportedFunctions()
	for _, name := range []string{"molen_svc_abi_1", "molen_buffer", "molen_init", "molen_process", "molen_tick"} {
		if _, ok := exp[name]; !ok {
			errs = append(errs, fmt.Errorf("%w: export %s missing", ErrBadModule, name))
		}
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		errs = append(errs, fmt.Errorf("%w: export memory missing", ErrBadModule))
	}
	return errors.Join(errs...)
}

// Close stops the module and frees the runtime; it saves the state.
func (in *Install) Close(ctx context.Context) error {
	err := in.saveState()
	if cerr := in.rt.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// Process runs a batch: points the manifest's reads do not match are
// appended to out unchanged; the others go to the module, whose output
// is checked against the limits and capabilities and appended to out.
func (in *Install) Process(ctx context.Context, pts []uns.Point, out *pipeline.Output) {
	in.sel = in.sel[:0]
	for i := range pts {
		if in.reads(pts[i].Series) {
			in.sel = append(in.sel, pts[i])
		} else {
			out.Points = append(out.Points, pts[i])
		}
	}
	if len(in.sel) == 0 {
		return
	}
	for i := range in.sel {
		in.clock = max(in.clock, in.sel[i].TS)
	}
	batch := in.sel
	if len(in.held) > 0 && !in.stopped {
		batch = append(in.held, in.sel...)
		in.held = nil
	}
	in.call(ctx, batch, false, 0, out)
}

// Tick lets time pass in the module.
func (in *Install) Tick(ctx context.Context, now int64, out *pipeline.Output) {
	in.clock = max(in.clock, now)
	if len(in.held) > 0 && !in.stopped {
		batch := in.held
		in.held = nil
		in.call(ctx, batch, false, 0, out)
	}
	in.call(ctx, nil, true, now, out)
}

func (in *Install) reads(s string) bool {
	for _, g := range in.pkg.Reads {
		if g.Match(s) {
			return true
		}
	}
	return false
}

// call gives batch (or a tick) to the module and handles the outcome.
func (in *Install) call(ctx context.Context, batch []uns.Point, tick bool, now int64, out *pipeline.Output) {
	if in.stopped {
		in.failed(batch, nil, out)
		return
	}
	in.res, in.evs = in.res[:0], in.evs[:0]
	err := in.run(ctx, batch, tick, now)
	if err == nil {
		err = in.check(len(batch), tick, out)
	}
	in.mu.Lock()
	in.stats.Calls++
	in.stats.In += uint64(len(batch))
	if in.inst != nil {
		in.stats.MemoryMiB = float64(in.inst.mod.Memory().Size()) / (1 << 20)
	}
	in.mu.Unlock()
	if err != nil {
		in.failed(batch, err, out)
		return
	}
	out.Points = append(out.Points, in.res...)
	out.Events = append(out.Events, in.evs...)
	in.mu.Lock()
	in.stats.Out += uint64(len(in.res))
	in.stats.Events += uint64(len(in.evs))
	in.stats.Held = len(in.held)
	in.mu.Unlock()
	if !tick {
		// Only a good batch ends a run of failures: a module that fails
		// every batch stops even if its ticks succeed.
		in.consecutive = 0
	}
	if in.stateDirty {
		if err := in.saveState(); err != nil {
			in.log.Error("service: save state", "err", err)
		}
	}
}

// run calls the module: it starts it if needed, writes the batch into its
// buffer, calls process (or tick) within the batch deadline and decodes
// the result into in.res and in.evs.
func (in *Install) run(ctx context.Context, batch []uns.Point, tick bool, now int64) error {
	if in.inst == nil {
		// Starting (instantiation, a Go module's runtime, init) has its own
		// deadline: a busy edge must not fail a module for a slow start.
		sctx, cancel := context.WithTimeout(ctx, max(in.pkg.Limits.BatchTime, startTime))
		err := in.start(sctx)
		cancel()
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, in.pkg.Limits.BatchTime)
	defer cancel()
	inst := in.inst
	var packed uint64
	var err error
	if tick {
		packed, err = call1(ctx, inst, inst.tick, api.EncodeI64(now))
	} else {
		in.buf = appendBatch(in.buf[:0], batch)
		if err = in.write(ctx, in.buf); err == nil {
			packed, err = call1(ctx, inst, inst.process, uint64(len(in.buf)))
		}
	}
	if err != nil {
		return err
	}
	res, ok := inst.mod.Memory().Read(uint32(packed>>32), uint32(packed))
	if !ok {
		return fmt.Errorf("%w: result outside memory", ErrBadResult)
	}
	in.res, in.evs, err = in.dec.decodeResult(res, in.res, in.evs)
	return err
}

// startTime bounds the start of an instance and its init, if
// limits.batchTime is shorter.
const startTime = 10 * time.Second

// minBuffer is the smallest input buffer the host asks a module for.
const minBuffer = 64 << 10

// write copies b into the module's input buffer, asking the module for a
// larger one first if b does not fit: a buffer stays valid until the next
// molen_buffer call, so most batches cost one call into the module.
func (in *Install) write(ctx context.Context, b []byte) error {
	inst := in.inst
	if len(b) > inst.bufCap {
		size := max(len(b), minBuffer, 2*inst.bufCap)
		ptr, err := call1(ctx, inst, inst.buffer, uint64(size))
		if err != nil {
			return err
		}
		inst.bufPtr, inst.bufCap = uint32(ptr), size
	}
	if len(b) > 0 && !inst.mod.Memory().Write(inst.bufPtr, b) {
		return fmt.Errorf("%w: input buffer outside memory", ErrBadResult)
	}
	return nil
}

func call1(ctx context.Context, inst *instance, fn api.Function, arg uint64) (uint64, error) {
	r, err := fn.Call(ctx, arg)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Errorf("batch deadline exceeded: %w", err)
		}
		return 0, moduleFailure(err, inst.stderr)
	}
	if len(r) != 1 {
		return 0, fmt.Errorf("%w: want one result", ErrBadModule)
	}
	return r[0], nil
}

// start instantiates the module and calls its init with the parameters.
func (in *Install) start(ctx context.Context) error {
	stderr := &tailBuffer{max: 2048}
	mod, err := in.rt.InstantiateModule(ctx, in.compiled, wazero.NewModuleConfig().
		WithName("").WithStartFunctions("_initialize").WithStderr(stderr).WithStdout(stderr))
	if err != nil {
		return fmt.Errorf("start: %w", moduleFailure(err, stderr))
	}
	in.inst = &instance{mod: mod, stderr: stderr,
		buffer: mod.ExportedFunction("molen_buffer"), init: mod.ExportedFunction("molen_init"),
		process: mod.ExportedFunction("molen_process"), tick: mod.ExportedFunction("molen_tick")}
	in.mu.Lock()
	in.stats.Starts++
	in.mu.Unlock()
	if err := in.write(ctx, in.opts.Params); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	packed, err := call1(ctx, in.inst, in.inst.init, uint64(len(in.opts.Params)))
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	res, ok := mod.Memory().Read(uint32(packed>>32), uint32(packed))
	if !ok {
		return fmt.Errorf("init: %w: result outside memory", ErrBadResult)
	}
	if _, _, err := in.dec.decodeResult(res, nil, nil); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// check enforces the limits and capabilities on a result.
func (in *Install) check(n int, tick bool, out *pipeline.Output) error {
	limit := in.pkg.Limits.OutputsPerInput * n
	if tick {
		limit = in.pkg.Limits.TickOutputs
	}
	if len(in.res) > limit {
		if tick {
			return fmt.Errorf("emitted %d points on a tick, limit %d (limits.tickOutputs)", len(in.res), limit)
		}
		return fmt.Errorf("emitted %d points for %d inputs, limit %d per input (limits.outputsPerInput)",
			len(in.res), n, in.pkg.Limits.OutputsPerInput)
	}
	k := 0
	for _, p := range in.res {
		if err := uns.ValidatePath(p.Series); err != nil {
			return fmt.Errorf("emitted series %.200q: %v", p.Series, err)
		}
		if !slices.ContainsFunc(in.pkg.Writes, func(g pipeline.Glob) bool { return g.Match(p.Series) }) {
			return fmt.Errorf("emitted series %q outside its declared writes (capabilities.writes)", p.Series)
		}
		if f, ok := p.Value.AsFloat(); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			out.Skip(pipeline.NonFinite)
			continue
		}
		in.res[k] = p
		k++
	}
	in.res = in.res[:k]
	for _, e := range in.evs {
		if !slices.Contains(in.pkg.Molen.Capabilities.Events, e.Kind) {
			return fmt.Errorf("emitted event kind %.40q, not declared (capabilities.events)", e.Kind)
		}
		if err := uns.ValidateEvent(e); err != nil {
			return fmt.Errorf("emitted event: %v", err)
		}
	}
	return nil
}

// failed handles a failed call: the instance is dropped (the next call
// starts a fresh one), the failure counted and, after MaxFailures in a
// row, the install stopped; the batch's points follow the policy.
func (in *Install) failed(batch []uns.Point, err error, out *pipeline.Output) {
	if err != nil {
		if in.inst != nil {
			in.inst.mod.Close(context.Background())
			in.inst = nil
		}
		in.consecutive++
		stop := in.consecutive >= in.pkg.Limits.MaxFailures
		in.mu.Lock()
		in.stats.Failures++
		in.stats.LastError = err.Error()
		in.stats.Stopped = stop
		in.mu.Unlock()
		if stop {
			in.stopped = true
			in.log.Error("service: stopped after failing repeatedly", "failures", in.consecutive, "err", err)
		} else {
			in.log.Warn("service: call failed; the module restarts", "err", err)
		}
	}
	if in.policy == Hold && !in.stopped {
		in.held = append(in.held, batch...)
		if over := len(in.held) - in.opts.HoldMax; over > 0 {
			in.passOn(in.held[:over], out)
			in.held = slices.Delete(in.held, 0, over)
		}
	} else {
		if len(in.held) > 0 {
			in.passOn(in.held, out)
			in.held = nil
		}
		in.passOn(batch, out)
	}
	in.mu.Lock()
	in.stats.Held = len(in.held)
	in.mu.Unlock()
}

func (in *Install) passOn(pts []uns.Point, out *pipeline.Output) {
	out.Points = append(out.Points, pts...)
	in.mu.Lock()
	in.stats.PassedOn += uint64(len(pts))
	in.mu.Unlock()
}

// Stats returns a snapshot of the install's counters.
func (in *Install) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.stats
	s.Metrics = make(map[string]float64, len(in.stats.Metrics))
	for k, v := range in.stats.Metrics {
		s.Metrics[k] = v
	}
	return s
}

// moduleFailure shortens a trap for the report: the first line of err (not
// the wasm stack) and the first lines the module wrote to stderr (a Go
// module's panic or "out of memory"), with err still wrapped.
func moduleFailure(err error, stderr *tailBuffer) error {
	first, _, _ := strings.Cut(err.Error(), "\n")
	lines := strings.SplitN(stderr.String(), "\n", 3)
	if len(lines) > 2 {
		lines = lines[:2]
	}
	if msg := strings.Join(lines, " "); msg != "" {
		return &trapError{msg: first + "; module stderr: " + msg, err: err}
	}
	return &trapError{msg: first, err: err}
}

type trapError struct {
	msg string
	err error
}

func (e *trapError) Error() string { return e.msg }
func (e *trapError) Unwrap() error { return e.err }

// tailBuffer keeps the first max bytes written to it: a module's panic
// message, for the failure report.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - t.b.Len(); room > 0 {
		t.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}
