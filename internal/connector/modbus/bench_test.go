package modbus

import (
	"fmt"
	"testing"

	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/uns"
)

// BenchmarkPoll polls 50 holding registers, batched into two requests,
// from the in-process device over loopback: one op is one poll.
func BenchmarkPoll(b *testing.B) {
	for _, f := range []modbustest.Framing{modbustest.TCP, modbustest.RTUOverTCP} {
		b.Run(f.String(), func(b *testing.B) {
			r := newPollRig(b, f, func(c *Config) {
				c.Registers = append(holdingRegs(0, 25), holdingRegs(1000, 25)...)
			})
			r.srv.SetHolding(0, make([]uint16, 1100)...)
			cl, err := r.in.open()
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			before := r.srv.Requests()
			pts := make([]uns.Point, 0, 50)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if pts, err = r.in.poll(cl, pts[:0]); err != nil || len(pts) != 50 {
					b.Fatal(len(pts), err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
			b.ReportMetric(float64(r.srv.Requests()-before)/float64(b.N), "requests/poll")
		})
	}
}

// BenchmarkDecodeBlock decodes a full 125-register block holding a mix of
// types, orders and scaling: what a poll does per response.
func BenchmarkDecodeBlock(b *testing.B) {
	types := []Type{Int16, Uint16, Int32, Uint32, Float32, Float64}
	var fields []field
	addr := 0
	for i := 0; ; i++ {
		typ := types[i%len(types)]
		if addr+typ.Words() > MaxRegistersPerRead {
			break
		}
		f := field{series: fmt.Sprintf("s/a/r%d", i), addr: uint16(addr), typ: typ, order: orders[i%len(orders)], scale: 1}
		if i%3 == 0 {
			f.scale, f.offset, f.scaled = 0.1, -3, true
		}
		fields = append(fields, f)
		addr += typ.Words()
	}
	blocks := plan(fields, MaxRegistersPerRead, 0)
	if len(blocks) != 1 {
		b.Fatalf("%d blocks", len(blocks))
	}
	words := make([]uint16, blocks[0].count)
	for i := range words {
		words[i] = uint16(0x3f00 + i)
	}
	pts := make([]uns.Point, 0, len(fields))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		pts = pts[:0]
		for j := range blocks[0].fields {
			f := &blocks[0].fields[j]
			v, err := f.value(words[f.addr:])
			if err != nil {
				continue
			}
			pts = append(pts, uns.Point{Series: f.series, TS: 1, Value: v})
		}
	}
	b.ReportMetric(float64(b.N*len(fields))/b.Elapsed().Seconds(), "values/s")
}
