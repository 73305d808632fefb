package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/cluster/clustertest"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uplink"
)

// TestClusterCommandWake holds an edge's long poll on replica b and queues
// a command through replica a. The replicas read the database for
// commands only once an hour besides being woken, and the poll waits a
// minute: the command reaches the edge in that poll only through the
// wake a shares with b over NATS.
func TestClusterCommandWake(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	now := func() time.Time { return time.Now() }
	slow := func(c *hub.Config) { c.Cluster.Recheck = time.Hour }
	a := startReplica(t, dsn, schema, nc.URLs, "a", now, slow)
	b := startReplica(t, dsn, schema, nc.URLs[1:], "b", now, slow)
	id, token, err := a.CreateEdge(t.Context(), "line")
	if err != nil {
		t.Fatal(err)
	}
	c := &uplink.Client{URL: b.URL()}
	en, err := c.Enroll(t.Context(), token, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Credential = en.Credential

	type polled struct {
		cmds uplink.Commands
		err  error
	}
	got := make(chan polled, 1)
	go func() {
		cmds, err := c.PollCommands(t.Context(), uplink.MaxCommandWait, "")
		got <- polled{cmds, err}
	}()
	held := client{t: t, base: b.URL()}
	waitFor(t, "the poll held on replica b", func() bool { return held.metric("molen_hub_command_polls_held") == 1 })
	cmd, err := a.Fleet().CreateCommand(t.Context(), hub.DefaultOrg, id, "test", uplink.CommandStatus, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := <-got
	if p.err != nil {
		t.Fatal(p.err)
	}
	if !slices.ContainsFunc(p.cmds.Commands, func(c uplink.Command) bool { return c.ID == cmd.ID }) {
		t.Errorf("the poll on replica b answered %+v, want command %s queued through replica a", p.cmds, cmd.ID)
	}
}

// TestClusterRateLimits sends a client's requests to two replicas in
// turn: the replicas count them together, so the client is refused at
// its limit, not at twice it.
func TestClusterRateLimits(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	nc := clustertest.Start(t, 3, true)
	now := func() time.Time { return time.Unix(0, clusterBase) } // no refill during the test
	off := api.Rate{PerSecond: -1}
	rates := func(c *hub.Config) {
		c.Rates = hub.Rates{Address: off, Caller: off, Edge: off, SignIn: api.Rate{PerSecond: 1.0 / 60, Burst: 3}, Org: api.Rate{PerSecond: 1, Burst: 5}}
	}
	replicas := []*hub.Hub{startReplica(t, dsn, schema, nc.URLs, "a", now, rates), startReplica(t, dsn, schema, nc.URLs[1:], "b", now, rates)}
	admin, err := replicas[0].AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		burst                           int
	}{
		{"sign-in per address", "POST", "/api/v1/auth/login", "", `{"email":"x@example.test","password":"not the password"}`, 3},
		{"API per organisation", "GET", "/api/v1/edges", admin, "", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var let int
			for i := range 4 * tc.burst {
				req, err := http.NewRequestWithContext(t.Context(), tc.method, replicas[i%2].URL()+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests {
					let++
				}
			}
			if let != tc.burst {
				t.Errorf("two replicas let %d of %d requests through, want the limit's burst %d", let, 4*tc.burst, tc.burst)
			}
		})
	}
}
