package pipeline

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

func mustRunner(t *testing.T, spec string, opts Options) *Runner {
	t.Helper()
	def, err := Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(def, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pt(series string, ts int64, v float64) uns.Point {
	return uns.Point{Series: series, TS: ts, Value: uns.Float(v)}
}

func TestRunnerProcess(t *testing.T) {
	var local []uns.Point
	r := mustRunner(t, `
pipelines:
  - {name: double, match: "m/+/a", stages: [{test_scale: {by: 2}}]}
  - {name: keep, match: "m/+/b", output: local, stages: [{test_scale: {by: 10}}]}
  - {name: gone, match: "m/+/c", output: drop, stages: []}
  - {name: both, match: ["m/x/a", "m/nothing"], stages: []}
`, Options{Local: func(p []uns.Point) { local = append(local, p...) }})
	in := []uns.Point{pt("m/x/a", 1, 1), pt("m/x/z", 2, 2), pt("m/x/b", 3, 3), pt("m/x/c", 4, 4), pt("m/y/a", 5, 5), pt("m/x/y", 6, 6)}
	got := r.Process(slices.Clone(in))
	want := []uns.Point{
		pt("m/x/z", 2, 2), pt("m/x/y", 6, 6), // no pipeline: unchanged, first
		pt("m/x/a", 1, 2), pt("m/y/a", 5, 10), // double
		pt("m/x/a", 1, 1), // both
	}
	if !slices.Equal(got, want) {
		t.Errorf("Process\n got  %v\n want %v", got, want)
	}
	if want := []uns.Point{pt("m/x/b", 3, 30)}; !slices.Equal(local, want) {
		t.Errorf("local got %v, want %v", local, want)
	}
	s := r.Stats()
	if s.Passed != 2 {
		t.Errorf("Passed = %d, want 2", s.Passed)
	}
	var counts [][3]uint64
	for _, p := range s.Pipelines {
		counts = append(counts, [3]uint64{p.In, p.Out, uint64(len(p.Stages))})
	}
	if want := [][3]uint64{{2, 2, 1}, {1, 1, 1}, {1, 1, 0}, {1, 1, 0}}; !slices.Equal(counts, want) {
		t.Errorf("pipeline in/out/stages = %v, want %v", counts, want)
	}
}

func TestRunnerSkipsAreCounted(t *testing.T) {
	r := mustRunner(t, `pipelines: [{match: "#", stages: [{test_scale: {by: 2}}]}]`, Options{})
	got := r.Process([]uns.Point{pt("a/b", 1, 1), {Series: "a/b", TS: 2, Value: uns.String("x")}})
	if want := []uns.Point{pt("a/b", 1, 2)}; !slices.Equal(got, want) {
		t.Errorf("Process = %v, want %v", got, want)
	}
	st := r.Stats().Pipelines[0].Stages[0]
	if st.In != 2 || st.Out != 1 || st.Skipped[WrongType] != 1 || st.SkippedTotal() != 1 {
		t.Errorf("stage stats = %+v, want in 2, out 1, wrong_type 1", st)
	}
}

func TestRunnerTickFlowsThroughLaterStages(t *testing.T) {
	r := mustRunner(t, `
pipelines:
  - match: "#"
    stages: [{test_hold: {wait: 10s}}, {test_scale: {by: 3}}, {test_hold: {wait: 5s}}]
`, Options{})
	const s = int64(1e9)
	if got := r.Process([]uns.Point{pt("a/b", 1*s, 1), pt("a/b", 2*s, 2)}); len(got) != 0 {
		t.Errorf("Process passed %v on; want everything held", got)
	}
	if got := r.Tick(10*s, nil); len(got) != 0 {
		t.Errorf("Tick(10s) = %v, want nothing yet", got)
	}
	// The first hold releases the 1s point, the scale triples it and the
	// second hold, past its 5s too, releases it in the same tick.
	if got, want := r.Tick(11*s, nil), []uns.Point{pt("a/b", 1*s, 3)}; !slices.Equal(got, want) {
		t.Errorf("Tick(11s) = %v, want %v", got, want)
	}
	// Finish ticks at the last time seen (2s) plus all waits (15s).
	if got, want := r.Finish(nil), []uns.Point{pt("a/b", 2*s, 6)}; !slices.Equal(got, want) {
		t.Errorf("Finish = %v, want %v", got, want)
	}
	evs := r.DrainEvents(nil)
	if len(evs) != 4 || evs[0].Kind != "released" || evs[0].Asset != "a" {
		t.Errorf("events = %+v, want 4 'released' on asset a", evs)
	}
	if evs := r.DrainEvents(nil); len(evs) != 0 {
		t.Errorf("second DrainEvents = %v, want none", evs)
	}
}

func TestRunnerEventsBoundAndCallback(t *testing.T) {
	spec := `pipelines: [{match: "#", stages: [{test_hold: {wait: 1s}}]}]`
	r := mustRunner(t, spec, Options{MaxEvents: 2})
	r.Process([]uns.Point{pt("a/b", 0, 1), pt("a/c", 0, 2), pt("a/d", 0, 3)})
	r.Tick(1e9, nil)
	if evs := r.DrainEvents(nil); len(evs) != 2 {
		t.Errorf("kept %d events, want MaxEvents=2", len(evs))
	}
	if got := r.Stats().EventsDropped; got != 1 {
		t.Errorf("EventsDropped = %d, want 1", got)
	}
	var seen []Event
	r = mustRunner(t, spec, Options{Events: func(e []Event) { seen = append(seen, e...) }})
	r.Process([]uns.Point{pt("a/b", 0, 1)})
	r.Tick(1e9, nil)
	if len(seen) != 1 || len(r.DrainEvents(nil)) != 0 {
		t.Errorf("callback saw %d events, want 1 and nothing kept", len(seen))
	}
}

func TestRunnerReload(t *testing.T) {
	const v1 = `
pipelines:
  - {name: same, match: "a/#", stages: [{test_hold: {wait: 5s}}]}
  - {name: changed, match: "b/#", stages: [{test_hold: {wait: 5s}}]}
`
	const v2 = `
pipelines:
  - {name: same, match: "a/#", stages: [{test_hold: {wait: 5s}}]}
  - {name: changed, match: "b/#", stages: [{test_hold: {wait: 6s}}]}
  - {name: new, match: "c/#", stages: []}
`
	r := mustRunner(t, v1, Options{})
	r.Process([]uns.Point{pt("a/x", 0, 1), pt("b/x", 0, 2), pt("c/x", 0, 3)})
	def, err := Parse([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(def); err != nil {
		t.Fatal(err)
	}
	// The unchanged pipeline kept its held point; the changed one lost it
	// (as documented); c/x now goes through the new pipeline.
	got := r.Tick(10e9, r.Process([]uns.Point{pt("c/y", 1, 4)}))
	if want := []uns.Point{pt("c/y", 1, 4), pt("a/x", 0, 1)}; !slices.Equal(got, want) {
		t.Errorf("after reload got %v, want %v", got, want)
	}
	if in := r.Stats().Pipelines[0].In; in != 1 {
		t.Errorf("kept pipeline's In = %d, want 1 (counters carry over)", in)
	}
}

func TestRunnerConcurrent(t *testing.T) {
	r := mustRunner(t, `pipelines: [{match: "a/+", stages: [{test_scale: {by: 2}}]}, {match: "b/+", stages: []}]`, Options{})
	const workers, batches = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := range batches {
				out := r.Process([]uns.Point{pt("a/x", int64(i), 1), pt("b/x", int64(i), 1), pt("c/x", int64(w), 1)})
				for _, p := range out {
					if p.Series == "a/x" && p.Value.Float64() != 2 {
						t.Errorf("a/x = %v, want 2", p.Value)
					}
				}
				n += len(out)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	for range 50 {
		r.Tick(0, nil)
		r.Stats()
	}
	wg.Wait()
	if want := workers * batches * 3; total != want {
		t.Errorf("got %d points out, want %d", total, want)
	}
}

func TestReplayAndExplain(t *testing.T) {
	def, err := Parse([]byte(`
pipelines:
  - {name: held, match: "m/+/a", stages: [{test_hold: {wait: 1500ms}}]}
  - {name: none, match: "m/+/zzz", stages: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	in := `# comment
{"series":"m/x/a","ts":1000,"value":1}
{"series":"m/x/b","ts":1200.5,"value":"on","q":"bad"}

{"series":"m/x/a","ts":2100,"value":2.0}
{"series":"m/x/a","ts":3000,"value":true}
`
	var out, explain bytes.Buffer
	stats, err := Replay(def, strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"series":"m/x/b","ts":1200.5,"value":"on","q":"bad"}
{"series":"m/x/a","ts":1000,"value":1,"q":"good"}
{"event":"released","asset":"m/x","start":1000,"end":3000}
{"series":"m/x/a","ts":2100,"value":2.0,"q":"good"}
{"series":"m/x/a","ts":3000,"value":true,"q":"good"}
{"event":"released","asset":"m/x","start":2100,"end":4500}
{"event":"released","asset":"m/x","start":3000,"end":4500}
`
	if got := out.String(); got != want {
		t.Errorf("Replay output\n got:\n%s want:\n%s", got, want)
	}
	if err := WriteExplain(&explain, stats); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"held", "0 test_hold", "(matched no series)", "(no pipeline)"} {
		if !strings.Contains(explain.String(), s) {
			t.Errorf("explain lacks %q:\n%s", s, explain.String())
		}
	}
}

func TestReplayBadLine(t *testing.T) {
	def, _ := Parse([]byte(`pipelines: [{match: "#", stages: []}]`))
	for _, line := range []string{
		`{"series":"a/b","ts":1}`,
		`{"series":"a/b","ts":1,"value":1,"extra":2}`,
		`{"series":"a/+","ts":1,"value":1}`,
		`{"series":"a/b","ts":-5,"value":1}`,
		`{"series":"a/b","ts":1,"value":null}`,
		`{"series":"a/b","ts":1,"value":1,"q":"fine"}`,
		`not json`,
	} {
		_, err := Replay(def, strings.NewReader("{\"series\":\"a/b\",\"ts\":1,\"value\":1}\n"+line+"\n"), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), "input line 2: ") {
			t.Errorf("Replay with line %s: error %v, want one about input line 2", line, err)
		}
	}
}
