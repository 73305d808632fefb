package factory

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/uns"
)

// Routes are the domain's: reasons (members read them, admins set them),
// reason assignment and alarm notes (engineers), the alarm list (members).
// Each records its own audit entry.
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/reasons", Auth: api.Viewer, Area: "factory", Handle: s.getReasons},
		{Method: "PUT", Path: "/api/v1/reasons", Auth: api.Admin, Area: "factory", Handle: s.putReasons, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/events/reason", Auth: api.Engineer, Area: "factory", Handle: s.assignReason, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/alarms", Auth: api.Viewer, Area: "factory", Handle: s.alarms},
		{Method: "POST", Path: "/api/v1/alarms/ack", Auth: api.Engineer, Area: "factory", Handle: s.ack, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/alarms/comment", Auth: api.Engineer, Area: "factory", Handle: s.comment, SelfAudited: true},
	}
}

func decodeBody(r *http.Request, v any, shape string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.BadRequest("body: %v; want %s", err, shape)
	}
	return nil
}

func (s *Service) getReasons(r *http.Request, p api.Principal) (any, error) {
	rs, err := s.Reasons(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"reasons": rs}, nil
}

func (s *Service) putReasons(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Reasons []Reason `json:"reasons"`
	}
	if err := decodeBody(r, &req, `{"reasons": [{"code", "label": {"en", "nl"}, "planned"}]}`); err != nil {
		return nil, err
	}
	codes := make([]string, len(req.Reasons))
	for i, rs := range req.Reasons {
		codes[i] = rs.Code
	}
	e := audit.RequestEntry(r, p, "reasons.set", "", map[string]string{"codes": strings.Join(codes, ",")})
	if err := s.SetReasons(r.Context(), p.Org, req.Reasons, e); err != nil {
		return nil, err
	}
	return map[string]any{"reasons": req.Reasons}, nil
}

// eventRef is how a request names an event: its asset, kind and start.
type eventRef struct {
	Asset string `json:"asset"`
	Kind  string `json:"kind"`
	Start string `json:"start"` // RFC 3339; see find
}

// find returns the stored event of org that ref names. A start with no
// digits below the millisecond (as GET /api/v1/events gives it) names the
// event starting in that millisecond; one with finer digits names that
// instant.
func (s *Service) find(r *http.Request, org string, ref eventRef, kinds ...string) (uns.Event, error) {
	if err := uns.ValidateEvent(uns.Event{Asset: ref.Asset, Kind: cmp.Or(ref.Kind, "x")}); err != nil || ref.Asset == "" {
		return uns.Event{}, api.BadRequest("asset and kind: want an asset path and an event kind")
	}
	if len(kinds) > 0 && !slices.Contains(kinds, ref.Kind) {
		return uns.Event{}, api.BadRequest("kind %q: want %s", ref.Kind, strings.Join(kinds, " or "))
	}
	t, err := time.Parse(time.RFC3339Nano, ref.Start)
	if err != nil {
		return uns.Event{}, api.BadRequest("start %q: want an RFC 3339 time", ref.Start)
	}
	from := t.UnixNano()
	to := from + 1
	if from%int64(time.Millisecond) == 0 {
		to = from + int64(time.Millisecond)
	}
	asset := strings.TrimSuffix(ref.Asset, "/")
	evs, err := s.st.Events(r.Context(), org, storeQuery(asset, ref.Kind, from, to))
	if err != nil {
		return uns.Event{}, err
	}
	for _, e := range slices.Backward(evs) { // oldest start first
		if e.Asset == asset && e.Start >= from && e.Start < to {
			return e, nil
		}
	}
	return uns.Event{}, fmt.Errorf("event %s %s at %s: %w", asset, ref.Kind, ref.Start, meta.ErrNotFound)
}

func (s *Service) assignReason(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		eventRef
		Reason  string `json:"reason"`
		Comment string `json:"comment"`
	}
	if err := decodeBody(r, &req, `{"asset", "kind", "start", "reason", "comment"}`); err != nil {
		return nil, err
	}
	if len(req.Comment) > MaxComment || meta.CheckText(req.Comment) != nil {
		return nil, api.BadRequest("comment: want at most %d bytes of text", MaxComment)
	}
	rs, err := s.Reasons(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(rs, func(x Reason) bool { return x.Code == req.Reason }) {
		return nil, api.BadRequest("reason %q: not one of the organisation's reasons (GET /api/v1/reasons)", req.Reason)
	}
	e, err := s.find(r, p.Org, req.eventRef)
	if err != nil {
		return nil, err
	}
	by := audit.RequestEntry(r, p, "", "", nil).Actor
	set := map[string]string{"reason": req.Reason, "reason_comment": req.Comment, "reason_by": by}
	got, err := s.st.SetEventAttrs(r.Context(), p.Org, e.Asset, e.Kind, e.Start, set)
	if err != nil {
		return nil, err
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("event %s %s: %w", e.Asset, e.Kind, meta.ErrNotFound)
	}
	// A downtime is a state interval too, with the same start: the reason
	// goes on both, so that the Pareto by reason (of downtimes) shows it
	// whichever of them a person picked.
	if e.Kind == "state" {
		if _, err := s.st.SetEventAttrs(r.Context(), p.Org, e.Asset, "downtime", e.Start, set); err != nil {
			return nil, err
		}
	}
	detail := map[string]string{"kind": e.Kind, "start": time.Unix(0, e.Start).UTC().Format(time.RFC3339Nano), "reason": req.Reason}
	if _, err := s.audit.Record(r.Context(), audit.RequestEntry(r, p, "event.reason_set", e.Asset, detail)); err != nil {
		return nil, err
	}
	return series.Event(got[0]), nil
}
