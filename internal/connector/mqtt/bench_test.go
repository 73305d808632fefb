package mqtt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

// countSink accepts every write and counts the points.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Write(_ context.Context, pts []uns.Point) error {
	s.n.Add(int64(len(pts)))
	return nil
}

// BenchmarkIngest publishes QoS 1 JSON messages through the in-process
// broker to the input, which decodes them and writes to a sink that does
// nothing: one op is one message. Publishing pauses every window messages
// until the input caught up, as the broker drops QoS 1 messages to a 3.1.1
// subscriber whose send buffer overflows.
func BenchmarkIngest(b *testing.B) {
	payloads := []struct {
		name    string
		payload []byte
		points  int64
	}{
		{"bare", []byte("21.5"), 1},
		{"value_ts_q", []byte(`{"value":21.5,"ts":1700000000000,"q":"good"}`), 1},
		{"object10", []byte(`{"ts":1700000000000,"t1":21.5,"t2":22.5,"t3":23.5,"p1":1200,"p2":1300,` +
			`"run":true,"state":"run","m":{"a":1,"b":2,"c":3.25}}`), 10},
	}
	for _, p := range payloads {
		b.Run(p.name, func(b *testing.B) {
			brk := newBroker(b, nil)
			cfg := conformanceConfig(brk.URL())
			cfg.MaxInflight = 1000
			in, err := connectorInput(cfg)
			if err != nil {
				b.Fatal(err)
			}
			sink := &countSink{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx, sink) }()
			defer func() { cancel(); <-done }()
			for in.Status().State != connector.Connected {
				time.Sleep(time.Millisecond)
			}
			const window = 500
			var sent int64
			catchUp := func() {
				deadline := time.Now().Add(10 * time.Second)
				for sink.n.Load() < sent*p.points {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d points after 10s; status %+v", sink.n.Load(), sent*p.points, in.Status())
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				brk.Publish(b, "factory/hall-a/line1/press", p.payload, false, 1)
				if sent++; sent%window == 0 {
					catchUp()
				}
			}
			catchUp()
			b.ReportMetric(float64(sink.n.Load())/b.Elapsed().Seconds(), "points/s")
			if d := in.Status().Dropped; d != 0 {
				b.Errorf("%d dropped", d)
			}
		})
	}
}

func connectorInput(cfg connector.Config) (connector.Input, error) {
	spec, ok := connector.Lookup("mqtt")
	if !ok {
		return nil, fmt.Errorf("mqtt is not registered")
	}
	return spec.Build(cfg, nil)
}
