package fleet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uplink"
)

// Bounds of remote diagnostics (docs/fleet.md#diagnostics).
const (
	// CommandTTL is how long a command waits for its edge (pending) and
	// for its result once taken (sent) before it expires.
	CommandTTL = 10 * time.Minute
	// CommandKeep is how long a command and its result are kept.
	CommandKeep = 24 * time.Hour
	// MaxOpenCommands bounds the commands of one edge that wait for a
	// result; MaxKeptCommands those kept at all.
	MaxOpenCommands = 16
	MaxKeptCommands = 100
	// DefaultRecheck is how often a long poll looks at the database
	// besides being woken by a change (Service.SetRecheck): a change made
	// through another hub process that does not share its wakes
	// (Service.ShareWakes) reaches the edge within it.
	DefaultRecheck = 5 * time.Second
)

// The states of a command.
const (
	CommandPending = "pending"
	CommandSent    = "sent"
	CommandDone    = "done"
	CommandFailed  = "failed"
	CommandExpired = "expired"
)

// Command is a diagnostics command for an edge and, once the edge
// answered, its result.
type Command struct {
	ID      string          `json:"id"`
	Edge    string          `json:"edge"`
	Kind    string          `json:"kind"`
	Args    json.RawMessage `json:"args,omitempty"`
	Actor   string          `json:"actor"`
	State   string          `json:"state"`
	Created time.Time       `json:"created"`
	Sent    *time.Time      `json:"sent,omitempty"`
	Done    *time.Time      `json:"done,omitempty"`
	Error   string          `json:"error,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
	// Bundle is the size of the support bundle in bytes (0: none); it is
	// downloaded on its own route.
	Bundle int `json:"bundle_bytes,omitempty"`
}

// open reports whether c still waits for its result.
func (c Command) open() bool { return c.State == CommandPending || c.State == CommandSent }

// wakers lets long polls wait for a change of a key (an organisation's
// desired state, an edge's commands) made on this hub or, when shared,
// on another replica of it.
type wakers struct {
	mu    sync.Mutex // guards ch and share
	ch    map[string]chan struct{}
	share func(key string) // tells the other replicas; nil: none
}

// wait returns a channel closed at the next notify of key.
func (w *wakers) wait(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = map[string]chan struct{}{}
	}
	c := w.ch[key]
	if c == nil {
		c = make(chan struct{})
		w.ch[key] = c
	}
	return c
}

// notify wakes the waiters of key here and on the other replicas.
func (w *wakers) notify(key string) {
	w.mu.Lock()
	share := w.share
	w.mu.Unlock()
	w.local(key)
	if share != nil {
		share(key)
	}
}

// local wakes the waiters of key on this hub only.
func (w *wakers) local(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.ch[key]; c != nil {
		close(c)
		delete(w.ch, key)
	}
}

// ShareWakes has each change that wakes long polls (a command queued or
// answered, a desired state changed) also call share with its key, which
// is to reach the other replicas of the hub, where it is given to Woken.
func (s *Service) ShareWakes(share func(key string)) {
	s.wake.mu.Lock()
	defer s.wake.mu.Unlock()
	s.wake.share = share
}

// Woken wakes this hub's long polls waiting for key, changed on another
// replica (ShareWakes).
func (s *Service) Woken(key string) { s.wake.local(key) }

// SetRecheck sets how often long polls read the database besides being
// woken (default DefaultRecheck). Set it before serving.
func (s *Service) SetRecheck(d time.Duration) { s.recheck = d }

// checkCommand checks a command's kind and arguments; the error wraps
// api.ErrBadRequest.
func checkCommand(kind string, args json.RawMessage) (json.RawMessage, error) {
	if !slices.Contains(uplink.CommandKinds, kind) {
		return nil, api.BadRequest("kind: %q is not one of %v", kind, uplink.CommandKinds)
	}
	var a uplink.CommandArgs
	if len(args) > 0 && string(args) != "null" {
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return nil, api.BadRequest("args: %v", err)
		}
	}
	switch kind {
	case uplink.CommandRestartInput:
		if a.Input == "" || len(a.Input) > 100 {
			return nil, api.BadRequest(`args.input: the input's name, such as "inputs.packer"`)
		}
		a.Spec = ""
	case uplink.CommandPipelineTest:
		if a.Spec == "" {
			return nil, api.BadRequest("args.spec: a pipeline specification (docs/pipelines.md)")
		}
		if _, err := pipeline.Parse([]byte(a.Spec)); err != nil {
			return nil, api.BadRequest("args.spec: %v", err)
		}
		a.Input = ""
	default:
		a = uplink.CommandArgs{}
	}
	if a == (uplink.CommandArgs{}) {
		return nil, nil
	}
	b, err := json.Marshal(a)
	return b, err
}

