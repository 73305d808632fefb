package operator

import (
	"math"
	"testing"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func TestDeadband(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		in    []uns.Point
		want  []string
		skips [pipeline.NumReasons]uint64
	}{
		{"absolute", `{absolute: 0.5}`, []uns.Point{
			opF("m/t", 1, 20), opF("m/t", 2, 20.4), opF("m/t", 3, 20.6), opF("m/t", 4, 20.2), opF("m/t", 5, 20.0),
			opF("m/u", 5, 1), // separate state per series
		}, []string{"m/t@1=20", "m/t@3=20.6", "m/t@5=20", "m/u@5=1"}, opSkips()},
		{"percent of the last reported", `{percent: 10}`, []uns.Point{
			opF("m/t", 1, 100), opF("m/t", 2, 109), opF("m/t", 3, 111), opF("m/t", 4, 101), opF("m/t", 5, 99.8),
		}, []string{"m/t@1=100", "m/t@3=111", "m/t@5=99.8"}, opSkips()},
		{"band is the larger of both", `{absolute: 5, percent: 1}`, []uns.Point{
			opF("m/t", 1, 1000), opF("m/t", 2, 1009), opF("m/t", 3, 1011), opF("m/t", 4, 4), opF("m/t", 5, 8), opF("m/t", 6, 9.5),
		}, []string{"m/t@1=1000", "m/t@3=1011", "m/t@4=4", "m/t@6=9.5"}, opSkips()},
		{"report by exception: strings, bools, type and quality changes", `{}`, []uns.Point{
			opPt("m/s", 1, uns.String("RUN")), opPt("m/s", 2, uns.String("RUN")), opPt("m/s", 3, uns.String("STOP")),
			opPt("m/s", 4, uns.Int(3)), opPt("m/s", 5, uns.Float(3)), opPt("m/s", 6, uns.Float(3)),
			{Series: "m/s", TS: opAt(7), Value: uns.Float(3), Quality: uns.Bad}, opPt("m/s", 8, uns.Float(3)),
			opPt("m/b", 1, uns.Bool(true)), opPt("m/b", 2, uns.Bool(true)), opPt("m/b", 3, uns.Bool(false)),
		}, []string{`m/s@1="RUN"`, `m/s@3="STOP"`, "m/s@4=3", "m/s@5=3", "m/s@7=3/bad", "m/s@8=3", "m/b@1=true", "m/b@3=false"}, opSkips()},
		{"bools ignore a numeric band", `{absolute: 10}`, []uns.Point{
			opPt("m/b", 1, uns.Bool(true)), opPt("m/b", 3, uns.Bool(false)),
		}, []string{"m/b@1=true", "m/b@3=false"}, opSkips()},
		{"NaN and Inf are dropped", `{absolute: 1}`, []uns.Point{
			opF("m/t", 1, 1), opF("m/t", 2, math.NaN()), opF("m/t", 3, math.Inf(1)), opF("m/t", 4, 3),
		}, []string{"m/t@1=1", "m/t@4=3"}, opSkips(pipeline.NonFinite, 2)},
		{"max_silence on input", `{absolute: 1, max_silence: 10s}`, []uns.Point{
			opF("m/t", 0, 1), opF("m/t", 5, 1), opF("m/t", 10, 1), opF("m/t", 15, 1.1), opF("m/t", 19, 1), opF("m/t", 20, 1),
		}, []string{"m/t@0=1", "m/t@10=1", "m/t@20=1"}, opSkips()},
		{"max_silence on tick reports the held point, not a made-up one", `{absolute: 1, max_silence: 10s}`, []uns.Point{
			opF("m/t", 0, 1), opF("m/t", 3, 1.2), opTick(9), opTick(10), opTick(11), opTick(30), // nothing new after 3s
		}, []string{"m/t@0=1", "m/t@3=1.2"}, opSkips()},
		{"out of order compares with the last report", `{absolute: 1}`, []uns.Point{
			opF("m/t", 5, 1), opF("m/t", 3, 5), opF("m/t", 4, 5.5),
		}, []string{"m/t@5=1", "m/t@3=5"}, opSkips()},
		{"clock set back: heartbeats follow the new clock", `{absolute: 1, max_silence: 10s}`, []uns.Point{
			opF("m/t", 1000, 1), opF("m/t", 1, 5), opF("m/t", 5, 5), opF("m/t", 11, 5),
		}, []string{"m/t@1000=1", "m/t@1=5", "m/t@11=5"}, opSkips()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := opRun(opBuild(t, "deadband", tt.cfg), tt.in)
			opCheck(t, got, skips, tt.want, tt.skips)
		})
	}
}

func TestDeadbandSkewedClock(t *testing.T) {
	// The device's clock is 5 minutes behind the tick clock: heartbeats
	// must still come every max_silence of its time, not on every tick.
	op := opBuild(t, "deadband", `{absolute: 1, max_silence: 10s}`)
	var in []uns.Point
	for s := 0.0; s <= 20; s++ {
		in = append(in, opTick(300+s), opF("m/t", s, 1))
	}
	got, skips := opRun(op, in)
	// Each tick comes just before the point of the same device second, so
	// the heartbeat at device time 10 reports the point held from 9.
	opCheck(t, got, skips, []string{"m/t@0=1", "m/t@9=1", "m/t@18=1"}, opSkips())
}

func TestDeadbandConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{absolute: -1}`, "absolute: must be a number ≥ 0"},
		{`{percent: -5}`, "percent: must be a number ≥ 0"},
		{`{absolute: .nan}`, "absolute: must be a number ≥ 0"},
		{`{max_silence: -1s}`, "max_silence: must be ≥ 0"},
		{`{max_silence: 10}`, `max_silence: "10" is not a duration like 10s, 1m30s or 500ms (line 1)`},
		{`{band: 1}`, "band: unknown field (want one of absolute, max_silence, percent)"},
	}
	for _, tt := range tests {
		if got := opBuildErr("deadband", tt.cfg); got != tt.want {
			t.Errorf("deadband %s:\n got  %q\n want %q", tt.cfg, got, tt.want)
		}
	}
}
