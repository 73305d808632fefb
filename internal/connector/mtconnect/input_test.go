package mtconnect_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/mtconnect"
	"github.com/molen-io/molen/internal/connector/mtconnect/mtconnecttest"
	"github.com/molen-io/molen/internal/uns"
)

// eventSink is a connectortest.Sink that takes events too, as the edge's
// sink does.
type eventSink struct {
	*connectortest.Sink
	mu  sync.Mutex
	evs []uns.Event
}

func (s *eventSink) WriteEvents(_ context.Context, evs []uns.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		if err := uns.ValidateEvent(ev); err != nil {
			return err
		}
	}
	s.evs = append(s.evs, evs...)
	return nil
}

func (s *eventSink) events() []uns.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

// running is an input running against an agent.
type running struct {
	in   *mtconnect.Input
	sink *eventSink
}

func run(t *testing.T, cfg *mtconnect.Config) *running {
	t.Helper()
	in, err := mtconnect.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{in: in, sink: &eventSink{Sink: connectortest.NewSink()}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, r.sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// waitFor waits until cond holds (connectortest.WaitFor).
func waitFor(t *testing.T, what string, _ *running, cond func() bool) {
	t.Helper()
	connectortest.WaitFor(t, what, cond)
}

// lastPoint returns the last point of series the sink accepted.
func (r *running) lastPoint(series string) (uns.Point, bool) {
	pts := r.sink.Points()
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].Series == series {
			return pts[i], true
		}
	}
	return uns.Point{}, false
}

func (r *running) waitValue(t *testing.T, series string, v uns.Value, q uns.Quality) {
	t.Helper()
	waitFor(t, series+" = "+v.String(), r, func() bool {
		p, ok := r.lastPoint(series)
		return ok && p.Value == v && p.Quality == q
	})
}

// TestGap makes the agent's buffer move past the input's sequence while the
// input is held up: the observations lost are counted as dropped, exactly,
// and the input starts again from current.
func TestGap(t *testing.T) {
	a := newAgent(t, 8)
	produce(a, 1)
	r := run(t, fastConfig(a))
	r.waitValue(t, prefix+"part_count", uns.Int(10), uns.Good)

	blocked := r.sink.Block()
	a.Set("Stemp", "50")
	<-blocked // the input read it and waits on the sink, at sequence next
	_, next := a.Sequences()
	const more = 20
	for i := range more {
		a.Set("Stemp", uns.Float(51+float64(i)).String())
	}
	if first, _ := a.Sequences(); first <= next {
		t.Fatalf("buffer starts at %d, want past %d", first, next)
	}
	r.sink.Unblock()
	r.waitValue(t, prefix+"spindle_temp_c", uns.Float(51+more-1), uns.Good)
	// current shows the last of the 20; the other 19 are gone.
	if got, want := r.in.Status().Dropped, int64(more-1); got != want {
		t.Errorf("dropped %d, want %d", got, want)
	}
	a.Set("pc", "99") // and it samples on from there
	r.waitValue(t, prefix+"part_count", uns.Int(99), uns.Good)
}

// TestAgentRestart: a new instanceId starts the sequence over; the input
// reads current again and goes on.
func TestAgentRestart(t *testing.T) {
	a := newAgent(t, 64)
	produce(a, 1)
	r := run(t, fastConfig(a))
	r.waitValue(t, prefix+"part_count", uns.Int(10), uns.Good)
	for i := range 10 { // the old instance's sequence is ahead of the new one's
		a.Set("Srpm", uns.Int(int64(i)).String())
	}
	r.waitValue(t, prefix+"spindle_speed_rpm", uns.Float(9), uns.Good)
	a.Restart()
	a.Set("pc", "7")
	r.waitValue(t, prefix+"part_count", uns.Int(7), uns.Good)
	a.Set("pc", "8")
	r.waitValue(t, prefix+"part_count", uns.Int(8), uns.Good)
	if d := r.in.Status().Dropped; d != 0 {
		t.Errorf("dropped %d after a restart, want 0 (what a restarted agent lost is not measurable)", d)
	}
}

// TestUnavailable: UNAVAILABLE repeats the last value with quality bad; a
// data item that never had a value gives no point.
func TestUnavailable(t *testing.T) {
	a := newAgent(t, 64)
	a.Set("Stemp", "12.5")
	r := run(t, fastConfig(a))
	r.waitValue(t, prefix+"spindle_temp_c", uns.Float(12.5), uns.Good)
	a.Set("Stemp", mtconnect.Unavailable)
	r.waitValue(t, prefix+"spindle_temp_c", uns.Float(12.5), uns.Bad)
	a.Set("Stemp", "13")
	r.waitValue(t, prefix+"spindle_temp_c", uns.Float(13), uns.Good)
	if _, ok := r.lastPoint(prefix + "spindle_speed_rpm"); ok {
		t.Error("a point for a data item that was only ever UNAVAILABLE")
	}
}