// CreateCommand queues a command of kind for an edge of org on behalf of
// actor; it is delivered at the edge's next long poll (at once if one
// waits). meta.ErrNotFound for another organisation's edge.
func (s *Service) CreateCommand(ctx context.Context, org, edge, actor, kind string, args json.RawMessage) (Command, error) {
	if _, err := s.Edge(ctx, org, edge); err != nil {
		return Command{}, err
	}
	args, err := checkCommand(kind, args)
	if err != nil {
		return Command{}, err
	}
	if err := s.tidyCommands(ctx, edge); err != nil {
		return Command{}, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM edge_commands WHERE edge = $1 AND state IN ('pending', 'sent')`, edge).Scan(&n); err != nil {
		return Command{}, fmt.Errorf("commands of %s: %w", edge, err)
	}
	if n >= MaxOpenCommands {
		return Command{}, fmt.Errorf("%w: %d commands of edge %s wait for their result already; try again when they are done or expired", api.ErrConflict, n, edge)
	}
	c := Command{ID: "cmd-" + secret.New("")[:12], Edge: edge, Kind: kind, Args: args, Actor: actor, State: CommandPending, Created: s.now()}
	_, err = s.db.ExecContext(ctx, `INSERT INTO edge_commands (id, org, edge, kind, args, actor, state, created, sent, done, error, output, bundle)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, '', '', '')`, c.ID, org, edge, kind, string(args), actor, c.State, meta.Nanos(c.Created))
	if err != nil {
		return Command{}, fmt.Errorf("store command for %s: %w", edge, err)
	}
	s.wake.notify(edge)
	return c, nil
}

// tidyCommands expires an edge's commands past CommandTTL and removes
// those past CommandKeep, and the oldest beyond MaxKeptCommands.
func (s *Service) tidyCommands(ctx context.Context, edge string) error {
	now := s.now()
	old := meta.Nanos(now.Add(-CommandTTL))
	_, err := s.db.ExecContext(ctx, `UPDATE edge_commands SET state = 'expired', done = $1, error = 'the edge did not answer in time'
		WHERE edge = $2 AND ((state = 'pending' AND created < $3) OR (state = 'sent' AND sent < $3))`, meta.Nanos(now), edge, old)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `DELETE FROM edge_commands WHERE edge = $1 AND created < $2`, edge, meta.Nanos(now.Add(-CommandKeep)))
	}
	if err == nil {
		_, err = s.db.ExecContext(ctx, `DELETE FROM edge_commands WHERE edge = $1 AND id NOT IN
			(SELECT id FROM edge_commands WHERE edge = $1 ORDER BY created DESC LIMIT $2)`, edge, MaxKeptCommands)
	}
	if err != nil {
		return fmt.Errorf("tidy commands of %s: %w", edge, err)
	}
	return nil
}

const commandColumns = `id, edge, kind, args, actor, state, created, sent, done, error, output, bundle`

func scanCommand(sc scanner, withBundle bool) (Command, string, error) {
	var c Command
	var args, output, bundle string
	var created, sent, done int64
	if err := meta.Found(sc.Scan(&c.ID, &c.Edge, &c.Kind, &args, &c.Actor, &c.State, &created, &sent, &done, &c.Error, &output, &bundle)); err != nil {
		return Command{}, "", err
	}
	c.Created = meta.Time(created)
	if sent != 0 {
		t := meta.Time(sent)
		c.Sent = &t
	}
	if done != 0 {
		t := meta.Time(done)
		c.Done = &t
	}
	if args != "" {
		c.Args = json.RawMessage(args)
	}
	if output != "" {
		c.Output = json.RawMessage(output)
	}
	c.Bundle = base64.StdEncoding.DecodedLen(len(bundle))
	if !withBundle {
		bundle = ""
	}
	return c, bundle, nil
}

// GetCommand returns a command for an edge of org; meta.ErrNotFound for
// another organisation's.
func (s *Service) GetCommand(ctx context.Context, org, edge, id string) (Command, error) {
	c, _, err := s.command(ctx, org, edge, id, false)
	return c, err
}

func (s *Service) command(ctx context.Context, org, edge, id string, withBundle bool) (Command, string, error) {
	if _, err := s.Edge(ctx, org, edge); err != nil {
		return Command{}, "", err
	}
	if err := s.tidyCommands(ctx, edge); err != nil {
		return Command{}, "", err
	}
	c, b, err := scanCommand(s.db.QueryRowContext(ctx, `SELECT `+commandColumns+` FROM edge_commands WHERE org = $1 AND edge = $2 AND id = $3`, org, edge, id), withBundle)
	if err != nil {
		return Command{}, "", fmt.Errorf("command %s of edge %s: %w", id, edge, err)
	}
	return c, b, nil
}

// WaitCommand returns a command once it has its result (or expired), or
// after wait with it still open.
func (s *Service) WaitCommand(ctx context.Context, org, edge, id string, wait time.Duration) (Command, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		woken := s.wake.wait(edge)
		c, err := s.GetCommand(ctx, org, edge, id)
		if err != nil || !c.open() {
			return c, err
		}
		select {
		case <-woken:
		case <-time.After(s.recheck):
		case <-t.C:
			return c, nil
		case <-ctx.Done():
			return c, nil
		case <-s.stopped():
			return c, nil
		}
	}
}

// Bundle returns the support bundle a command brought back.
func (s *Service) Bundle(ctx context.Context, org, edge, id string) (Command, []byte, error) {
	c, b, err := s.command(ctx, org, edge, id, true)
	if err != nil {
		return Command{}, nil, err
	}
	if b == "" {
		return Command{}, nil, fmt.Errorf("bundle of command %s: %w", id, meta.ErrNotFound)
	}
	data, err := base64.StdEncoding.DecodeString(b)
	if err != nil {
		return Command{}, nil, fmt.Errorf("bundle of command %s: %w", id, err)
	}
	return c, data, nil
}

// Commands lists an edge's recent commands, newest first, without their
// output.
func (s *Service) Commands(ctx context.Context, org, edge string) ([]Command, error) {
	if _, err := s.Edge(ctx, org, edge); err != nil {
		return nil, err
	}
	if err := s.tidyCommands(ctx, edge); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+commandColumns+` FROM edge_commands WHERE org = $1 AND edge = $2 ORDER BY created DESC`, org, edge)
	if err != nil {
		return nil, fmt.Errorf("commands of %s: %w", edge, err)
	}
	defer rows.Close()
	out := []Command{}
	for rows.Next() {
		c, _, err := scanCommand(rows, false)
		if err != nil {
			return nil, fmt.Errorf("commands of %s: %w", edge, err)
		}
		c.Output = nil
		out = append(out, c)
	}
	return out, rows.Err()
}

// takeCommands hands the pending commands of an edge to it: each is
// marked sent by a conditional update, so that two hub processes never
// hand one out twice.
func (s *Service) takeCommands(ctx context.Context, org, edge string) ([]uplink.Command, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, args FROM edge_commands WHERE org = $1 AND edge = $2 AND state = 'pending' ORDER BY created`, org, edge)
	if err != nil {
		return nil, fmt.Errorf("commands of %s: %w", edge, err)
	}
	var cands []uplink.Command
	for rows.Next() {
		var c uplink.Command
		var args string
		if err := rows.Scan(&c.ID, &c.Kind, &args); err != nil {
			rows.Close()
			return nil, fmt.Errorf("commands of %s: %w", edge, err)
		}
		if args != "" {
			c.Args = json.RawMessage(args)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("commands of %s: %w", edge, err)
	}
	out := []uplink.Command{}
	now := meta.Nanos(s.now())
	for _, c := range cands {
		err := meta.Changed(s.db.ExecContext(ctx, `UPDATE edge_commands SET state = 'sent', sent = $1 WHERE id = $2 AND state = 'pending'`, now, c.ID))
		switch {
		case err == nil:
			out = append(out, c)
		case !errors.Is(err, meta.ErrNotFound):
			return out, fmt.Errorf("take command %s: %w", c.ID, err)
		}
	}
	return out, nil
}

