package operator

// Helpers shared by the event-emitting operators (state, oee, anomaly,
// alarm): the four machine states, the mapping of raw state values onto
// them, counters the runner can read, and attribute formatting. Names carry
// the prefix of the operator that owns them (state…) or "events" when they
// are shared, so they cannot collide with the other operators' helpers.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// stateID is a machine state. Its value is also the numeric state code the
// state operator emits (code_tag) and the oee operator accepts, so the codes
// are part of the documented format: 0 unknown, 1 running, 2 idle, 3 setup,
// 4 down.
type stateID uint8

const (
	stateUnknown stateID = iota
	stateRunning
	stateIdle
	stateSetup
	stateDown
	stateCount // number of IDs, for arrays indexed by stateID
)

var stateNames = [stateCount]string{"unknown", "running", "idle", "setup", "down"}

func (s stateID) String() string {
	if s < stateCount {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// stateParse returns the state named s; "unknown" is not a state one can
// configure, so it is rejected.
func stateParse(s string) (stateID, bool) {
	for i := stateRunning; i < stateCount; i++ {
		if stateNames[i] == s {
			return i, true
		}
	}
	return stateUnknown, false
}

// stateChoices is the list of configurable states for error messages.
const stateChoices = "running, idle, setup, down"

// stateMapper turns a raw state value into a stateID. Strings and bools are
// looked up by their text, integers (and integral floats) by number, so a
// PLC's numeric state codes map without formatting a string per point.
type stateMapper struct {
	byName map[string]stateID
	byCode map[int64]stateID
}

// stateNewMapper builds a mapper from raw→state entries. The four state
// names always map to themselves (an entry may override them); with codes
// the numeric codes 1..4 of stateID map too, which is how the oee operator
// reads the state operator's code_tag series.
func stateNewMapper(field string, m map[string]string, codes bool) (stateMapper, error) {
	sm := stateMapper{byName: map[string]stateID{}, byCode: map[int64]stateID{}}
	for i := stateRunning; i < stateCount; i++ {
		sm.byName[stateNames[i]] = i
		if codes {
			sm.byCode[int64(i)] = i
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic error messages
	for _, k := range keys {
		st, ok := stateParse(m[k])
		if !ok {
			return stateMapper{}, fmt.Errorf("%s[%q]: %q is not a state; want one of %s", field, k, m[k], stateChoices)
		}
		if k == "" {
			return stateMapper{}, fmt.Errorf("%s: empty raw value", field)
		}
		sm.byName[k] = st
		if n, err := strconv.ParseInt(k, 10, 64); err == nil {
			sm.byCode[n] = st
		}
	}
	return sm, nil
}

// lookup maps v. ok is false for values without a mapping.
func (m *stateMapper) lookup(v uns.Value) (stateID, bool) {
	var st stateID
	var ok bool
	switch v.Kind() {
	case uns.KindString:
		st, ok = m.byName[v.Str()]
	case uns.KindInt:
		st, ok = m.byCode[v.Int()]
	case uns.KindFloat:
		f := v.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			st, ok = m.byCode[int64(f)]
		}
	case uns.KindBool:
		if v.Bool() {
			st, ok = m.byName["true"]
		} else {
			st, ok = m.byName["false"]
		}
	}
	return st, ok
}

// eventsCounters are the conditions an operator counts instead of logging:
// high-rate conditions become metrics. They are atomics because the runner
// may read them (Stats) from another goroutine than the one processing.
type eventsCounters struct {
	nonFinite     atomic.Uint64 // NaN or ±Inf values, skipped
	wrongType     atomic.Uint64 // strings (or invalid values) where a number is expected, skipped
	badQuality    atomic.Uint64 // points of quality bad, skipped
	late          atomic.Uint64 // points older than what the operator already accounted for, skipped
	clockResets   atomic.Uint64 // jumps backwards beyond clock_reset: state reset
	gaps          atomic.Uint64 // silences longer than max_gap
	unmapped      atomic.Uint64 // state values without a mapping, skipped
	counterResets atomic.Uint64 // monotonic counters that went down
	events        atomic.Uint64 // events emitted (open and close)
	points        atomic.Uint64 // points emitted (not counting passed-through input)
	badOutput     atomic.Uint64 // assets or series whose output path would be invalid
}

// snapshot returns the counters by their metric names.
func (c *eventsCounters) snapshot() map[string]uint64 {
	return map[string]uint64{
		"non_finite":     c.nonFinite.Load(),
		"wrong_type":     c.wrongType.Load(),
		"bad_quality":    c.badQuality.Load(),
		"late":           c.late.Load(),
		"clock_resets":   c.clockResets.Load(),
		"gaps":           c.gaps.Load(),
		"unmapped":       c.unmapped.Load(),
		"counter_resets": c.counterResets.Load(),
		"events":         c.events.Load(),
		"points":         c.points.Load(),
		"bad_output":     c.badOutput.Load(),
	}
}

// number returns p's value as a finite float64. Strings (a series that
// changed type) count as wrong_type, NaN and ±Inf as non_finite, quality bad
// as bad_quality; all three report false so the caller skips the point.
// Skips with a pipeline.Reason are also counted in out, for the runner's
// per-stage statistics.
func (c *eventsCounters) number(p *uns.Point, out *pipeline.Output) (float64, bool) {
	if p.Quality == uns.Bad {
		c.badQuality.Add(1)
		return 0, false
	}
	f, ok := p.Value.AsFloat()
	if !ok {
		c.wrongType.Add(1)
		out.Skip(pipeline.WrongType)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		c.nonFinite.Add(1)
		out.Skip(pipeline.NonFinite)
		return 0, false
	}
	return f, true
}

// state maps p's value to a state: bad quality, NaN/±Inf and unmapped
// values are counted and report false.
func (c *eventsCounters) state(m *stateMapper, p *uns.Point, out *pipeline.Output) (stateID, bool) {
	if p.Quality == uns.Bad {
		c.badQuality.Add(1)
		return stateUnknown, false
	}
	if f := p.Value.Float64(); p.Value.Kind() == uns.KindFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
		c.nonFinite.Add(1)
		out.Skip(pipeline.NonFinite)
		return stateUnknown, false
	}
	st, ok := m.lookup(p.Value)
	if !ok {
		c.skipUnmapped(out)
	}
	return st, ok
}

// skipLate counts a point skipped for being older than what was accounted.
func (c *eventsCounters) skipLate(out *pipeline.Output) {
	c.late.Add(1)
	out.Skip(pipeline.Late)
}

// skipUnmapped counts a state value without a mapping: a value the
// operator cannot use, so WrongType for the runner.
func (c *eventsCounters) skipUnmapped(out *pipeline.Output) {
	c.unmapped.Add(1)
	out.Skip(pipeline.WrongType)
}

// eventsFloat formats f for an event attribute: shortest exact form.
func eventsFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// eventsRound formats a derived figure (score, mean) with 6 significant
// digits: more would be noise.
func eventsRound(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// eventsSeconds formats a duration in ns as seconds.
func eventsSeconds(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64) }

// eventsValue formats a point value for an attribute: strings bare, not quoted.
func eventsValue(v uns.Value) string {
	if v.Kind() == uns.KindString {
		return v.Str()
	}
	return v.String()
}

// eventsCheckTag validates a tag name (one UNS segment) for field.
func eventsCheckTag(field, tag string) error {
	if strings.Contains(tag, "/") {
		return fmt.Errorf("%s: %q must be one path segment", field, tag)
	}
	if err := uns.ValidatePath("x/" + tag); err != nil {
		return fmt.Errorf("%s: %q: %w", field, tag, err)
	}
	return nil
}

// eventsCheckTags validates an optional list of tag names.
func eventsCheckTags(field string, tags []string) error {
	for i, t := range tags {
		if err := eventsCheckTag(fmt.Sprintf("%s[%d]", field, i), t); err != nil {
			return err
		}
	}
	return nil
}

// eventsHasTag reports whether tag is in tags; an empty list holds every tag.
// Lists are short, so a linear scan beats a map.
func eventsHasTag(tags []string, tag string) bool {
	if len(tags) == 0 {
		return true
	}
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// eventsCheckDurations validates the durations every event operator has.
func eventsCheckDurations(maxGap, clockReset time.Duration) error {
	if maxGap < 0 {
		return fmt.Errorf("max_gap: must be >= 0 (0 disables gap detection)")
	}
	if clockReset <= 0 {
		return fmt.Errorf("clock_reset: must be > 0")
	}
	return nil
}

// outputPath returns base+suffix if it is a valid series path, or ""
// (counted as bad_output) if not, e.g. when it grows beyond uns.MaxPathLen.
// It runs once per asset or series, never per point.
func (c *eventsCounters) outputPath(base, suffix string) string {
	p := base + suffix
	if uns.ValidatePath(p) != nil {
		c.badOutput.Add(1)
		return ""
	}
	return p
}

// Defaults shared by the event operators.
const (
	eventsDefaultClockReset = 10 * time.Minute
)
