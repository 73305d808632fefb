package operator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// Test helpers of the event operators. Times in tests are seconds after
// eventsT0, a whole hour, so that windows align on it.
const eventsT0 = int64(1_772_352_000) * 1e9

func eventsAt(sec float64) int64 { return eventsT0 + int64(sec*1e9) }

// eventsIn is one input of a test: a point, or a Tick when tick is set.
type eventsIn struct {
	p    uns.Point
	tick bool
	now  int64
}

func eventsPt(series string, sec float64, v uns.Value) eventsIn {
	return eventsIn{p: uns.Point{Series: series, TS: eventsAt(sec), Value: v}}
}

func eventsPtQ(series string, sec float64, v uns.Value, q uns.Quality) eventsIn {
	in := eventsPt(series, sec, v)
	in.p.Quality = q
	return in
}

func eventsTick(sec float64) eventsIn { return eventsIn{tick: true, now: eventsAt(sec)} }

// eventsResult is everything an operator emitted over a test.
type eventsResult struct {
	points  []uns.Point
	events  []pipeline.Event
	skipped [pipeline.NumReasons]uint64
}

// eventsRun feeds ins to op: consecutive points as one batch, ticks as Tick.
// Each batch gets a fresh Output whose slices the operator appends to, as
// the runner does.
func eventsRun(op pipeline.Operator, ins []eventsIn) eventsResult {
	var r eventsResult
	var out pipeline.Output
	collect := func() {
		r.points = append(r.points, out.Points...)
		r.events = append(r.events, out.Events...)
		for k, c := range out.Skipped {
			r.skipped[k] += c
		}
		out.Reset()
	}
	var batch []uns.Point
	flush := func() {
		if len(batch) > 0 {
			op.Process(batch, &out)
			collect()
			batch = batch[:0]
		}
	}
	for _, in := range ins {
		if in.tick {
			flush()
			op.Tick(in.now, &out)
			collect()
			continue
		}
		batch = append(batch, in.p)
	}
	flush()
	return r
}

// eventsSecs formats a time as seconds after eventsT0.
func eventsSecs(ts int64) string {
	return strconv.FormatFloat(float64(ts-eventsT0)/1e9, 'f', -1, 64)
}

