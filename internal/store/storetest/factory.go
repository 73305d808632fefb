package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uns"
)

// Shape is a kind of plant for the factory benchmarks of the stores,
// which store the simulator's data: sites copies of the
// demo line (42 series each, seeded differently) at 1 Hz, in continuous
// simulated time from BenchT0; no hour is replayed. A shape
// turns the simulator's values into those of other kinds of plant.
type Shape struct {
	Name string
	// Point changes a point in place; nil keeps the simulator's data.
	Point func(rng *rand.Rand, p *uns.Point)
}

// Shapes are the kinds of plant the store benchmarks measure.
var Shapes = []Shape{
	// The simulator as it is: decimals of a few digits, as a PLC register
	// scaled to engineering units reports them.
	{Name: "sim"},
	// Noisy sensors: every float carries noise of 0.1 % and is reported
	// as a float32 with all its digits, as an analog input read through a
	// 24-bit converter and sent unrounded is. No decimal codec helps.
	{Name: "noisy", Point: func(rng *rand.Rand, p *uns.Point) {
		if p.Value.Kind() == uns.KindFloat {
			v := p.Value.Float64()
			p.Value = uns.Float(float64(float32(v + (math.Abs(v)*1e-3+1e-3)*rng.NormFloat64())))
		}
	}},
	// The field: a gateway stamps each reading when its poll returns, in
	// milliseconds, 0–40 ms late and never on the same offset twice, and
	// sends floats as float32 (3 significant digits of signal, the rest
	// noise). Timestamps no longer fall on whole seconds, so the
	// delta-of-delta of the timestamps costs a byte or two a point too.
	{Name: "field", Point: func(rng *rand.Rand, p *uns.Point) {
		p.TS += int64(rng.IntN(40)) * int64(time.Millisecond)
		if p.Value.Kind() == uns.KindFloat {
			v := p.Value.Float64()
			p.Value = uns.Float(float64(float32(v * (1 + 5e-4*rng.NormFloat64()))))
		}
	}},
}

// FactoryPoints returns ticks seconds of the simulator's data of sites
// factories in calls of perCall points, tick by tick at 1 Hz from
// BenchT0 + from seconds, shaped by sh.
func FactoryPoints(tb testing.TB, sites, from, ticks, perCall int, sh Shape) (calls [][]uns.Point, series int) {
	tb.Helper()
	fs := make([]*sim.Factory, sites)
	for i := range fs {
		fs[i] = sim.NewFactory(int64(i + 1))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	seen := make(map[string]bool)
	var cur []uns.Point
	for tick := from; tick < from+ticks; tick++ {
		now := time.Unix(0, BenchT0+int64(tick)*int64(time.Second))
		for i, f := range fs {
			site := fmt.Sprintf("site-%03d", i)
			for _, m := range f.Tick(now) {
				topic := site + strings.TrimPrefix(m.Topic, sim.DefaultSite)
				n := len(cur)
				var err error
				if cur, err = uns.Decode(cur, topic, m.Payload, now.UnixNano()); err != nil {
					tb.Fatal(err)
				}
				if sh.Point != nil {
					for j := n; j < len(cur); j++ {
						sh.Point(rng, &cur[j])
					}
				}
				seen[topic] = true
				if len(cur) >= perCall {
					calls = append(calls, cur)
					cur = make([]uns.Point, 0, perCall)
				}
			}
		}
	}
	if len(cur) > 0 {
		calls = append(calls, cur)
	}
	return calls, len(seen)
}