// StoreResult keeps the result an edge sent for one of its commands.
// meta.ErrNotFound for a command of another edge; api.ErrConflict for
// one that has its result already or expired.
func (s *Service) StoreResult(ctx context.Context, org, edge, id string, res uplink.CommandResult) error {
	state := CommandDone
	if res.Error != "" {
		state = CommandFailed
	}
	if len(res.Output) > 0 && !json.Valid(res.Output) {
		return api.BadRequest("output: not JSON")
	}
	bundle := ""
	if len(res.Bundle) > 0 {
		bundle = base64.StdEncoding.EncodeToString(res.Bundle)
	}
	err := meta.Changed(s.db.ExecContext(ctx, `UPDATE edge_commands SET state = $1, done = $2, error = $3, output = $4, bundle = $5
		WHERE org = $6 AND edge = $7 AND id = $8 AND state IN ('pending', 'sent')`,
		state, meta.Nanos(s.now()), res.Error, string(res.Output), bundle, org, edge, id))
	if errors.Is(err, meta.ErrNotFound) {
		if _, gerr := s.GetCommand(ctx, org, edge, id); gerr == nil {
			err = fmt.Errorf("%w: the command has its result already or expired", api.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("result of command %s: %w", id, err)
	}
	s.wake.notify(edge)
	return nil
}

// StopWaiting ends the long polls and waits for results that are
// running, for the hub to close; new ones answer at once.
func (s *Service) StopWaiting() { s.stopOnce.Do(func() { close(s.stopCh()) }) }

func (s *Service) stopped() <-chan struct{} { return s.stopCh() }

func (s *Service) stopCh() chan struct{} {
	s.stopInit.Do(func() { s.stop = make(chan struct{}) })
	return s.stop
}

// pollCommands is the edge's long poll: it answers the commands waiting
// for the edge, at once if there are any or the edge's manifest is not
// the one of etag (ETag, from If-None-Match), else when one of them
// comes, or with none after wait.
func (s *Service) pollCommands(ctx context.Context, org, edge, etag string, wait time.Duration) (uplink.Commands, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	held := false
	for {
		orgWoken, edgeWoken := s.wake.wait(org), s.wake.wait(edge)
		cmds, err := s.takeCommands(ctx, org, edge)
		if err != nil || len(cmds) > 0 {
			return uplink.Commands{Commands: cmds}, err
		}
		if etag != "" {
			d, err := s.Desired(ctx, org, edge)
			if err != nil {
				return uplink.Commands{}, err
			}
			if ETag(d.Manifest) != etag {
				return uplink.Commands{Commands: cmds, ManifestChanged: true}, nil
			}
		}
		if !held {
			// Past its first read: what comes now comes by a wake (or
			// the next recheck).
			held = true
			s.pollsHeld.Inc()
			defer s.pollsHeld.Dec()
		}
		select {
		case <-orgWoken:
		case <-edgeWoken:
		case <-time.After(s.recheck):
		case <-t.C:
			return uplink.Commands{Commands: cmds}, nil
		case <-ctx.Done():
			return uplink.Commands{Commands: cmds}, nil
		case <-s.stopped():
			return uplink.Commands{Commands: cmds}, nil
		}
	}
}
