package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[string][]byte{}
)

// testModule builds the Go module in testdata/<name> once per test
// process (the go tool caches the compilation across processes).
func testModule(t testing.TB, name string) []byte {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	if builtDir == "" {
		d, err := os.MkdirTemp("", "molen-svc-test")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = d
	}
	out := filepath.Join(builtDir, name+".wasm")
	if err := BuildGo(context.Background(), filepath.Join("testdata", name), out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[name] = b
	return b
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// testPackage is testdata/margo.yaml with edit applied to its text.
func testPackage(t testing.TB, edit ...string) *Package {
	t.Helper()
	data, err := os.ReadFile("testdata/margo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(edit); i += 2 {
		if !strings.Contains(s, edit[i]) {
			t.Fatalf("testdata/margo.yaml has no %q", edit[i])
		}
		s = strings.Replace(s, edit[i], edit[i+1], 1)
	}
	pkg, err := ParseManifest([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

func openTest(t testing.TB, pkg *Package, module string, opts Options) *Install {
	t.Helper()
	in, err := OpenModule(context.Background(), pkg, testModule(t, module), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	return in
}

func points(n int) []uns.Point {
	pts := make([]uns.Point, n)
	for i := range pts {
		pts[i] = uns.Point{Series: "acme/hall1/line1/press/temp", TS: int64(i+1) * 1e9, Value: uns.Float(20 + float64(i))}
	}
	return pts
}

func TestPassThrough(t *testing.T) {
	in := openTest(t, testPackage(t), "evil", Options{Params: []byte(`{"mode":"pass"}`)})
	var out pipeline.Output
	pts := append(points(3), uns.Point{Series: "other/x", TS: 5, Value: uns.String("not read")},
		uns.Point{Series: "acme/b", TS: 6, Value: uns.Bool(true), Quality: uns.Bad},
		uns.Point{Series: "acme/i", TS: 7, Value: uns.Int(-42), Quality: uns.Uncertain},
		uns.Point{Series: "acme/s", TS: 8, Value: uns.String("héllo")})
	in.Process(t.Context(), pts, &out)
	// Points the manifest does not read pass first, then the module's output.
	want := append([]uns.Point{pts[3]}, append(append([]uns.Point{}, pts[:3]...), pts[4:]...)...)
	if len(out.Points) != len(want) {
		t.Fatalf("got %d points, want %d: %+v", len(out.Points), len(want), out.Points)
	}
	for i := range want {
		if out.Points[i] != want[i] {
			t.Errorf("point %d: got %+v, want %+v", i, out.Points[i], want[i])
		}
	}
	if s := in.Stats(); s.Failures != 0 || s.Starts != 1 || s.In != 6 || s.Out != 6 {
		t.Errorf("stats: %+v", s)
	}
}

// TestMisbehaving checks that a module that loops, allocates past its
// limit, traps, errs, floods or writes outside its declared series fails
// its batches, whose points then follow the policy (pass on unchanged),
// and is stopped after maxFailures.
func TestMisbehaving(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"loop", "deadline exceeded"},
		{"alloc", "out of memory"},
		{"trap", "assignment to entry in nil map"},
		{"error", "refusing this batch"},
		{"flood", "emitted 30 points for 3 inputs, limit 2 per input"},
		{"outside", `"other/site/secret" outside its declared writes`},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			// Only the loop runs into the deadline; the others get time to
			// spare however slow the machine.
			batchTime := "batchTime: 60s"
			if tc.mode == "loop" {
				batchTime = "batchTime: 300ms"
			}
			pkg := testPackage(t, "batchTime: 30s", batchTime, "limits: {memory: 64Mi", "limits: {memory: 32Mi")
			in := openTest(t, pkg, "evil", Options{Params: []byte(`{"mode":"` + tc.mode + `"}`)})
			for i := range 4 {
				var out pipeline.Output
				pts := points(3)
				in.Process(t.Context(), pts, &out)
				if len(out.Points) != 3 || out.Points[0] != points(3)[0] || out.Points[2] != points(3)[2] {
					t.Fatalf("batch %d: got %+v, want the 3 input points passed on", i, out.Points)
				}
				if tc.mode != "loop" && tc.mode != "alloc" {
					// Good ticks in between do not end the run of failed batches.
					in.Tick(t.Context(), int64(i), &out)
				}
			}
			s := in.Stats()
			if !s.Stopped || s.Failures != 3 || s.PassedOn != 12 || s.Starts != 3 {
				t.Errorf("stats: %+v; want stopped after 3 failures, 12 points passed on, 3 starts", s)
			}
			t.Logf("last error: %s", s.LastError)
			if !strings.Contains(s.LastError, tc.want) {
				t.Errorf("last error %q does not say %q", s.LastError, tc.want)
			}
		})
	}
}

func TestUndeclaredImport(t *testing.T) {
	pkg := testPackage(t, "host: [log, metrics, clock, state]", "host: [log, metrics, clock]")
	_, err := OpenModule(t.Context(), pkg, testModule(t, "stateful"), Options{})
	if !errors.Is(err, ErrUndeclaredImport) || !strings.Contains(err.Error(), `molen.state_get needs capability "state"`) {
		t.Fatalf("got %v, want an undeclared import of state_get", err)
	}
	// The module that does not use state loads without it.
	if _, err := OpenModule(t.Context(), pkg, testModule(t, "evil"), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestNotAModule(t *testing.T) {
	// The smallest valid WebAssembly module: no exports.
	_, err := OpenModule(t.Context(), testPackage(t), []byte("\x00asm\x01\x00\x00\x00"), Options{})
	if !errors.Is(err, ErrBadModule) {
		t.Fatalf("got %v, want ErrBadModule", err)
	}
}

// TestStateSurvivesRestarts checks the host functions: the state, the
// clock, metrics and logs, across a restart of the module (after a
// failure) and of the install (a new process).
func TestStateSurvivesRestarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	pkg := testPackage(t)
	open := func() *Install {
		return openTest(t, pkg, "stateful", Options{StateFile: file, EventClock: true})
	}
	in := open()
	seen := func(in *Install, n int, clock int64) int64 {
		var out pipeline.Output
		in.Process(t.Context(), points(n), &out)
		if len(out.Points) != 1 || out.Points[0].Series != "acme/counted/seen" {
			t.Fatalf("got %+v", out.Points)
		}
		if ts := out.Points[0].TS; ts != clock {
			t.Errorf("clock: got %d, want the newest event time %d", ts, clock)
		}
		return out.Points[0].Value.Int()
	}
	if got := seen(in, 3, 3e9); got != 3 {
		t.Fatalf("got %d, want 3", got)
	}
	// A failure restarts the module; the state stays.
	in.failed(nil, errors.New("injected"), &pipeline.Output{})
	if got := seen(in, 2, 3e9); got != 5 {
		t.Fatalf("after a module restart: got %d, want 5", got)
	}
	if s := in.Stats(); s.Starts != 2 || s.Metrics["points"] != 5 {
		t.Errorf("stats: %+v", s)
	}
	in.Close(t.Context())
	if got := seen(open(), 1, 1e9); got != 6 {
		t.Fatalf("after a process restart: got %d, want 6", got)
	}
}

func TestHoldPolicy(t *testing.T) {
	pkg := testPackage(t, "limits: {", "onFailure: hold\n      limits: {")
	in := openTest(t, pkg, "evil", Options{Params: []byte(`{"mode":"error"}`)})
	var out pipeline.Output
	in.Process(t.Context(), points(3), &out)
	in.Process(t.Context(), points(2), &out)
	if len(out.Points) != 0 || in.Stats().Held != 5 {
		t.Fatalf("got %d points out, %d held; want 0 and 5", len(out.Points), in.Stats().Held)
	}
	// The third failure stops the install: everything held passes on.
	in.Process(t.Context(), points(1), &out)
	if s := in.Stats(); len(out.Points) != 6 || s.Held != 0 || !s.Stopped || s.PassedOn != 6 {
		t.Fatalf("got %d points out, stats %+v; want 6 passed on and stopped", len(out.Points), s)
	}
}

// TestHoldRetries checks that held points go to the module again with
// the next batch once it runs.
func TestHoldRetries(t *testing.T) {
	pkg := testPackage(t, "limits: {", "onFailure: hold\n      limits: {")
	in := openTest(t, pkg, "evil", Options{Params: []byte(`{"mode":"pass"}`)})
	var out pipeline.Output
	in.failed(points(2), errors.New("injected"), &out)
	if len(out.Points) != 0 || in.Stats().Held != 2 {
		t.Fatalf("got %d points out, %d held; want 0 and 2", len(out.Points), in.Stats().Held)
	}
	in.Process(t.Context(), points(3), &out)
	if s := in.Stats(); len(out.Points) != 5 || s.Held != 0 || s.In != 5 || s.PassedOn != 0 {
		t.Fatalf("got %d points out, stats %+v; want the 2 held and 3 new points through the module", len(out.Points), s)
	}
}

// TestCacheFailure checks that a compilation cache that cannot be written
// (its directory removed) does not stop a module from loading.
func TestCacheFailure(t *testing.T) {
	dir := t.TempDir()
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(t.Context(), wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
	defer rt.Close(t.Context())
	if _, err := rt.CompileModule(t.Context(), handwrittenModule()); err == nil {
		t.Skip("wazero compiles despite a removed cache directory: nothing to fall back from")
	}
	old := compilationCache
	compilationCache = func() wazero.CompilationCache { return cache }
	defer func() { compilationCache = old }()
	in := openTest(t, testPackage(t), "evil", Options{Params: []byte(`{"mode":"pass"}`)})
	var out pipeline.Output
	in.Process(t.Context(), points(2), &out)
	if len(out.Points) != 2 || in.Stats().Failures != 0 {
		t.Fatalf("got %+v, %+v", out.Points, in.Stats())
	}
}
