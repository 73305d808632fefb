package httpin_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/httpin"
	"github.com/molen-io/molen/internal/uns"
)

// poster is the conformance peer: a script that POSTs points and, as a
// well-behaved client, posts again after a 503. It gives up when the input
// is gone (the connection is refused).
type poster struct {
	in     *httpin.Input
	client *http.Client
	wg     sync.WaitGroup
}

func (p *poster) Stop() error  { return nil }
func (p *poster) Start() error { return nil }

// url waits until the input listens and returns where to post.
func (p *poster) url(t *testing.T) string {
	t.Helper()
	connectortest.WaitFor(t, "the input listening", func() bool { return p.in.Addr() != nil })
	return "http://" + p.in.Addr().String() + "/points"
}

// post posts body in the background, again after each 503.
func (p *poster) post(t *testing.T, url, body string) {
	p.wg.Go(func() {
		for {
			resp, err := p.client.Post(url, "text/plain", strings.NewReader(body))
			if err != nil {
				return // the input is gone
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				return
			}
			time.Sleep(2 * time.Millisecond) // the client's back-off
		}
	})
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			p := &poster{client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
			t.Cleanup(p.wg.Wait)
			return p
		},
		NewInput: func(t *testing.T, peer connectortest.Peer, slow bool) connector.Input {
			c := httpin.NewConfig()
			c.Listen = "127.0.0.1:0"
			c.BackoffMin, c.BackoffMax = time.Millisecond, 10*time.Millisecond
			if slow {
				c.BackoffMin, c.BackoffMax = time.Hour, 2*time.Hour
			}
			in, err := httpin.New(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			peer.(*poster).in = in
			return in
		},
		Produce: func(t *testing.T, peer connectortest.Peer, round int) map[string]uns.Value {
			p := peer.(*poster)
			ts := time.Date(2026, 3, 1, 8, 0, round, 0, time.UTC).UnixMilli()
			want := map[string]uns.Value{
				"test-site/http/dev/temp":  uns.Float(float64(round) + 0.5),
				"test-site/http/dev/count": uns.Int(int64(round)),
				"test-site/http/dev/on":    uns.Bool(round%2 == 1),
				"test-site/http/dev/state": uns.String(fmt.Sprintf("s%d", round)),
			}
			var b strings.Builder
			for s, v := range want {
				fmt.Fprintf(&b, "%s {\"value\": %s, \"ts\": %d}\n", s, jsonValue(v), ts)
			}
			p.post(t, p.url(t), b.String())
			return want
		},
		Bad: func(t *testing.T, peer connectortest.Peer) string {
			p := peer.(*poster)
			p.post(t, p.url(t)+"/test-site/http/dev/temp", "{not json")
			return uns.ReasonNotJSON
		},
		Listens:    true,
		Redelivery: connectortest.Retry,
	})
}

func jsonValue(v uns.Value) string {
	if v.Kind() == uns.KindString {
		return fmt.Sprintf("%q", v.Str())
	}
	return v.String()
}
