package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// TickSeconds is the simulated time one tick advances every machine by.
const TickSeconds = 1.0

// glitchProb is the chance per tick and process tag of a sensor glitch: a
// noisy value published with quality "uncertain".
const glitchProb = 0.0005

// weibullMean is Γ(1 + 1/3): the mean of a Weibull distribution with shape 3
// and scale 1. The wear-driven hazard uses it to make its mean time to
// failure equal to a kind's MTBF.
const weibullMean = 0.8929795

// randomShare is the part of the failure hazard that does not depend on
// wear (a random, memoryless failure), relative to 1/MTBF.
const randomShare = 0.1

type state uint8

const (
	running state = iota
	idle
	setup
	down
)

func (s state) String() string {
	switch s {
	case running:
		return "running"
	case idle:
		return "idle"
	case setup:
		return "setup"
	case down:
		return "down"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// kind is the parameter set of one kind of machine. Times are in seconds of
// simulated time, power in kW.
type kind struct {
	name       string  // machine segment of the UNS path
	cycle      float64 // nominal cycle time
	mtbf, mttr float64
	setupEvery float64 // mean running time between changeovers
	setupMean  float64 // mean changeover duration
	idleEvery  float64 // mean running time between idle (starved/blocked) periods
	idleMean   float64 // mean idle duration
	scrapBase  float64 // scrap probability of a part at wear 0
	scrapWear  float64 // added to scrapBase at wear 1 (scaled by wear²)
	power      [4]float64
	process    []process
}

// process is one process value of a kind.
type process struct {
	tag      string
	run      float64 // settled value while running at wear 0
	rest     float64 // settled value while not running
	wear     float64 // added to run at wear 1 (scaled by wear²): the drift before failures
	noise    float64 // standard deviation of the sensor noise
	tau      float64 // time constant of the first-order lag towards the settled value
	decimals int     // at least 1, so that the value always decodes as a float
}

// kinds are the machines of the line, in publishing order.
var kinds = []kind{
	{
		name: "cnc-mill", cycle: 48,
		mtbf: 2 * 3600, mttr: 15 * 60,
		setupEvery: 3 * 3600, setupMean: 20 * 60,
		idleEvery: 45 * 60, idleMean: 4 * 60,
		scrapBase: 0.01, scrapWear: 0.06,
		power: [4]float64{running: 12, idle: 2.5, setup: 1.8, down: 0.6},
		process: []process{
			{tag: "spindle_speed_rpm", run: 12000, rest: 0, wear: -300, noise: 40, tau: 3, decimals: 1},
			{tag: "spindle_temp_c", run: 42, rest: 24, wear: 14, noise: 0.3, tau: 300, decimals: 1},
			{tag: "vibration_mm_s", run: 2.0, rest: 0.2, wear: 2.5, noise: 0.15, tau: 5, decimals: 2},
			{tag: "coolant_pressure_bar", run: 6.0, rest: 0, wear: -0.8, noise: 0.1, tau: 5, decimals: 2},
		},
	},
	{
		name: "injection-press", cycle: 28,
		mtbf: 90 * 60, mttr: 10 * 60,
		setupEvery: 4 * 3600, setupMean: 30 * 60,
		idleEvery: 60 * 60, idleMean: 5 * 60,
		scrapBase: 0.02, scrapWear: 0.08,
		power: [4]float64{running: 22, idle: 6, setup: 4, down: 1},
		process: []process{
			{tag: "mould_temp_c", run: 65, rest: 40, wear: 8, noise: 0.4, tau: 400, decimals: 1},
			{tag: "injection_pressure_bar", run: 1150, rest: 0, wear: 90, noise: 12, tau: 2, decimals: 1},
			{tag: "oil_temp_c", run: 48, rest: 30, wear: 10, noise: 0.3, tau: 600, decimals: 1},
			{tag: "vibration_mm_s", run: 1.6, rest: 0.3, wear: 2.0, noise: 0.12, tau: 5, decimals: 2},
		},
	},
	{
		name: "packaging", cycle: 6,
		mtbf: 60 * 60, mttr: 5 * 60,
		setupEvery: 2 * 3600, setupMean: 10 * 60,
		idleEvery: 20 * 60, idleMean: 3 * 60,
		scrapBase: 0.005, scrapWear: 0.04,
		power: [4]float64{running: 5.5, idle: 1.2, setup: 0.8, down: 0.3},
		process: []process{
			{tag: "motor_temp_c", run: 55, rest: 26, wear: 12, noise: 0.4, tau: 240, decimals: 1},
			{tag: "vibration_mm_s", run: 2.8, rest: 0.1, wear: 3.5, noise: 0.2, tau: 3, decimals: 2},
			{tag: "air_pressure_bar", run: 6.2, rest: 6.4, wear: 0, noise: 0.05, tau: 10, decimals: 2},
		},
	},
	{
		name: "compressor", cycle: 30,
		mtbf: 3 * 3600, mttr: 20 * 60,
		setupEvery: 8 * 3600, setupMean: 15 * 60,
		idleEvery: 40 * 60, idleMean: 10 * 60,
		scrapBase: 0.002, scrapWear: 0.03,
		power: [4]float64{running: 37, idle: 9, setup: 0.2, down: 0.2},
		process: []process{
			{tag: "pressure_bar", run: 7.5, rest: 6.8, wear: -0.6, noise: 0.05, tau: 10, decimals: 2},
			{tag: "temperature_c", run: 82, rest: 35, wear: 12, noise: 0.5, tau: 300, decimals: 1},
			{tag: "vibration_mm_s", run: 3.2, rest: 0.4, wear: 3.0, noise: 0.2, tau: 5, decimals: 2},
		},
	},
}

// robotCell is the line's robot cell: a robot tending a machine tool, with
// a gripper on compressed air. It has no plain MQTT form: it is a device of
// a Sparkplug B edge node (see Serve), as robot cells behind a gateway are.
// A "part" is one handled part, and scrap a part the cell rejected.
var robotCell = kind{
	name: "robot-cell", cycle: 18,
	mtbf: 4 * 3600, mttr: 12 * 60,
	setupEvery: 6 * 3600, setupMean: 20 * 60,
	idleEvery: 30 * 60, idleMean: 3 * 60,
	scrapBase: 0.004, scrapWear: 0.03,
	power: [4]float64{running: 7.5, idle: 2.0, setup: 1.0, down: 0.4},
	process: []process{
		{tag: "joint_temp_c", run: 48, rest: 27, wear: 15, noise: 0.3, tau: 400, decimals: 1},
		{tag: "gripper_pressure_bar", run: 5.8, rest: 6.0, wear: -0.7, noise: 0.05, tau: 5, decimals: 2},
	},
}

// kindNamed returns the kind called name: a machine of the line or the
// robot cell.
func kindNamed(name string) *kind {
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i]
		}
	}
	if name == robotCell.name {
		return &robotCell
	}
	return nil
}

