package fleet

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/uplink"
)

// commandRoutes are remote diagnostics: engineers send commands to an
// edge and read their results (each command audited with its caller);
// the edge long-polls for them and posts their results.
func (s *Service) commandRoutes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/edge/commands", Auth: api.Edge, Handle: s.edgePoll},
		{Method: "POST", Path: "/api/v1/edge/commands/{command}/result", Auth: api.Edge, Handle: s.edgeResult, MaxBody: uplink.MaxResultBytes},
		{Method: "GET", Path: "/api/v1/fleet/edges/{edge}/commands", Auth: api.Engineer, Area: "fleet", Handle: s.listCommands},
		{Method: "POST", Path: "/api/v1/fleet/edges/{edge}/commands", Auth: api.Engineer, Area: "fleet", Handle: s.postCommand, SelfAudited: true, MaxBody: 256 << 10},
		{Method: "GET", Path: "/api/v1/fleet/edges/{edge}/commands/{command}", Auth: api.Engineer, Area: "fleet", Handle: s.getCommand},
		{Method: "GET", Path: "/api/v1/fleet/edges/{edge}/commands/{command}/bundle", Auth: api.Engineer, Area: "fleet", Stream: s.downloadBundle},
	}
}

// waitParam reads ?wait= (a duration, or seconds): 0 when absent, at
// most uplink.MaxCommandWait.
func waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil || n < 0 {
			return 0, api.BadRequest("wait: %q: want a duration such as 30s", v)
		}
		d = time.Duration(n) * time.Second
	}
	return min(max(d, 0), uplink.MaxCommandWait), nil
}

func (s *Service) edgePoll(r *http.Request, p api.Principal) (any, error) {
	wait, err := waitParam(r)
	if err != nil {
		return nil, err
	}
	return s.pollCommands(r.Context(), p.Org, p.Edge, r.Header.Get("If-None-Match"), wait)
}

func (s *Service) edgeResult(r *http.Request, p api.Principal) (any, error) {
	var res uplink.CommandResult
	if err := api.ReadJSON(r, &res, `body must be {"output": <JSON>, "error": "<why it failed>", "bundle": "<base64>"}`); err != nil {
		return nil, err
	}
	if err := s.StoreResult(r.Context(), p.Org, p.Edge, r.PathValue("command"), res); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

func (s *Service) listCommands(r *http.Request, p api.Principal) (any, error) {
	cs, err := s.Commands(r.Context(), p.Org, r.PathValue("edge"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"commands": cs}, nil
}

func (s *Service) postCommand(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Kind string          `json:"kind"`
		Args json.RawMessage `json:"args"`
	}
	if err := api.ReadJSON(r, &req, `body must be {"kind": "status|logs|restart-input|pipeline-test|bundle", "args": {...}} (docs/fleet.md#diagnostics)`); err != nil {
		return nil, err
	}
	edge := r.PathValue("edge")
	c, err := s.CreateCommand(r.Context(), p.Org, edge, p.Actor(), req.Kind, req.Args)
	if err != nil {
		return nil, err
	}
	detail := map[string]string{"kind": c.Kind, "command": c.ID}
	var a uplink.CommandArgs
	if json.Unmarshal(c.Args, &a) == nil && a.Input != "" {
		detail["input"] = a.Input
	}
	s.record(r.Context(), audit.Entry{Org: p.Org, Actor: p.Actor(), ActorOrg: p.Via, Action: "edge.command", Target: edge, Detail: detail, Addr: api.ClientAddr(r)})
	return api.Created(c), nil
}

func (s *Service) getCommand(r *http.Request, p api.Principal) (any, error) {
	wait, err := waitParam(r)
	if err != nil {
		return nil, err
	}
	return s.WaitCommand(r.Context(), p.Org, r.PathValue("edge"), r.PathValue("command"), wait)
}

// downloadBundle answers a command's support bundle as a tar.gz file,
// and records the download in the audit log.
func (s *Service) downloadBundle(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	edge := r.PathValue("edge")
	c, data, err := s.Bundle(r.Context(), p.Org, edge, r.PathValue("command"))
	if err != nil {
		return err
	}
	s.record(r.Context(), audit.Entry{Org: p.Org, Actor: p.Actor(), ActorOrg: p.Via, Action: "edge.bundle.downloaded", Target: edge,
		Detail: map[string]string{"command": c.ID, "bytes": strconv.Itoa(len(data))}, Addr: api.ClientAddr(r)})
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="molen-`+edge+`-`+c.ID+`.tar.gz"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, err = w.Write(data)
	return err
}
