package factory

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// AlarmKinds are the kinds of events the alarm list shows.
var AlarmKinds = []string{"alarm", "anomaly"}

func storeQuery(asset, kind string, from, to int64) store.EventQuery {
	return store.EventQuery{AssetPrefix: asset, Kind: kind, From: from, To: to}
}

type noteJSON struct {
	By   string `json:"by"`
	At   string `json:"at"`
	Text string `json:"text"`
}

type alarmJSON struct {
	Asset    string            `json:"asset"`
	Kind     string            `json:"kind"`
	Start    string            `json:"start"`
	End      string            `json:"end"` // "" while open
	Attrs    map[string]string `json:"attrs"`
	Acked    bool              `json:"acked"`
	AckedBy  string            `json:"acked_by"`
	AckedAt  string            `json:"acked_at"`
	Comments []noteJSON        `json:"comments"`
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func (s *Service) alarms(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	state := cmp.Or(q.Get("state"), "all")
	if state != "open" && state != "acked" && state != "all" {
		return nil, api.BadRequest("state=%q: want open, acked or all", state)
	}
	eq := store.EventQuery{AssetPrefix: q.Get("prefix")}
	if err := uns.ValidatePrefix(eq.AssetPrefix); err != nil {
		return nil, api.BadRequest("prefix: %v", err)
	}
	var err error
	if eq.From, eq.To, err = api.Range(q, s.now()); err != nil {
		return nil, err
	}
	if eq.Limit, err = api.Limit("limit", q.Get("limit"), 1000, series.MaxEventsLimit); err != nil {
		return nil, err
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataSeries, eq.AssetPrefix)
	if err != nil {
		return nil, err
	}
	eq.AssetPrefix = prefix
	evs := []alarmJSON{}
	var lo, hi int64
	for _, kind := range AlarmKinds {
		eq.Kind = kind
		got, err := s.st.Events(r.Context(), org, eq)
		if err != nil {
			return nil, err
		}
		for _, e := range got {
			a := alarmJSON{Asset: e.Asset, Kind: e.Kind, Start: rfc3339(e.Start), Attrs: e.Attrs, Comments: []noteJSON{}}
			if e.End != 0 {
				a.End = rfc3339(e.End)
			}
			if a.Attrs == nil {
				a.Attrs = map[string]string{}
			}
			if len(evs) == 0 || e.Start < lo {
				lo = e.Start
			}
			hi = max(hi, e.Start)
			evs = append(evs, a)
		}
	}
	notes, err := s.notes(r.Context(), org, lo, hi)
	if err != nil {
		return nil, err
	}
	out := evs[:0]
	for _, a := range evs {
		start, _ := time.Parse(time.RFC3339Nano, a.Start)
		for _, n := range notes[noteKey{a.Asset, a.Kind, start.UnixNano()}] {
			if n.Ack && !a.Acked {
				a.Acked, a.AckedBy, a.AckedAt = true, n.Actor, rfc3339(meta.Nanos(n.At))
			}
			if n.Text != "" {
				a.Comments = append(a.Comments, noteJSON{By: n.Actor, At: rfc3339(meta.Nanos(n.At)), Text: n.Text})
			}
		}
		if state == "all" || (state == "acked") == a.Acked {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b alarmJSON) int { return cmp.Compare(b.Start, a.Start) })
	truncated := len(out) > eq.Limit
	if truncated {
		out = out[:eq.Limit]
	}
	return map[string]any{"alarms": out, "truncated": truncated}, nil
}

func (s *Service) ack(r *http.Request, p api.Principal) (any, error) { return s.note(r, p, true) }

func (s *Service) comment(r *http.Request, p api.Principal) (any, error) { return s.note(r, p, false) }

// note acknowledges an alarm (with an optional comment) or comments on it.
func (s *Service) note(r *http.Request, p api.Principal, ack bool) (any, error) {
	var req struct {
		eventRef
		Comment string `json:"comment"`
	}
	if err := decodeBody(r, &req, `{"asset", "kind", "start", "comment"}`); err != nil {
		return nil, err
	}
	if len(req.Comment) > MaxComment || meta.CheckText(req.Comment) != nil {
		return nil, api.BadRequest("comment: want at most %d bytes of text", MaxComment)
	}
	if !ack && req.Comment == "" {
		return nil, api.BadRequest("comment: required")
	}
	e, err := s.find(r, p.Org, req.eventRef, AlarmKinds...)
	if err != nil {
		return nil, err
	}
	action := "alarm.commented"
	if ack {
		action = "alarm.acked"
	}
	ent := audit.RequestEntry(r, p, action, e.Asset, map[string]string{"kind": e.Kind, "start": rfc3339(e.Start)})
	n := Note{At: s.now(), Actor: ent.Actor, Ack: ack, Text: req.Comment}
	if err := s.AddNote(r.Context(), p.Org, e.Asset, e.Kind, e.Start, n, ent); err != nil {
		return nil, err
	}
	return map[string]any{"asset": e.Asset, "kind": e.Kind, "start": rfc3339(e.Start), "acked": ack}, nil
}