// Tags every machine publishes, in publishing order, around its kind's
// process tags: state, counters and cycle time first, then the process
// values, then power, energy and seq.
const (
	tagState  = "state"
	tagGood   = "good_count"
	tagScrap  = "scrap_count"
	tagCycle  = "cycle_time_s"
	tagPower  = "power_kw"
	tagEnergy = "energy_kwh"
	tagSeq    = "seq"
)

// machine is one simulated machine. It is owned by one goroutine at a time.
type machine struct {
	kind   *kind
	asset  string   // UNS path of the machine
	topics []string // series paths in publishing order
	rng    *rand.Rand
	eta    float64 // Weibull scale of the wear-driven failures, s
	alpha  []float64

	seq       uint64
	state     state
	left      float64 // s left in the current idle, setup or down period
	wear      float64 // hidden; running time since repair over eta
	progress  float64 // s into the current cycle
	cycle     float64 // duration of the current cycle
	lastCycle float64 // duration of the last completed cycle
	good      int64
	scrap     int64
	power     float64 // kW, as published
	energy    float64 // kWh
	settled   []float64
	values    []float64 // process values as published
	glitched  []bool    // whether values[i] is a sensor glitch
	failures  int
}

func newMachine(k *kind, seed int64, asset string) *machine {
	h := fnv.New64a()
	h.Write([]byte(k.name))
	m := &machine{
		kind:     k,
		asset:    asset,
		rng:      rand.New(rand.NewPCG(uint64(seed), h.Sum64())),
		eta:      k.mtbf / weibullMean,
		alpha:    make([]float64, len(k.process)),
		settled:  make([]float64, len(k.process)),
		values:   make([]float64, len(k.process)),
		glitched: make([]bool, len(k.process)),
	}
	m.topics = append(m.topics, asset+"/"+tagState, asset+"/"+tagGood, asset+"/"+tagScrap, asset+"/"+tagCycle)
	for i, p := range k.process {
		m.topics = append(m.topics, asset+"/"+p.tag)
		m.alpha[i] = -math.Expm1(-TickSeconds / p.tau)
	}
	m.topics = append(m.topics, asset+"/"+tagPower, asset+"/"+tagEnergy, asset+"/"+tagSeq)

	// Start warm and running, at a random point of wear so that the
	// machines of one factory do not fail in step.
	m.wear = 0.5 * m.rng.Float64()
	for i, p := range k.process {
		m.settled[i] = p.run + p.wear*m.wear*m.wear
	}
	m.cycle = m.newCycle()
	m.lastCycle = k.cycle
	m.progress = m.cycle * m.rng.Float64()
	return m
}

