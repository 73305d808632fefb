package hub_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// BenchmarkFlood measures how one organisation's flood of API requests
// affects another organisation's latency: organisation "quiet" reads its
// latest values one request at a time (about 40 a second), 500 times alone and 500 times
// while organisation "flood" sends as fast as 4 or 16 connections can (in
// five alternating rounds); it
// reports the quiet one's p50 and p99 in both phases, their ratio, and
// how many of the flood's requests were refused (429). With the default
// per-organisation limits and without any. Both organisations call from
// 127.0.0.1, so the per-address limit is off (in a real deployment they
// come from different networks). Run with -benchtime=1x.
func BenchmarkFlood(b *testing.B) {
	for _, conns := range []int{4, 16} {
		for _, limited := range []bool{true, false} {
			name := fmt.Sprintf("conns=%d/limits=default", conns)
			rates := hub.Rates{Address: api.Rate{PerSecond: -1}}
			if !limited {
				name = fmt.Sprintf("conns=%d/limits=none", conns)
				off := api.Rate{PerSecond: -1}
				rates = hub.Rates{Address: off, Org: off, Caller: off, Edge: off}
			}
			b.Run(name, func(b *testing.B) { benchFlood(b, rates, conns) })
		}
	}
}

func benchFlood(b *testing.B, rates hub.Rates, conns int) {
	ctx := b.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard, Rates: rates})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	tokens := map[string]string{}
	for _, org := range []string{"quiet", "flood"} {
		if err := h.Auth().CreateOrg(ctx, auth.Org{ID: org, Kind: auth.Company, Parent: auth.PlatformOrg}); err != nil {
			b.Fatal(err)
		}
		if tokens[org], err = h.Auth().NewToken(ctx, org, api.RoleViewer, "bench"); err != nil {
			b.Fatal(err)
		}
		var pts []uns.Point
		for i := range 200 {
			pts = append(pts, uns.Point{Series: "site/area/line/m" + string(rune('a'+i%20)) + "/t" + string(rune('a'+i/20)), TS: 1_763_700_000_000_000_000, Value: uns.Float(float64(i))})
		}
		e, tok, err := h.Fleet().CreateEdge(ctx, org, "e")
		if err != nil {
			b.Fatal(err)
		}
		_ = e
		en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, tok, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := (&uplink.Client{URL: h.URL(), Credential: en.Credential}).Send(ctx, uplink.Batch{Stream: "points/b",
			Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(ctx context.Context, token string) (int, time.Duration) {
		req, _ := http.NewRequestWithContext(ctx, "GET", h.URL()+"/api/v1/latest", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	// measure adds n of the quiet organisation's latencies to lat.
	measure := func(lat *[]time.Duration, n int) {
		pace := time.NewTicker(20 * time.Millisecond) // a few dashboards' pace, within the limits
		defer pace.Stop()
		for range n {
			code, d := get(ctx, tokens["quiet"])
			if code != 200 {
				b.Fatalf("the quiet organisation got %d", code)
			}
			*lat = append(*lat, d)
			<-pace.C
		}
	}
	pct := func(lat []time.Duration) (p50, p99 time.Duration) {
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	for b.Loop() {
		// Quiet and flooded phases alternate, 5 rounds of 100 requests
		// each, so that whatever else the machine does falls on both.
		var quiet, flooded []time.Duration
		var sent, refused atomic.Int64
		for range 5 {
			measure(&quiet, 100)
			fctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			// The quiet organisation is measured once the flood is under way:
			// as many refusals as connections in this round (with the
			// limits: its burst spent), or a hundred requests a connection
			// answered (without).
			underWay := make(chan struct{})
			var once sync.Once
			var round, roundRefused atomic.Int64
			for range conns {
				wg.Go(func() {
					for fctx.Err() == nil {
						code, _ := get(fctx, tokens["flood"])
						if code == 0 {
							continue
						}
						sent.Add(1)
						n := round.Add(1)
						if code == http.StatusTooManyRequests {
							refused.Add(1)
							if roundRefused.Add(1) >= int64(conns) {
								once.Do(func() { close(underWay) })
							}
						}
						if n >= int64(100*conns) {
							once.Do(func() { close(underWay) })
						}
					}
				})
			}
			<-underWay
			measure(&flooded, 100)
			stop()
			wg.Wait()
		}
		q50, q99 := pct(quiet)
		f50, f99 := pct(flooded)
		b.ReportMetric(float64(q50.Microseconds())/1000, "quiet-p50-ms")
		b.ReportMetric(float64(q99.Microseconds())/1000, "quiet-p99-ms")
		b.ReportMetric(float64(f50.Microseconds())/1000, "flooded-p50-ms")
		b.ReportMetric(float64(f99.Microseconds())/1000, "flooded-p99-ms")
		b.ReportMetric(float64(f99)/float64(q99), "p99-ratio")
		b.ReportMetric(float64(sent.Load()), "flood-requests")
		b.ReportMetric(float64(refused.Load())/float64(max(sent.Load(), 1)), "flood-refused-share")
	}
}
