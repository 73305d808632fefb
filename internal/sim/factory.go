package sim

import (
	"time"
)

// The factory's place in the UNS: site/area/line/machine/tag.
const (
	DefaultSite = "demo-factory"
	Area        = "hall-a"
	Line        = "line-1"
)

// Message is one MQTT publish of the simulated factory.
type Message struct {
	Machine string // asset path of the machine, e.g. "demo-factory/hall-a/line-1/cnc-mill"
	Topic   string // series path: Machine + "/" + tag
	Payload []byte // {"value": …, "ts": <unix ms>} with an optional "q"
	Seq     uint64 // the machine's tick; every message of a tick carries the same Seq
}

// Factory is the simulated factory: a pure, deterministic model without I/O.
// The same seed gives the same messages tick by tick, whatever the wall-clock
// times passed to Tick (those only stamp the payloads). A Factory is not safe
// for concurrent use.
type Factory struct {
	machines []*machine
}

// NewFactory returns the factory on site DefaultSite, seeded with seed.
func NewFactory(seed int64) *Factory {
	return newFactory(seed, DefaultSite)
}

// newFactory returns the factory on site, which must be a valid UNS segment.
// Each machine draws from its own PCG source, seeded from seed and the
// machine's name, so machines can tick independently of each other.
func newFactory(seed int64, site string) *Factory {
	f := &Factory{}
	for i := range kinds {
		k := &kinds[i]
		f.machines = append(f.machines, newMachine(k, seed, site+"/"+Area+"/"+Line+"/"+k.name))
	}
	return f
}

// Machines returns the asset paths of the machines, in publishing order.
func (f *Factory) Machines() []string {
	out := make([]string, len(f.machines))
	for i, m := range f.machines {
		out[i] = m.asset
	}
	return out
}

// Tick advances every machine by one tick (TickSeconds of simulated time)
// and returns their messages, machine by machine; each machine's seq message
// comes last. now stamps the payloads.
func (f *Factory) Tick(now time.Time) []Message {
	n := 0
	for _, m := range f.machines {
		n += len(m.topics)
	}
	out := make([]Message, 0, n)
	for _, m := range f.machines {
		out = m.tick(out, now)
	}
	return out
}

// lineMachines returns the names of the line's machines, in publishing
// order.
func lineMachines() []string {
	out := make([]string, len(kinds))
	for i := range kinds {
		out[i] = kinds[i].name
	}
	return out
}

// NewDemoFactory returns every machine of molen demo on site DefaultSite:
// the line's machines and the robot cell, seeded with seed as the demo
// seeds them, so that its history continues in the same model.
func NewDemoFactory(seed int64) *Factory {
	f := newFactory(seed, DefaultSite)
	f.machines = append(f.machines, newMachine(&robotCell, seed, DefaultSite+"/"+Area+"/"+Line+"/"+robotCell.name))
	return f
}

// Advance advances every machine by n ticks without messages, for a
// coarser sampling of the same model (Tick after Advance(n-1) samples every
// n ticks).
func (f *Factory) Advance(n int) {
	for _, m := range f.machines {
		for range n {
			m.advance()
		}
	}
}
