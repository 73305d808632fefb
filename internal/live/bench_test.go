package live_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
	"github.com/molen-io/molen/internal/live"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/uns"
)

// demoRate is the demo's default rate: ticks per second of every machine.
const demoRate = 5

// cpu is the process's user and system CPU time.
func cpu(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLive50Streams publishes the demo factory's points tick by tick
// (one publish a tick, as if the edge forwarded every tick on its own: the
// most publishes the demo's data can make) to 50 open streams of the whole
// factory, each read by an HTTP client in the same process; ns/op is the
// time from a publish until every stream read it. It reports the process's
// CPU time per tick and, at the demo's rate, the share of one core the hub
// and the 50 clients together take.
func BenchmarkLive50Streams(b *testing.B) {
	const streams = 50
	f := sim.NewFactory(1)
	start := time.Unix(1_700_000_000, 0)
	var ticks [][]uns.Point
	for i := range 100 {
		now := start.Add(time.Duration(i) * time.Second)
		var pts []uns.Point
		for _, m := range f.Tick(now) {
			var err error
			if pts, err = uns.Decode(pts, m.Topic, m.Payload, now.UnixNano()); err != nil {
				b.Fatal(err)
			}
		}
		ticks = append(ticks, pts)
	}
	h := live.New(live.Options{BufferPoints: 1 << 20})
	secrets := apitest.Secrets{}
	for i := range streams {
		secrets[fmt.Sprint("s", i)] = api.Principal{Org: "acme", Role: api.RoleViewer, Token: fmt.Sprint("tok_", i), Scopes: "read"}
	}
	rt := &api.Router{Tokens: secrets, Log: slog.New(slog.DiscardHandler)}
	rt.Handle(h.Routes()...)
	srv := httptest.NewServer(rt)
	defer srv.Close()

	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	got := make([]int, streams)
	var wg sync.WaitGroup
	for i := range streams {
		req, _ := http.NewRequestWithContext(b.Context(), "GET", srv.URL+"/api/v1/live?prefix="+sim.DefaultSite, nil)
		req.Header.Set("Authorization", "Bearer "+fmt.Sprint("s", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp.Status)
		}
		rd := bufio.NewReaderSize(resp.Body, 64<<10)
		if _, err := rd.ReadString('\n'); err != nil { // ": connected"; the stream is open
			b.Fatal(err)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			for {
				line, err := rd.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("event: points")) {
					mu.Lock()
					got[i]++
					cond.Broadcast()
					mu.Unlock()
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpu(b)
	// At the demo's rate the streams are idle between ticks: each tick
	// waits until every stream got the one before, so that every publish
	// wakes every stream, as it would.
	for i := 0; b.Loop(); i++ {
		h.Publish("acme", ticks[i%len(ticks)], nil)
		mu.Lock()
		for j := 0; j < streams; j++ {
			for got[j] <= i {
				cond.Wait()
			}
		}
		mu.Unlock()
	}
	perTick := (cpu(b) - c0) / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(len(ticks[0])), "points/tick")
	b.ReportMetric(float64(perTick.Microseconds()), "cpu-µs/tick")
	b.ReportMetric(float64(perTick*demoRate)/float64(time.Second)*100, "%core-at-demo-rate")
	srv.CloseClientConnections()
	wg.Wait()
}
