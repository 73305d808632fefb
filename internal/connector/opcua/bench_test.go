package opcua_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/opcua"
	"github.com/molen-io/molen/internal/connector/opcua/opcuatest"
	"github.com/molen-io/molen/internal/uns"
)

// countSink counts the points written and wakes a waiter once a target is
// reached.
type countSink struct {
	mu     sync.Mutex // guards n, target, reached
	n      int
	target int
	reach  chan struct{}
}

func (s *countSink) Write(_ context.Context, pts []uns.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += len(pts)
	if s.reach != nil && s.n >= s.target {
		close(s.reach)
		s.reach = nil
	}
	return nil
}

// until returns a channel closed once n points in all were written.
func (s *countSink) until(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.n >= n {
		close(ch)
		return ch
	}
	s.target, s.reach = n, ch
	return ch
}

// BenchmarkSubscription measures the values per second a subscribing input
// delivers from the in-process server over loopback: one op changes every
// node once and waits until the input wrote all of their new values. It
// measures the gopcua server's side too (a change notification per node,
// publishing every 1 ms).
func BenchmarkSubscription(b *testing.B) {
	for _, nodes := range []int{100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			s, err := opcuatest.NewServer(opcuatest.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			cfg := opcua.NewConfig()
			cfg.Endpoint, cfg.SecurityMode = s.URL(), "None"
			cfg.PublishingInterval, cfg.SamplingInterval = time.Millisecond, 0
			names := make([]string, nodes)
			for i := range nodes {
				name := fmt.Sprintf("v%04d", i)
				names[i] = name
				s.Set(name, float64(0))
				cfg.Nodes = append(cfg.Nodes, opcua.Node{ID: s.NodeID(name), Path: "bench/opcua/m/" + name})
			}
			in := build(b, cfg)
			sink := &countSink{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx, sink) }()
			defer func() { cancel(); <-done }()
			want := nodes
			wait := func() {
				select {
				case <-sink.until(want):
				case <-time.After(30 * time.Second):
					b.Fatalf("waited 30s for %d values; status %+v", want, in.Status())
				}
			}
			wait() // the initial values
			b.ReportAllocs()
			b.ResetTimer()
			round := 0
			for b.Loop() {
				round++
				for _, name := range names {
					s.Set(name, float64(round))
				}
				want += nodes
				wait()
			}
			b.ReportMetric(float64(b.N*nodes)/b.Elapsed().Seconds(), "values/s")
			if st := in.Status(); st.Dropped > 0 || len(st.Rejected) > 0 {
				b.Errorf("status %+v: want nothing dropped or rejected", st)
			}
		})
	}
}