// hazard is the failure rate (per s) at the current wear: a Weibull hazard
// of shape 3, rising with the square of wear, plus a small random part.
func (m *machine) hazard() float64 {
	return randomShare/m.kind.mtbf + 3*m.wear*m.wear/m.eta
}

func (m *machine) newCycle() float64 {
	k := m.kind
	c := k.cycle * (1 + 0.03*m.rng.NormFloat64()) * (1 + 0.08*m.wear*m.wear)
	return min(max(c, 0.5*k.cycle), 2*k.cycle)
}

// step advances the model by one tick. All randomness comes from m.rng, so
// the sequence of states and values depends on the seed alone.
func (m *machine) step() {
	k := m.kind
	const dt = TickSeconds
	switch m.state {
	case running:
		m.wear += dt / m.eta
		switch {
		case m.rng.Float64() < -math.Expm1(-m.hazard()*dt):
			m.state = down
			m.failures++
			// Lognormal repair time with mean MTTR.
			const sigma = 0.5
			m.left = max(30, k.mttr*math.Exp(sigma*m.rng.NormFloat64()-sigma*sigma/2))
		case m.rng.Float64() < dt/k.setupEvery:
			m.state = setup
			m.left = k.setupMean * (0.5 + m.rng.Float64())
			m.progress = 0 // a changeover abandons the cycle in progress
		case m.rng.Float64() < dt/k.idleEvery:
			m.state = idle
			m.left = max(5, k.idleMean*m.rng.ExpFloat64())
		default:
			m.progress += dt
			for m.progress >= m.cycle {
				m.progress -= m.cycle
				m.lastCycle = m.cycle
				if m.rng.Float64() < k.scrapBase+k.scrapWear*m.wear*m.wear {
					m.scrap++
				} else {
					m.good++
				}
				m.cycle = m.newCycle()
			}
		}
	default:
		m.left -= dt
		if m.left <= 0 {
			if m.state == down {
				m.wear = 0 // a repair restores the machine
			}
			m.state = running
		}
	}

	w2 := m.wear * m.wear
	for i, p := range k.process {
		target := p.rest
		if m.state == running {
			target = p.run + p.wear*w2
		}
		m.settled[i] += (target - m.settled[i]) * m.alpha[i]
		v := m.settled[i] + p.noise*m.rng.NormFloat64()
		m.glitched[i] = m.rng.Float64() < glitchProb
		if m.glitched[i] {
			v += 8 * p.noise * m.rng.NormFloat64()
		}
		m.values[i] = max(v, 0)
	}

	p := k.power[m.state]
	if m.state == running {
		p *= 1 + 0.08*w2
	}
	m.power = max(p*(1+0.02*m.rng.NormFloat64()), 0)
	m.energy += m.power * dt / 3600
}

// device is what a Sim publishes: a machine of the line or the 3D
// printer.
type device interface {
	path() string       // UNS asset path
	clientName() string // suffix of its MQTT client id
	lastSeq() uint64    // its last tick
	tick(dst []Message, now time.Time) []Message
}

func (m *machine) path() string       { return m.asset }
func (m *machine) clientName() string { return m.kind.name }
func (m *machine) lastSeq() uint64    { return m.seq }