// eventsFormat renders events compactly for comparison:
// "kind start-end k=v …" (end "open" while open) with the attrs in keys.
// With keys nil all attributes are shown, sorted.
func eventsFormat(evs []pipeline.Event, keys ...string) []string {
	out := []string{}
	for _, e := range evs {
		end := "open"
		if e.End != 0 {
			end = eventsSecs(e.End)
		}
		ks := keys
		if ks == nil {
			for k := range e.Attrs {
				ks = append(ks, k)
			}
			slices.Sort(ks)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s-%s", uns.Tag(e.Asset), e.Kind, eventsSecs(e.Start), end)
		for _, k := range ks {
			if v, ok := e.Attrs[k]; ok {
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// eventsPoints renders points as "series@sec=value" for the series that
// contain sub (all when sub is "").
func eventsPoints(pts []uns.Point, sub string) []string {
	out := []string{}
	for _, p := range pts {
		if strings.Contains(p.Series, sub) {
			out = append(out, fmt.Sprintf("%s@%s=%s", p.Series, eventsSecs(p.TS), p.Value))
		}
	}
	return out
}

func eventsDiff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// TestStateMapper covers the raw value kinds a state may arrive as.
func TestStateMapper(t *testing.T) {
	m, err := stateNewMapper("map", map[string]string{"1": "running", "AUTO": "running", "true": "down", "running": "idle"}, false)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := stateNewMapper("state_map", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		m      *stateMapper
		v      uns.Value
		want   stateID
		wantOK bool
	}{
		{"name", &m, uns.String("down"), stateDown, true},
		{"overridden name", &m, uns.String("running"), stateIdle, true},
		{"raw string", &m, uns.String("AUTO"), stateRunning, true},
		{"int code", &m, uns.Int(1), stateRunning, true},
		{"integral float code", &m, uns.Float(1), stateRunning, true},
		{"fractional float", &m, uns.Float(1.5), 0, false},
		{"bool", &m, uns.Bool(true), stateDown, true},
		{"unmapped bool", &m, uns.Bool(false), 0, false},
		{"unmapped string", &m, uns.String("MANUAL"), 0, false},
		{"no codes without map", &m, uns.Int(4), 0, false},
		{"codes", &codes, uns.Int(4), stateDown, true},
		{"code 0 is not a state", &codes, uns.Int(0), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.m.lookup(tt.v)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("lookup(%v) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, err := stateNewMapper("map", map[string]string{"x": "broken"}, false); err == nil || !strings.Contains(err.Error(), `map["x"]`) {
		t.Errorf("bad map entry: err = %v, want one naming map[\"x\"]", err)
	}
}

// eventsNoise returns a deterministic noisy series around mean.
func eventsNoise(seed uint64, n int, mean, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*r.NormFloat64()
	}
	return out
}

// benchEventsStream is an hour of a small factory at 1 Hz: four machines,
// nine tags each, states that change every few minutes, noisy process
// values, monotonic counters. It is what the event operators see in the demo.
func benchEventsStream() []uns.Point {
	const ticks, machines = 3600, 4
	tags := []string{"state", "good_count", "scrap_count", "cycle_time_s", "vibration_mm_s", "spindle_temp_c", "power_kw", "energy_kwh", "seq"}
	series := make([][]string, machines)
	for m := range series {
		for _, t := range tags {
			series[m] = append(series[m], fmt.Sprintf("demo-factory/hall-a/line-1/m%d/%s", m, t))
		}
	}
	noise := eventsNoise(7, ticks*machines, 0, 1)
	pts := make([]uns.Point, 0, ticks*machines*len(tags))
	for i := range ticks {
		ts := eventsT0 + int64(i)*1e9
		for m := range machines {
			state := "running"
			switch phase := (i + 300*m) % 1200; {
			case phase >= 1100:
				state = "down"
			case phase >= 1050:
				state = "idle"
			}
			run := state == "running"
			n := noise[i*machines+m]
			good, scrap := int64(i/10), int64(i/400)
			vals := []uns.Value{
				uns.String(state), uns.Int(good), uns.Int(scrap), uns.Float(9.5 + 0.1*n),
				uns.Float(2 + 0.15*n), uns.Float(42 + 0.3*n), uns.Float(map[bool]float64{true: 12, false: 1}[run] + 0.2*n),
				uns.Float(float64(i) * 0.003), uns.Int(int64(i + 1)),
			}
			for k, v := range vals {
				pts = append(pts, uns.Point{Series: series[m][k], TS: ts, Value: v})
			}
		}
	}
	return pts
}

// benchEventsOperator measures op on benchEventsStream in batches of 1024
// points, ticking after each batch; one op is one point. The stream is
// replayed with time moved on by an hour per pass, so the operator sees an
// endless factory (counters reset once per pass). A warm-up pass creates
// the per-series state before the timer starts.
func benchEventsOperator(b *testing.B, op pipeline.Operator) {
	stream := benchEventsStream()
	const batch = 1024
	buf := make([]uns.Point, batch)
	out := pipeline.Output{Points: make([]uns.Point, 0, 4*batch), Events: make([]pipeline.Event, 0, 256)}
	pos, offset := 0, int64(0)
	feed := func(n int) {
		n = min(n, batch, len(stream)-pos)
		for i := range n {
			buf[i] = stream[pos+i]
			buf[i].TS += offset
		}
		op.Process(buf[:n], &out)
		op.Tick(buf[n-1].TS, &out)
		out.Reset()
		pos += n
		if pos == len(stream) {
			pos, offset = 0, offset+3600e9
		}
	}
	for pos != 0 || offset == 0 {
		feed(batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done, len(stream)-pos)
		feed(n)
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
