package fleet

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/clocktest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uplink"
)

// Commands are handed to their edge once, take one result, expire, are
// bounded per edge, and belong to their organisation and edge alone.
func TestCommands(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		clock := clocktest.New(now)
		s, err := New(ctx, db, nil, clock.Now, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		e, _, err := s.CreateEdge(ctx, "acme", "press hall")
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := s.CreateEdge(ctx, "beta", "beta's")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateCommand(ctx, "beta", e.ID, "u", uplink.CommandStatus, nil); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another organisation's edge: %v", err)
		}
		for _, bad := range []struct{ kind, args string }{{"reboot", ""}, {uplink.CommandRestartInput, ""}, {uplink.CommandPipelineTest, `{"spec":"pipelines: [{name: x}]"}`}, {uplink.CommandLogs, `{"what":1}`}} {
			if _, err := s.CreateCommand(ctx, "acme", e.ID, "u", bad.kind, []byte(bad.args)); !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%s %s: %v, want a bad request", bad.kind, bad.args, err)
			}
		}
		c, err := s.CreateCommand(ctx, "acme", e.ID, "usr_1", uplink.CommandRestartInput, []byte(`{"input":"packer"}`))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.pollCommands(ctx, "acme", e.ID, "", 0)
		if err != nil || len(got.Commands) != 1 || got.Commands[0].ID != c.ID || string(got.Commands[0].Args) != `{"input":"packer"}` {
			t.Fatalf("poll: %+v, %v", got, err)
		}
		if again, _ := s.pollCommands(ctx, "acme", e.ID, "", 0); len(again.Commands) != 0 {
			t.Errorf("a command handed out twice: %+v", again)
		}
		if _, err := s.GetCommand(ctx, "beta", e.ID, c.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another organisation reads the command: %v", err)
		}
		if err := s.StoreResult(ctx, "beta", other.ID, c.ID, uplink.CommandResult{Output: []byte(`{}`)}); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("another edge answers the command: %v", err)
		}
		if err := s.StoreResult(ctx, "acme", e.ID, c.ID, uplink.CommandResult{Output: []byte(`{"restarted":true}`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreResult(ctx, "acme", e.ID, c.ID, uplink.CommandResult{Output: []byte(`{}`)}); !errors.Is(err, api.ErrConflict) {
			t.Errorf("a second result: %v", err)
		}
		done, err := s.WaitCommand(ctx, "acme", e.ID, c.ID, time.Minute)
		if err != nil || done.State != CommandDone || string(done.Output) != `{"restarted":true}` || done.Actor != "usr_1" {
			t.Errorf("done command: %+v, %v", done, err)
		}

		// A manifest other than the edge's ETag answers at once.
		got, err = s.pollCommands(ctx, "acme", e.ID, `"stale"`, time.Minute)
		if err != nil || !got.ManifestChanged {
			t.Errorf("poll with a stale ETag: %+v, %v", got, err)
		}

		// Bounded: open commands per edge; they expire.
		for range MaxOpenCommands {
			if _, err := s.CreateCommand(ctx, "acme", e.ID, "u", uplink.CommandStatus, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateCommand(ctx, "acme", e.ID, "u", uplink.CommandStatus, nil); !errors.Is(err, api.ErrConflict) {
			t.Errorf("command beyond the bound: %v", err)
		}
		clock.Add(CommandTTL + time.Second)
		list, err := s.Commands(ctx, "acme", e.ID)
		if err != nil || len(list) != MaxOpenCommands+1 || list[0].State != CommandExpired || list[len(list)-1].State != CommandDone {
			t.Errorf("after the TTL: %d commands, %v", len(list), err)
		}
		if _, err := s.CreateCommand(ctx, "acme", e.ID, "u", uplink.CommandStatus, nil); err != nil {
			t.Errorf("a command once the others expired: %v", err)
		}
		clock.Add(CommandKeep)
		if list, _ := s.Commands(ctx, "acme", e.ID); len(list) != 1 {
			t.Errorf("after a day %d commands are kept, want the newest", len(list))
		}
	})
}
