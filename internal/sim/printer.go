package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// PrintShop is the area segment of the simulated 3D printer's path:
// <site>/hall-a/print-shop/printer-1.
const PrintShop = "print-shop"

// printerName is the simulated 3D printer's machine segment.
const printerName = "printer-1"

// The printer's model: an FFF printer printing jobs one after another.
const (
	nozzleTarget  = 215.0 // °C while heating and printing
	bedTarget     = 60.0  // °C
	roomTemp      = 22.0
	nozzleTau     = 40.0   // s, first-order heating and cooling
	bedTau        = 150.0  // s
	jobMean       = 2400.0 // s of printing, lognormal
	gramsPerS     = 0.012  // filament use while printing
	spoolGrams    = 1000.0
	idleMean      = 300.0     // s between a part's removal and the next job
	removeS       = 120.0     // s a finished part waits in "done"
	spoolSwapMean = 600.0     // s until an operator loads a new spool
	clearMean     = 900.0     // s until an operator clears an error
	heaterLife    = 20 * 3600 // s of printing: Weibull scale of a heater cartridge failing
)

// Printer is the simulated 3D printer: states idle, heating, printing,
// paused (filament ran out), done (the part waits for removal) and error
// (the heater failed: thermal runaway). Its nozzle heater wears while
// printing: the nozzle's temperature wanders more around its target the
// older the heater, and the failure hazard rises with wear (Weibull of
// shape 3), so the wandering precedes the error. A Printer is not safe for
// concurrent use.
type Printer struct {
	asset  string
	topics []string
	rng    *rand.Rand

	seq                      uint64
	state                    string
	left                     float64 // s left in idle, done, paused (waiting for a spool) or error
	nozzle, bed              float64 // °C as published
	nozzleSet, bedSet        float64 // targets
	job, elapsed             float64 // s of printing the job needs, has had
	spool                    float64 // g of filament left
	wear                     float64 // heater's printing time over its life
	done, failed             int64
	nozzleSettled, bedSettle float64
}

// The printer's tags, in publishing order (seq last).
var printerTags = []string{"state", "nozzle_temp_c", "nozzle_target_c", "bed_temp_c", "bed_target_c",
	"progress_pct", "job_remaining_s", "filament_g", "jobs_done", "jobs_failed", "seq"}

// NewPrinter returns the 3D printer of site (DefaultSite if empty),
// seeded with seed: idle, its spool full, its heater half-way through its
// life at random.
func NewPrinter(seed int64, site string) *Printer {
	if site == "" {
		site = DefaultSite
	}
	h := fnv.New64a()
	h.Write([]byte(printerName))
	p := &Printer{
		asset: site + "/" + Area + "/" + PrintShop + "/" + printerName,
		rng:   rand.New(rand.NewPCG(uint64(seed), h.Sum64())),
		state: "idle", spool: spoolGrams,
		nozzleSettled: roomTemp, bedSettle: roomTemp,
	}
	p.wear = 0.5 * p.rng.Float64()
	p.left = idleMean * p.rng.ExpFloat64()
	for _, t := range printerTags {
		p.topics = append(p.topics, p.asset+"/"+t)
	}
	return p
}

// Asset is the printer's UNS path.
func (p *Printer) Asset() string { return p.asset }

// step advances the printer by one second.
func (p *Printer) step() {
	const dt = TickSeconds
	switch p.state {
	case "idle":
		if p.left -= dt; p.left <= 0 {
			p.state = "heating"
			p.nozzleSet, p.bedSet = nozzleTarget, bedTarget
			p.job = jobMean * math.Exp(0.5*p.rng.NormFloat64()-0.125)
			p.elapsed = 0
		}
	case "heating":
		if math.Abs(p.nozzleSettled-p.nozzleSet) < 2 && math.Abs(p.bedSettle-p.bedSet) < 2 {
			p.state = "printing"
		}
	case "printing":
		p.wear += dt / heaterLife
		// Weibull hazard of shape 3 with scale heaterLife.
		if p.rng.Float64() < 3*p.wear*p.wear*dt/heaterLife {
			p.state, p.left = "error", max(60, clearMean*p.rng.ExpFloat64())
			p.nozzleSet, p.bedSet = 0, 0
			p.failed++
			p.wear = 0 // the heater cartridge is replaced
			break
		}
		p.elapsed += dt
		p.spool = max(0, p.spool-gramsPerS*dt)
		switch {
		case p.elapsed >= p.job:
			p.state, p.left = "done", removeS
			p.nozzleSet, p.bedSet = 0, 0
			p.done++
		case p.spool == 0:
			p.state, p.left = "paused", max(60, spoolSwapMean*p.rng.ExpFloat64())
		}
	case "paused":
		if p.left -= dt; p.left <= 0 {
			p.spool, p.state = spoolGrams, "heating"
		}
	case "done", "error":
		if p.left -= dt; p.left <= 0 {
			p.state, p.left = "idle", idleMean*p.rng.ExpFloat64()
		}
	}
	nt, bt := max(p.nozzleSet, roomTemp), max(p.bedSet, roomTemp)
	p.nozzleSettled += (nt - p.nozzleSettled) * -math.Expm1(-dt/nozzleTau)
	p.bedSettle += (bt - p.bedSettle) * -math.Expm1(-dt/bedTau)
	// A worn heater regulates worse: the nozzle wanders around its target.
	wander := 0.3
	if p.state == "printing" {
		wander += 6 * p.wear * p.wear
	}
	p.nozzle = p.nozzleSettled + wander*p.rng.NormFloat64()
	p.bed = p.bedSettle + 0.2*p.rng.NormFloat64()
}

// Tick advances the printer by one tick and returns its messages, seq
// last; now stamps them.
func (p *Printer) Tick(now time.Time) []Message {
	p.step()
	p.seq++
	ms := now.UnixMilli()
	progress, remaining := 0.0, 0.0
	if p.job > 0 && p.state != "idle" {
		progress = min(100, 100*p.elapsed/p.job)
		remaining = max(0, p.job-p.elapsed)
	}
	vals := []string{
		strconv.Quote(p.state),
		strconv.FormatFloat(p.nozzle, 'f', 1, 64),
		strconv.FormatFloat(p.nozzleSet, 'f', 1, 64),
		strconv.FormatFloat(p.bed, 'f', 1, 64),
		strconv.FormatFloat(p.bedSet, 'f', 1, 64),
		strconv.FormatFloat(progress, 'f', 1, 64),
		strconv.FormatFloat(remaining, 'f', 1, 64),
		strconv.FormatFloat(p.spool, 'f', 1, 64),
		strconv.FormatInt(p.done, 10),
		strconv.FormatInt(p.failed, 10),
		strconv.FormatUint(p.seq, 10),
	}
	out := make([]Message, len(vals))
	for i, v := range vals {
		b := closeValue(append([]byte(`{"value":`), v...), ms, false)
		out[i] = Message{Machine: p.asset, Topic: p.topics[i], Payload: b, Seq: p.seq}
	}
	return out
}

// The Sim publishes the printer as it does a machine.
func (p *Printer) path() string       { return p.asset }
func (p *Printer) clientName() string { return printerName }
func (p *Printer) lastSeq() uint64    { return p.seq }
func (p *Printer) tick(dst []Message, now time.Time) []Message {
	return append(dst, p.Tick(now)...)
}
