package sim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// stripTS removes the timestamp of a payload, the only part that depends on
// the wall clock.
func stripTS(p []byte) []byte {
	i := bytes.Index(p, []byte(`"ts":`))
	if i < 0 {
		return p
	}
	j := i + len(`"ts":`)
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	return append(p[:i:i], p[j:]...)
}

func TestFactoryDeterministic(t *testing.T) {
	const ticks = 2000
	a, b, c := NewFactory(42), NewFactory(42), NewFactory(43)
	differ := 0
	for i := range ticks {
		// a and b are stamped with unrelated clocks: only ts may differ.
		ma := a.Tick(t0.Add(time.Duration(i) * time.Second))
		mb := b.Tick(t0.Add(time.Duration(i) * 37 * time.Millisecond).Add(time.Hour))
		mc := c.Tick(t0.Add(time.Duration(i) * time.Second))
		if len(ma) != len(mb) || len(ma) != len(mc) {
			t.Fatalf("tick %d: %d, %d and %d messages", i, len(ma), len(mb), len(mc))
		}
		for j := range ma {
			if ma[j].Machine != mb[j].Machine || ma[j].Topic != mb[j].Topic || ma[j].Seq != mb[j].Seq {
				t.Fatalf("tick %d message %d: got %s seq %d, want %s seq %d", i, j, mb[j].Topic, mb[j].Seq, ma[j].Topic, ma[j].Seq)
			}
			if got, want := stripTS(mb[j].Payload), stripTS(ma[j].Payload); !bytes.Equal(got, want) {
				t.Fatalf("tick %d %s: same seed, got %s, want %s", i, ma[j].Topic, got, want)
			}
			if !bytes.Equal(stripTS(mc[j].Payload), stripTS(ma[j].Payload)) {
				differ++
			}
		}
	}
	if differ < ticks {
		t.Errorf("seeds 42 and 43 differ in %d payloads over %d ticks; want most of them", differ, ticks)
	}
}

// wantKind is the value kind each tag's payload must decode to.
func wantKind(tag string) uns.Kind {
	switch tag {
	case tagState:
		return uns.KindString
	case tagGood, tagScrap, tagSeq:
		return uns.KindInt
	}
	return uns.KindFloat
}

func TestFactoryPayloadsDecode(t *testing.T) {
	const ticks = 3000
	f := NewFactory(7)
	machines := f.Machines()
	if len(machines) < 4 {
		t.Fatalf("got %d machines, want at least 4", len(machines))
	}
	kindNames := map[string]bool{}
	for _, m := range f.machines {
		kindNames[m.kind.name] = true
	}
	if len(kindNames) != len(machines) {
		t.Errorf("machines %v: want each of a different kind", machines)
	}

	var firstTopics []string // topics of each tick, which must not change
	uncertain := 0
	for i := range ticks {
		now := t0.Add(time.Duration(i) * time.Second)
		msgs := f.Tick(now)
		var topics []string
		for j, msg := range msgs {
			topics = append(topics, msg.Topic)
			if err := uns.ValidatePath(msg.Topic); err != nil {
				t.Fatalf("topic %q: %v", msg.Topic, err)
			}
			if got := uns.Asset(msg.Topic); got != msg.Machine {
				t.Fatalf("topic %q: asset %q, want machine %q", msg.Topic, got, msg.Machine)
			}
			pts, err := uns.Decode(nil, msg.Topic, msg.Payload, 0)
			if err != nil {
				t.Fatalf("decode %s %s: %v", msg.Topic, msg.Payload, err)
			}
			if len(pts) != 1 {
				t.Fatalf("decode %s %s: got %d points, want 1", msg.Topic, msg.Payload, len(pts))
			}
			p := pts[0]
			tag := uns.Tag(msg.Topic)
			if p.Series != msg.Topic {
				t.Errorf("series %q, want %q", p.Series, msg.Topic)
			}
			if got, want := p.TS, now.UnixMilli()*1e6; got != want {
				t.Errorf("%s: ts %d ns, want %d", msg.Topic, got, want)
			}
			if got, want := p.Value.Kind(), wantKind(tag); got != want {
				t.Fatalf("%s %s: value kind %v, want %v", msg.Topic, msg.Payload, got, want)
			}
			switch tag {
			case tagState:
				if s := p.Value.Str(); !slices.Contains([]string{"running", "idle", "setup", "down"}, s) {
					t.Errorf("%s: state %q", msg.Topic, s)
				}
			case tagSeq:
				if got, want := uint64(p.Value.Int()), msg.Seq; got != want {
					t.Errorf("%s: seq %d, message Seq %d", msg.Topic, got, want)
				}
				if got, want := msg.Seq, uint64(i+1); got != want {
					t.Errorf("%s: tick %d has seq %d, want %d", msg.Topic, i, got, want)
				}
				// seq closes the tick of its machine.
				if j+1 < len(msgs) && msgs[j+1].Machine == msg.Machine {
					t.Errorf("%s: seq is not the last message of its tick", msg.Topic)
				}
			}
			switch p.Quality {
			case uns.Good:
			case uns.Uncertain:
				uncertain++
				if wantKind(tag) != uns.KindFloat || tag == tagCycle || tag == tagPower || tag == tagEnergy {
					t.Errorf("%s: quality uncertain on a tag that has no sensor", msg.Topic)
				}
			default:
				t.Errorf("%s: quality %v", msg.Topic, p.Quality)
			}
		}
		if firstTopics == nil {
			firstTopics = topics
		} else if !slices.Equal(topics, firstTopics) {
			t.Fatalf("tick %d: topics %v, want %v", i, topics, firstTopics)
		}
	}
	if uncertain == 0 {
		t.Errorf("no sensor glitch (quality uncertain) in %d ticks", ticks)
	}
}

