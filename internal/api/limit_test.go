package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/api/apitest"
)

// emptyBucket is a mock api.Limiter whose buckets are always empty, with
// a token again after wait.
type emptyBucket struct{ wait time.Duration }

func (e emptyBucket) Take(context.Context, string, api.Rate, time.Time) (time.Duration, error) {
	return e.wait, nil
}

// TestRefusalsAreHeld: a refused request is answered once its bucket has
// a token again (at most Limits.Hold), so a client that retries at once is
// paced by the hub; beyond MaxHeld refusals at once the answer is
// immediate and closes the connection.
func TestRefusalsAreHeld(t *testing.T) {
	paused := make(chan time.Duration)
	release := make(chan struct{})
	var limited []string
	limits := &api.Limits{Limiter: emptyBucket{wait: 300 * time.Millisecond}, Caller: api.Rate{PerSecond: 1, Burst: 1},
		Hold: time.Hour, MaxHeld: 1, Limited: func(by string) { limited = append(limited, by) },
		Pause: func(ctx context.Context, d time.Duration) {
			paused <- d
			select {
			case <-release:
			case <-ctx.Done():
			}
		}}
	rt := &api.Router{Tokens: apitest.Secrets{"viewer": {Org: "a", Role: api.RoleViewer}}, Limits: limits, Log: slog.New(slog.DiscardHandler)}
	rt.Handle(api.Route{Method: "GET", Path: "/view", Auth: api.Viewer, Handle: echo})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/view", nil)
		req.Header.Set("Authorization", "Bearer viewer")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := make(chan *http.Response)
	go func() { first <- get() }()
	select {
	case d := <-paused:
		if d != 300*time.Millisecond {
			t.Errorf("held for %s, want the bucket's wait, 300ms", d)
		}
	case resp := <-first:
		t.Fatalf("a refusal answered at once (%d), not held", resp.StatusCode)
	}
	// The first refusal is held: the second is over MaxHeld.
	second := get()
	if second.StatusCode != 429 || !second.Close || second.Header.Get("Retry-After") != "1" {
		t.Errorf("a refusal beyond MaxHeld: %d, closes the connection %t, Retry-After %q; want 429, true, 1",
			second.StatusCode, second.Close, second.Header.Get("Retry-After"))
	}
	close(release)
	resp := <-first
	if resp.StatusCode != 429 || resp.Close {
		t.Errorf("the held refusal: %d, closes the connection %t; want 429 on a connection kept", resp.StatusCode, resp.Close)
	}
	// Once released, the next refusal is held again.
	limits.Hold = 100 * time.Millisecond
	go func() { first <- get() }()
	if d := <-paused; d != 100*time.Millisecond {
		t.Errorf("held for %s, want at most Hold, 100ms", d)
	}
	if resp := <-first; resp.StatusCode != 429 || resp.Close {
		t.Errorf("the next refusal: %d, closes the connection %t", resp.StatusCode, resp.Close)
	}
	// Two refusals of one bucket held at once: the second waits for the
	// second token.
	limits.Hold, limits.MaxHeld = time.Hour, 2
	block := make(chan struct{})
	limits.Pause = func(ctx context.Context, d time.Duration) {
		paused <- d
		<-block
	}
	go func() { first <- get() }()
	d1 := <-paused
	go func() { first <- get() }()
	d2 := <-paused
	close(block)
	<-first
	<-first
	if d1 != 300*time.Millisecond || d2 != 600*time.Millisecond {
		t.Errorf("two refusals of one bucket held %s and %s, want 300ms and 600ms", d1, d2)
	}
	if len(limited) != 5 {
		t.Errorf("%d refusals counted, want 5", len(limited))
	}
}
