package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/api"
)

// Routes are the domain's: the caller's organisation's log, its export and
// its verification, for its admins.
func (l *Log) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/audit", Auth: api.Admin, Area: "audit", Handle: l.list},
		{Method: "GET", Path: "/api/v1/audit/export", Auth: api.Admin, Area: "audit", Stream: l.export},
		{Method: "GET", Path: "/api/v1/audit/verify", Auth: api.Admin, Area: "audit", Handle: l.verify},
	}
}

func (l *Log) list(r *http.Request, p api.Principal) (any, error) {
	qv := r.URL.Query()
	q := Query{Action: qv.Get("action"), Actor: qv.Get("actor")}
	now := l.now()
	for _, t := range []struct {
		name string
		out  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := qv.Get(t.name); s != "" {
			ns, err := api.ParseTime(t.name, s, now)
			if err != nil {
				return nil, err
			}
			*t.out = time.Unix(0, ns)
		}
	}
	if s := qv.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, api.BadRequest("before=%q: want a positive entry number", s)
		}
		q.Before = n
	}
	var err error
	if q.Limit, err = api.Limit("limit", qv.Get("limit"), 100, 1000); err != nil {
		return nil, err
	}
	entries, err := l.List(r.Context(), p.Org, q)
	if err != nil {
		return nil, err
	}
	if entries == nil {
		entries = []Entry{}
	}
	return map[string]any{"entries": entries}, nil
}

// export streams the whole log of the caller's organisation as JSON lines
// in chain order, hashes included, so that it can be kept and verified
// elsewhere.
func (l *Log) export(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.jsonl"`)
	enc := json.NewEncoder(w)
	return l.Each(r.Context(), p.Org, func(e Entry) error { return enc.Encode(e) })
}

func (l *Log) verify(r *http.Request, p api.Principal) (any, error) {
	return l.Verify(r.Context(), p.Org)
}

// AuditRequest implements api.Auditor: a change is recorded in the
// caller's organisation's log; a request of a person acting for a company
// in the company's log and in the log of the person's own organisation;
// a read under a grant in the log of the organisation that granted it.
// An entry that cannot be recorded is logged.
func (l *Log) AuditRequest(ctx context.Context, rec api.RequestRecord) {
	p := rec.Principal
	actor := p.User
	if actor == "" {
		actor = p.Token
	}
	detail := map[string]string{"method": rec.Method, "route": rec.Pattern, "status": strconv.Itoa(rec.Status)}
	if p.Token != "" && p.User != "" {
		detail["token"] = p.Token
	}
	var entries []Entry
	if !api.ReadOnly(rec.Method) || p.Via != "" {
		e := Entry{Org: p.Org, Actor: actor, Action: "request", Target: rec.Path, Detail: detail, Addr: rec.Addr}
		if p.Via != "" {
			e.ActorOrg, e.Action = p.Via, "delegated.request"
			detail["delegation"] = p.Delegation
			mirror := e
			mirror.Org, mirror.ActorOrg = p.Via, ""
			mirror.Detail = map[string]string{"for": p.Org}
			for k, v := range detail {
				mirror.Detail[k] = v
			}
			entries = append(entries, mirror)
		}
		entries = append(entries, e)
	}
	for _, u := range rec.Uses {
		entries = append(entries, Entry{Org: u.Grant.Org, Actor: actor, ActorOrg: p.Org, Action: "data.read", Target: u.Path,
			Detail: map[string]string{"grant": u.Grant.ID, "kind": string(u.Grant.Kind), "route": rec.Pattern}, Addr: rec.Addr})
	}
	for _, e := range entries {
		if _, err := l.Record(ctx, e); err != nil {
			l.log.Error("audit entry not recorded", "org", e.Org, "action", e.Action, "target", e.Target, "err", err)
		}
	}
}

// RequestEntry is the entry of a change that p made by the request r, for
// domains that record their own (api.Route.SelfAudited): the actor is the
// person, or else the token.
func RequestEntry(r *http.Request, p api.Principal, action, target string, detail map[string]string) Entry {
	actor := p.User
	if actor == "" {
		actor = p.Token
	}
	return Entry{Org: p.Org, Actor: actor, ActorOrg: p.Via, Action: action, Target: target, Detail: detail, Addr: api.ClientAddr(r)}
}
