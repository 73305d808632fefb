package uplink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The kinds of remote diagnostics commands (docs/fleet.md#diagnostics).
const (
	CommandStatus       = "status"        // inputs, pipeline, buffer: what the status API shows
	CommandLogs         = "logs"          // the edge's recent log records
	CommandRestartInput = "restart-input" // stop an input and start it anew: args {"input": "<name>"}
	CommandPipelineTest = "pipeline-test" // a draft pipeline on recent live points: args {"spec": "<pipeline file>"}
	CommandBundle       = "bundle"        // a support bundle (tar.gz)
)

// CommandKinds are the kinds an edge runs.
var CommandKinds = []string{CommandStatus, CommandLogs, CommandRestartInput, CommandPipelineTest, CommandBundle}

// Command is a request of the hub for the edge to run.
type Command struct {
	ID   string          `json:"id"`
	Kind string          `json:"kind"`
	Args json.RawMessage `json:"args,omitempty"`
}

// CommandArgs are the arguments of the kinds that take some.
type CommandArgs struct {
	Input string `json:"input,omitempty"` // restart-input: the input's name (inputs.<name>, or its place inputs[i])
	Spec  string `json:"spec,omitempty"`  // pipeline-test: a pipeline file (YAML or JSON)
}

// Commands is the hub's answer to a long poll (GET /api/v1/edge/commands):
// the commands waiting for the edge, and whether its manifest is no longer
// the one whose ETag the edge sent (it should fetch it now).
type Commands struct {
	Commands        []Command `json:"commands"`
	ManifestChanged bool      `json:"manifest_changed,omitempty"`
}

// CommandResult is what the edge answers to a command (POST
// /api/v1/edge/commands/{command}/result): Output (JSON, the kind's own
// form) or Error, and for a bundle its bytes.
type CommandResult struct {
	Error  string          `json:"error,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	Bundle []byte          `json:"bundle,omitempty"` // base64 in JSON
}

// MaxCommandWait is the longest a long poll is held by the hub.
const MaxCommandWait = 60 * time.Second

// MaxResultBytes bounds a command's result as the edge posts it (the
// bundle's limit and its base64).
const MaxResultBytes = 8 << 20

// PollCommands long-polls the hub for commands: the hub answers at once
// when a command waits or the manifest is not the one of etag, else after
// wait. The client's HTTP timeouts must allow for wait.
func (c *Client) PollCommands(ctx context.Context, wait time.Duration, etag string) (Commands, error) {
	u := c.base() + "/api/v1/edge/commands?wait=" + url.QueryEscape(wait.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Commands{}, fmt.Errorf("commands request: %w", err)
	}
	c.authorize(req, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	var out Commands
	if err := c.do(req, &out); err != nil {
		return Commands{}, fmt.Errorf("poll commands: %w", err)
	}
	return out, nil
}

// PostResult sends the result of command id.
func (c *Client) PostResult(ctx context.Context, id string, res CommandResult) error {
	if err := c.post(ctx, "/api/v1/edge/commands/"+url.PathEscape(id)+"/result", res); err != nil {
		return fmt.Errorf("post result of %s: %w", id, err)
	}
	return nil
}
