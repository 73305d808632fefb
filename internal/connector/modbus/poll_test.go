package modbus

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/uns"
)

// pollRig is an Input connected to an in-process device, polled by hand.
type pollRig struct {
	srv *modbustest.Server
	in  *Input
}

func newPollRig(t testing.TB, f modbustest.Framing, edit func(*Config)) *pollRig {
	t.Helper()
	srv, err := modbustest.NewServer(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := NewConfig()
	cfg.URL = srv.URL()
	cfg.BaudRate = 115200
	edit(cfg)
	in, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pollRig{srv: srv, in: in}
}

func (r *pollRig) poll(t testing.TB) ([]uns.Point, error) {
	t.Helper()
	cl, err := r.in.open()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return r.in.poll(cl, nil)
}

func holdingRegs(from, n int) []Register {
	regs := make([]Register, n)
	for i := range regs {
		regs[i] = Register{Path: fmt.Sprintf("s/dev/r%d", from+i), Address: from + i}
	}
	return regs
}

func TestPollBatches(t *testing.T) {
	tests := []struct {
		name string
		regs []Register
		gap  int
		want int64 // requests per poll
	}{
		{"50 registers in two runs", append(holdingRegs(0, 25), holdingRegs(1000, 25)...), 0, 2},
		{"130 adjacent registers", holdingRegs(0, 130), 0, 2},
		{"every other register, no gap allowed", []Register{{Path: "s/a/x", Address: 0}, {Path: "s/a/y", Address: 2}}, 0, 2},
		{"every other register, gap 1", []Register{{Path: "s/a/x", Address: 0}, {Path: "s/a/y", Address: 2}}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPollRig(t, modbustest.TCP, func(c *Config) { c.Registers = tt.regs; c.MaxGap = tt.gap })
			r.srv.SetHolding(0, make([]uint16, 1100)...)
			before := r.srv.Requests()
			pts, err := r.poll(t)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.srv.Requests() - before; got != tt.want {
				t.Errorf("%d requests per poll, want %d", got, tt.want)
			}
			if len(pts) != len(tt.regs) {
				t.Errorf("%d points, want %d", len(pts), len(tt.regs))
			}
		})
	}
}

// A device that refuses an address inside a joined request: the request is
// split, the refused register counted per poll, the others still read.
func TestPollException(t *testing.T) {
	for _, f := range []modbustest.Framing{modbustest.TCP, modbustest.RTUOverTCP} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			r := newPollRig(t, f, func(c *Config) { c.Registers = holdingRegs(10, 3) })
			r.srv.SetHolding(10, 1, 2, 3)
			r.srv.Unset(11, 1)
			for poll, want := range []int64{2, 3} { // joined + single, then single
				pts, err := r.poll(t)
				if err != nil {
					t.Fatalf("poll %d: %v", poll, err)
				}
				got := map[string]uns.Value{}
				for _, p := range pts {
					got[p.Series] = p.Value
				}
				if len(got) != 2 || got["s/dev/r10"] != uns.Int(1) || got["s/dev/r12"] != uns.Int(3) {
					t.Errorf("poll %d: points %v, want r10=1 and r12=3", poll, got)
				}
				st := r.in.Status()
				if n := st.Rejected["illegal_data_address"]; n != want {
					t.Errorf("poll %d: rejected[illegal_data_address] = %d, want %d", poll, n, want)
				}
				if !strings.Contains(st.LastError, "read holding 11-11: illegal data address") {
					t.Errorf("poll %d: last_error %q", poll, st.LastError)
				}
			}
		})
	}
}

func TestPollValues(t *testing.T) {
	r := newPollRig(t, modbustest.TCP, func(c *Config) {
		c.Registers = []Register{
			{Path: "s/a/nan", Address: 0, Type: "float32"},
			{Path: "s/a/inf", Address: 2, Type: "float64"},
			{Path: "s/a/ok", Address: 6, Type: "int16", Scale: 0.5, Offset: 1},
			{Path: "s/a/raw", Address: 7, Type: "int16"},
			{Path: "s/a/coil", Table: "coil", Address: 3},
			{Path: "s/a/di", Table: "discrete", Address: 9},
			{Path: "s/a/in", Table: "input", Address: 4, Type: "uint32", WordOrder: "low_first"},
		}
	})
	nan, _ := Encode(uns.Float(math.NaN()), Float32, ABCD)
	inf, _ := Encode(uns.Float(math.Inf(-1)), Float64, ABCD)
	r.srv.SetHolding(0, nan...)
	r.srv.SetHolding(2, inf...)
	r.srv.SetHolding(6, 0xfffc, 0xfffc) // -4
	r.srv.SetCoils(3, true)
	r.srv.SetDiscrete(9, false)
	r.srv.SetInput(4, 0x0002, 0x0001) // 0x00010002
	pts, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uns.Value{}
	for _, p := range pts {
		got[p.Series] = p.Value
		if p.TS <= 0 || p.Quality != uns.Good {
			t.Errorf("%s: ts %d quality %v", p.Series, p.TS, p.Quality)
		}
	}
	want := map[string]uns.Value{
		"s/a/ok": uns.Float(-1), "s/a/raw": uns.Int(-4), "s/a/coil": uns.Bool(true),
		"s/a/di": uns.Bool(false), "s/a/in": uns.Int(0x00010002),
	}
	if len(got) != len(want) {
		t.Errorf("points %v, want %v", got, want)
	}
	for s, v := range want {
		if got[s] != v {
			t.Errorf("%s = %v, want %v", s, got[s], v)
		}
	}
	if n := r.in.Status().Rejected[ReasonNotFinite]; n != 2 {
		t.Errorf("rejected[not_finite] = %d, want 2", n)
	}
}

// Bad frames are counted; only maxStrikes in a row drop the connection.
func TestPollBadFrames(t *testing.T) {
	for _, f := range []modbustest.Framing{modbustest.TCP, modbustest.RTUOverTCP} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			r := newPollRig(t, f, func(c *Config) {
				c.Registers = []Register{{Path: "s/a/x", Address: 0}}
				c.Timeout = 5 * time.Second
			})
			r.srv.SetHolding(0, 7)
			cl, err := r.in.open()
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			r.srv.GarbleNext(maxStrikes - 1)
			for i := range maxStrikes - 1 {
				if _, err := r.in.poll(cl, nil); err != nil {
					t.Fatalf("poll %d: %v; want the connection kept", i, err)
				}
			}
			if pts, err := r.in.poll(cl, nil); err != nil || len(pts) != 1 {
				t.Fatalf("good poll: %v, %v", pts, err)
			}
			r.srv.GarbleNext(maxStrikes)
			var err2 error
			for range maxStrikes {
				_, err2 = r.in.poll(cl, nil)
			}
			if err2 == nil || !strings.Contains(err2.Error(), "requests in a row failed") {
				t.Errorf("after %d bad frames in a row: %v, want the connection dropped", maxStrikes, err2)
			}
			reason := ReasonBadFrame // a TCP response whose length is wrong
			if f == modbustest.RTUOverTCP {
				reason = ReasonBadCRC
			}
			if n := r.in.Status().Rejected[reason]; n != 2*maxStrikes-1 {
				t.Errorf("rejected[%s] = %d, want %d", reason, n, 2*maxStrikes-1)
			}
		})
	}
}