func TestFactorySite(t *testing.T) {
	f := newFactory(1, "plant-7")
	for _, m := range f.Machines() {
		if !strings.HasPrefix(m, "plant-7/"+Area+"/"+Line+"/") {
			t.Errorf("machine %q: want it under plant-7/%s/%s", m, Area, Line)
		}
	}
}

// TestMachineLongRun checks the model's behaviour over many simulated
// hours, machine by machine.
func TestMachineLongRun(t *testing.T) {
	const (
		ticks  = 200_000 // about 55 h of simulated time
		window = 600     // running ticks before a failure that count as "before"
	)
	for _, m := range newFactory(3, DefaultSite).machines {
		t.Run(m.kind.name, func(t *testing.T) {
			k := m.kind
			seen := map[state]int{}
			var (
				runTicks, downTicks float64
				failures            int
				good, scrap         = m.good, m.scrap
				energy              = m.energy
				sumAll              = make([]float64, len(k.process))
				sumBefore           = make([]float64, len(k.process))
				nBefore             int
				recent              = make([][]float64, 0, window) // process values of the last running ticks
			)
			for range ticks {
				prev := m.state
				m.step()
				seen[m.state]++
				if m.good < good || m.scrap < scrap || m.energy < energy {
					t.Fatalf("counter went back: good %d→%d, scrap %d→%d, energy %v→%v", good, m.good, scrap, m.scrap, energy, m.energy)
				}
				good, scrap, energy = m.good, m.scrap, m.energy
				switch {
				case m.state == running:
					runTicks++
					for i, v := range m.values {
						sumAll[i] += v
					}
					if len(recent) == window {
						recent = recent[1:]
					}
					recent = append(recent, slices.Clone(m.values))
				case m.state == down && prev == running:
					failures++
					if len(recent) == window {
						for _, vs := range recent {
							for i, v := range vs {
								sumBefore[i] += v
							}
						}
						nBefore += window
					}
					recent = recent[:0]
				}
				if m.state == down {
					downTicks++
				}
			}

			for _, s := range []state{running, idle, setup, down} {
				if seen[s] == 0 {
					t.Errorf("state %v never occurred in %d ticks", s, ticks)
				}
			}
			if m.good == 0 || m.scrap == 0 {
				t.Errorf("good %d, scrap %d: want both to count", m.good, m.scrap)
			}
			if m.failures != failures {
				t.Errorf("machine counted %d failures, test saw %d", m.failures, failures)
			}

			// Failures: the expected count is running time / MTBF.
			want := runTicks * TickSeconds / k.mtbf
			if r := float64(failures) / want; r < 0.6 || r > 1.6 {
				t.Errorf("%d failures in %.0f h running, want about %.1f (MTBF %.1f h)", failures, runTicks/3600, want, k.mtbf/3600)
			}
			if mttr := downTicks * TickSeconds / float64(failures); mttr < 0.6*k.mttr || mttr > 1.6*k.mttr {
				t.Errorf("mean time to repair %.0f s, want about %.0f s", mttr, k.mttr)
			}
			if nBefore == 0 {
				t.Fatalf("no failure after %d running ticks", window)
			}

			// The drift that wear drives precedes failures.
			for i, p := range k.process {
				if p.wear <= 0 {
					continue
				}
				all, before := sumAll[i]/runTicks, sumBefore[i]/float64(nBefore)
				t.Logf("%s: mean %.2f while running, %.2f in the %d s before a failure", p.tag, all, before, window)
				if before <= all+p.noise {
					t.Errorf("%s: mean %.3f before failures, %.3f overall while running: want a rise before failures", p.tag, before, all)
				}
			}
			t.Logf("%d failures in %.0f h running; good %d scrap %d; %.0f kWh; states %v", failures, runTicks/3600, m.good, m.scrap, m.energy, seen)
		})
	}
}

func BenchmarkTick(b *testing.B) {
	f := NewFactory(1)
	n := 0
	now := t0
	for b.Loop() {
		n += len(f.Tick(now))
		now = now.Add(time.Second)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// TestPrinter runs the 3D printer for three simulated days: it prints
// jobs one after another, heating first, pauses when its spool runs out,
// fails now and then with a worn heater (whose nozzle temperature wanders
// more before), and the same seed gives the same messages.
func TestPrinter(t *testing.T) {
	a, b := NewPrinter(4, ""), NewPrinter(4, "")
	if a.Asset() != "demo-factory/hall-a/print-shop/printer-1" {
		t.Fatalf("asset %s", a.Asset())
	}
	states := map[string]int{}
	var last Message
	for i := range 3 * 86400 {
		now := time.Unix(int64(i), 0)
		ma, mb := a.Tick(now), b.Tick(now)
		if len(ma) != len(printerTags) || ma[len(ma)-1].Topic != a.Asset()+"/seq" {
			t.Fatalf("tick %d: %d messages", i, len(ma))
		}
		for k := range ma {
			if string(ma[k].Payload) != string(mb[k].Payload) {
				t.Fatalf("tick %d: %s vs %s: the same seed differs", i, ma[k].Payload, mb[k].Payload)
			}
			if _, err := uns.Decode(nil, ma[k].Topic, ma[k].Payload, 0); err != nil {
				t.Fatal(err)
			}
		}
		states[a.state]++
		last = ma[8]
	}
	for _, s := range []string{"idle", "heating", "printing", "paused", "done", "error"} {
		if states[s] == 0 {
			t.Errorf("never %s in three days: %v", s, states)
		}
	}
	if states["printing"] < 86400 {
		t.Errorf("printing %d s of three days", states["printing"])
	}
	t.Logf("three days: %v; jobs done %s, failed %d", states, last.Payload, a.failed)
}
