package vda5050

import (
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/vda5050/vda5050test"
	"github.com/molen-io/molen/internal/uns"
)

// BenchmarkDecodeState decodes the state message of the simulated AGV (one
// load, one error, empty node and edge states) into points: one op is one
// message, on one core.
func BenchmarkDecodeState(b *testing.B) {
	for _, bc := range []struct {
		name  string
		topic string
	}{{"state", TopicState}, {"visualization", TopicVisualization}} {
		b.Run(bc.name, func(b *testing.B) {
			d := testDecoder(b, nil)
			d.events = false
			agv := vda5050test.NewAGV("acme", "agv-1", 1)
			agv.Loads = []vda5050test.Load{{ID: "p1", Type: "EPAL", Weight: 250}}
			agv.Errors = []vda5050test.Error{{Type: "obstacle", Level: "WARNING"}}
			var payload []byte
			if bc.topic == TopicState {
				payload = agv.State(time.Now())
			} else {
				payload = agv.Visualization(time.Now())
			}
			topic := agv.Topic(bc.topic)
			var pts []uns.Point
			var n int
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				pts, _, err = d.decode(pts[:0], nil, topic, payload, now)
				if err != nil {
					b.Fatal(err)
				}
				n += len(pts)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(len(pts)), "points/op")
		})
	}
}
