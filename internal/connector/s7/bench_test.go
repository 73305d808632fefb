package s7

import (
	"fmt"
	"testing"

	"github.com/molen-io/molen/internal/connector/s7/s7test"
	"github.com/molen-io/molen/internal/uns"
)

// BenchmarkPoll polls 50 reals of one data block and 50 dints of another
// from the in-process PLC over loopback: one op is one poll.
func BenchmarkPoll(b *testing.B) {
	for _, pdu := range []int{240, 960} {
		b.Run(fmt.Sprintf("pdu%d", pdu), func(b *testing.B) {
			srv, err := s7test.NewServer(pdu)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			srv.SetDB(1, make([]byte, 200))
			srv.SetDB(2, make([]byte, 200))
			cfg := NewConfig()
			cfg.Address, cfg.PDUSize = srv.Addr(), pdu
			for i := range 50 {
				cfg.Items = append(cfg.Items,
					Item{Path: fmt.Sprintf("s/a/r%d", i), DB: 1, Byte: 4 * i, Type: "real"},
					Item{Path: fmt.Sprintf("s/a/d%d", i), DB: 2, Byte: 4 * i, Type: "dint"})
			}
			in, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			cn, err := in.open(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			defer cn.close()
			reqs := plan(in.fields, cn.pdu, cfg.MaxGap, nil)
			pts := make([]uns.Point, 0, 100)
			b.ReportAllocs()
			for b.Loop() {
				if pts, _, err = in.poll(cn, reqs, pts[:0]); err != nil || len(pts) != 100 {
					b.Fatal(len(pts), err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
			b.ReportMetric(float64(len(reqs)), "requests/poll")
		})
	}
}