// TestBadValue: a value that is not of its item's type is counted and
// skipped; the values around it are delivered.
func TestBadValue(t *testing.T) {
	a := newAgent(t, 64)
	r := run(t, fastConfig(a))
	waitFor(t, "connected", r, func() bool { return r.in.Status().State == connector.Connected })
	a.Set("pc", "3")
	a.Set("pc", "three")
	a.Set("Srpm", "fast")
	a.Set("pc", "4")
	r.waitValue(t, prefix+"part_count", uns.Int(4), uns.Good)
	st := r.in.Status()
	if st.Rejected[mtconnect.ReasonBadValue] != 2 {
		t.Errorf("rejected %v, want 2 %s", st.Rejected, mtconnect.ReasonBadValue)
	}
	var counts []int64
	for _, p := range r.sink.Points() {
		if p.Series == prefix+"part_count" {
			counts = append(counts, p.Value.Int())
		}
	}
	if !slices.Equal(counts, []int64{3, 4}) {
		t.Errorf("part counts %v, want [3 4]", counts)
	}
}

// TestMalformedAnswer: a malformed answer is counted, and the same sample
// is asked for again: nothing the agent buffered is skipped.
func TestMalformedAnswer(t *testing.T) {
	a := newAgent(t, 64)
	r := run(t, fastConfig(a))
	waitFor(t, "connected", r, func() bool { return r.in.Status().State == connector.Connected })
	a.Garble(2)
	a.Set("pc", "1")
	a.Set("pc", "2")
	r.waitValue(t, prefix+"part_count", uns.Int(2), uns.Good)
	st := r.in.Status()
	if st.Rejected[mtconnect.ReasonBadDocument] != 2 || st.Dropped != 0 {
		t.Errorf("rejected %v dropped %d, want 2 %s and none dropped", st.Rejected, st.Dropped, mtconnect.ReasonBadDocument)
	}
	var counts []int64
	for _, p := range r.sink.Points() {
		if p.Series == prefix+"part_count" {
			counts = append(counts, p.Value.Int())
		}
	}
	if !slices.Equal(counts, []int64{1, 2}) {
		t.Errorf("part counts %v, want [1 2]", counts)
	}
}

// TestConditions: Warning and Fault open condition events per native
// code, Normal closes them; current lists only the active ones, so a
// condition that cleared while the input was away is closed on
// reconnection.
func TestConditions(t *testing.T) {
	a := newAgent(t, 64)
	r := run(t, fastConfig(a))
	asset := prefix + "system"
	waitFor(t, "connected", r, func() bool { return r.in.Status().State == connector.Connected })
	a.SetCondition("sys", mtconnecttest.Fault, "1001", "Spindle overtemperature")
	a.SetCondition("sys", mtconnecttest.Warning, "2002", "Coolant low")
	waitFor(t, "two open conditions", r, func() bool { return len(r.sink.events()) == 2 })
	evs := r.sink.events()
	for i, want := range []struct{ level, code, msg string }{
		{"fault", "1001", "Spindle overtemperature"}, {"warning", "2002", "Coolant low"},
	} {
		ev := evs[i]
		if ev.Asset != asset || ev.Kind != mtconnect.KindCondition || ev.End != 0 ||
			ev.Attrs["level"] != want.level || ev.Attrs["native_code"] != want.code || ev.Attrs["message"] != want.msg {
			t.Errorf("event %d: %+v, want open %s %s %q on %s", i, ev, want.level, want.code, want.msg, asset)
		}
	}
	// The warning clears while the agent is away: current then lists the
	// fault alone.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnected", r, func() bool { return r.in.Status().State == connector.Disconnected })
	a.SetCondition("sys", mtconnecttest.Normal, "2002", "")
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the warning closed", r, func() bool { return len(r.sink.events()) == 3 })
	if ev := r.sink.events()[2]; ev.Start != evs[1].Start || ev.End < ev.Start || ev.Attrs["native_code"] != "2002" {
		t.Errorf("closing event %+v, want the warning's (start %d) with an end", ev, evs[1].Start)
	}

	a.SetCondition("sys", mtconnecttest.Normal, "", "")
	waitFor(t, "the fault closed", r, func() bool { return len(r.sink.events()) == 4 })
	if ev := r.sink.events()[3]; ev.Start != evs[0].Start || ev.End == 0 || ev.Attrs["native_code"] != "1001" {
		t.Errorf("closing event %+v, want the fault's (start %d) with an end", ev, evs[0].Start)
	}
}

// TestConditionsClearedWhileAway: of three open conditions two clear while
// the input cannot see it; current lists the third alone, and both others
// are closed.
func TestConditionsClearedWhileAway(t *testing.T) {
	a := newAgent(t, 64)
	r := run(t, fastConfig(a))
	waitFor(t, "connected", r, func() bool { return r.in.Status().State == connector.Connected })
	for _, code := range []string{"1001", "2002", "3003"} {
		a.SetCondition("sys", mtconnecttest.Fault, code, "fault "+code)
	}
	waitFor(t, "three open conditions", r, func() bool { return len(r.sink.events()) == 3 })
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnected", r, func() bool { return r.in.Status().State == connector.Disconnected })
	a.SetCondition("sys", mtconnecttest.Normal, "2002", "")
	a.SetCondition("sys", mtconnecttest.Normal, "3003", "")
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two conditions closed", r, func() bool { return len(r.sink.events()) == 5 })
	closed := map[string]bool{}
	for _, ev := range r.sink.events()[3:] {
		if ev.End == 0 {
			t.Errorf("event %+v: want it closed", ev)
		}
		closed[ev.Attrs["native_code"]] = true
	}
	if !closed["2002"] || !closed["3003"] {
		t.Errorf("closed %v, want 2002 and 3003", closed)
	}
}
