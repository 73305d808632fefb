package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/service/servicetest"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

const printer1 = "demo-factory/hall-a/print-shop/printer-1"

// TestSimulatedPrinter runs three days of the simulator's 3D printer and
// checks the service against what the printer reported: a job event for
// each job its counters count, a filament warning before each time the
// spool ran out, thermal warnings before the heater failures, and the
// windows' shares.
func TestSimulatedPrinter(t *testing.T) {
	const days = 3
	var pauses, errorsAt []int64 // when the printer paused, failed
	var prev string
	var done, failed int64
	src := simfeed.Printer(t, 4)
	rec := func(now time.Time) []uns.Point {
		pts := src(now)
		for _, p := range pts {
			switch strings.TrimPrefix(p.Series, printer1+"/") {
			case "state":
				s := p.Value.Str()
				if s != prev && s == "paused" {
					pauses = append(pauses, p.TS)
				}
				if s != prev && s == "error" {
					errorsAt = append(errorsAt, p.TS)
				}
				prev = s
			case "jobs_done":
				done = p.Value.Int()
			case "jobs_failed":
				failed = p.Value.Int()
			}
		}
		return pts
	}
	r := simfeed.Run(t, &printerSvc{}, `{"window_min": 60, "wander_c": 2}`, rec, days*86400, "/print/printing", "/print/idle")
	var jobs, jobsFailed int64
	var filament, thermal []molensvc.Event
	for _, e := range r.Events {
		switch e.Kind {
		case "print_job":
			jobs++
			if e.Attrs["result"] == "failed" {
				jobsFailed++
			}
		case "filament":
			filament = append(filament, e)
		case "thermal":
			thermal = append(thermal, e)
		}
	}
	// The first job may have started before the service did.
	if jobs < done+failed-1 || jobs > done+failed || jobsFailed != failed {
		t.Errorf("%d job events (%d failed), the printer counted %d done and %d failed", jobs, jobsFailed, done, failed)
	}
	if len(pauses) == 0 || len(errorsAt) == 0 {
		t.Fatalf("%d pauses, %d errors in %d days: the test needs both", len(pauses), len(errorsAt), days)
	}
	// Each pause for filament came after a warning in the same job, at
	// least a minute before.
	for _, at := range pauses {
		warned := false
		for _, e := range filament {
			warned = warned || (e.Start < at-int64(time.Minute) && e.Start > at-int64(24*time.Hour))
		}
		if !warned {
			t.Errorf("the spool ran out at %v without a warning", time.Unix(0, at).UTC())
		}
	}
	if len(filament) > 2*len(pauses) {
		t.Errorf("%d filament warnings for %d pauses", len(filament), len(pauses))
	}
	// Most heater failures come after a thermal warning since the last one.
	warnedErrors, last := 0, int64(0)
	for _, at := range errorsAt {
		for _, e := range thermal {
			if e.Start > last && e.Start < at {
				warnedErrors++
				break
			}
		}
		last = at
	}
	t.Logf("%d jobs (%d failed), %d pauses with %d filament warnings, %d heater failures, %d after a thermal warning (%d warnings)",
		jobs, jobsFailed, len(pauses), len(filament), len(errorsAt), warnedErrors, len(thermal))
	if 2*warnedErrors < len(errorsAt) || len(thermal) > 2*len(errorsAt)+2 {
		t.Errorf("%d of %d heater failures came after a thermal warning; %d warnings", warnedErrors, len(errorsAt), len(thermal))
	}
	for i, p := range r.Series[printer1+"/print/printing"] {
		if s := p.Value.F + r.Series[printer1+"/print/idle"][i].Value.F; s < 0 || s > 1+1e-9 || math.IsNaN(s) {
			t.Errorf("window %d: shares %v", i, s)
		}
	}
}

// TestModule checks the built module against the logic on a day of the
// printer.
func TestModule(t *testing.T) {
	servicetest.Agree(t, ".", &printerSvc{}, `{"window_min": 30}`, simfeed.Printer(t, 4), 86400)
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"window_min": 0}`, `{"wander_c": 0}`, `{"margin_g": -1}`, `[`} {
		if err := (&printerSvc{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