// advance advances the machine by one tick: one step and the next seq.
func (m *machine) advance() {
	m.step()
	m.seq++
}

// tick advances the machine by one tick and appends its messages to dst:
// one per tag, seq last. The payloads of one tick share one allocation but
// never overlap.
func (m *machine) tick(dst []Message, now time.Time) []Message {
	m.advance()
	ms := now.UnixMilli()
	buf := make([]byte, 0, 64*len(m.topics))
	t := 0
	emit := func(start int) {
		dst = append(dst, Message{Machine: m.asset, Topic: m.topics[t], Payload: buf[start:len(buf):len(buf)], Seq: m.seq})
		t++
	}

	start := len(buf)
	buf = append(buf, `{"value":"`...)
	buf = append(buf, m.state.String()...)
	buf = append(buf, '"')
	buf = closeValue(buf, ms, false)
	emit(start)

	start = len(buf)
	buf = closeValue(strconv.AppendInt(append(buf, `{"value":`...), m.good, 10), ms, false)
	emit(start)
	start = len(buf)
	buf = closeValue(strconv.AppendInt(append(buf, `{"value":`...), m.scrap, 10), ms, false)
	emit(start)
	start = len(buf)
	buf = closeValue(strconv.AppendFloat(append(buf, `{"value":`...), m.lastCycle, 'f', 2, 64), ms, false)
	emit(start)

	for i, p := range m.kind.process {
		start = len(buf)
		buf = closeValue(strconv.AppendFloat(append(buf, `{"value":`...), m.values[i], 'f', p.decimals, 64), ms, m.glitched[i])
		emit(start)
	}

	start = len(buf)
	buf = closeValue(strconv.AppendFloat(append(buf, `{"value":`...), m.power, 'f', 2, 64), ms, false)
	emit(start)
	start = len(buf)
	buf = closeValue(strconv.AppendFloat(append(buf, `{"value":`...), m.energy, 'f', 3, 64), ms, false)
	emit(start)
	start = len(buf)
	buf = closeValue(strconv.AppendUint(append(buf, `{"value":`...), m.seq, 10), ms, false)
	emit(start)
	return dst
}

// closeValue appends the timestamp, the quality if uncertain, and the
// closing brace of a {"value":…} payload.
func closeValue(b []byte, ms int64, uncertain bool) []byte {
	b = strconv.AppendInt(append(b, `,"ts":`...), ms, 10)
	if uncertain {
		b = append(b, `,"q":"uncertain"`...)
	}
	return append(b, '}')
}

// tagValue is one tag of a machine after its last tick, for the protocols
// that serve or publish values rather than MQTT payloads.
type tagValue struct {
	tag       string
	value     uns.Value // String (state), Int (counters, seq) or Float
	uncertain bool      // a sensor glitch
}

// values appends the machine's tags after its last tick to dst, in
// publishing order (seq last), with the values its MQTT payloads carry:
// floats rounded to the same decimals.
func (m *machine) tagValues(dst []tagValue) []tagValue {
	dst = append(dst,
		tagValue{tag: tagState, value: uns.String(m.state.String())},
		tagValue{tag: tagGood, value: uns.Int(m.good)},
		tagValue{tag: tagScrap, value: uns.Int(m.scrap)},
		tagValue{tag: tagCycle, value: uns.Float(round(m.lastCycle, 2))},
	)
	for i, p := range m.kind.process {
		dst = append(dst, tagValue{tag: p.tag, value: uns.Float(round(m.values[i], p.decimals)), uncertain: m.glitched[i]})
	}
	return append(dst,
		tagValue{tag: tagPower, value: uns.Float(round(m.power, 2))},
		tagValue{tag: tagEnergy, value: uns.Float(round(m.energy, 3))},
		tagValue{tag: tagSeq, value: uns.Int(int64(m.seq))},
	)
}

// round rounds v to decimals places, as strconv.AppendFloat(…, 'f',
// decimals, 64) prints it.
func round(v float64, decimals int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals, 64), 64)
	return f
}

// tags returns the machine's tags in publishing order.
func (k *kind) tags() []string {
	out := []string{tagState, tagGood, tagScrap, tagCycle}
	for _, p := range k.process {
		out = append(out, p.tag)
	}
	return append(out, tagPower, tagEnergy, tagSeq)
}
