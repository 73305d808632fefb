package vda5050

import (
	"strings"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

// The kinds of the events the input derives.
const (
	KindError            = "agv_error"
	KindConnectionBroken = "connection_broken"
)

// EventSink is connector.EventSink: when the sink given to Run implements
// it, the input writes the events Events derives, after the points of the
// same messages and before acknowledging them. Otherwise the input reports
// errors and connection state as points only.
type EventSink = connector.EventSink

// Snapshot is what the input knows of one vehicle after a message: the
// input to Events.
type Snapshot struct {
	Asset           string  // UNS asset path
	TS              int64   // unix ns of the last state or connection message
	Connection      string  // ONLINE, OFFLINE, CONNECTIONBROKEN; "" before a connection message
	ConnectionSince int64   // unix ns since Connection holds
	Errors          []Error // the errors of the last state message, deduplicated
}

// Error is one entry of a state's errors, with the time it first appeared.
type Error struct {
	Type        string // errorType
	Level       string // WARNING or FATAL
	Description string // errorDescription
	References  string // errorReferences as "key=value" joined by ",", in message order
	Since       int64  // unix ns of the first state that held it (plus its rank among the errors new in that state)
}

// Events derives the events between two consecutive snapshots of one
// vehicle (prev is the zero Snapshot before the first message):
//
//   - agv_error, opened (End 0) when an error appears in a state and closed
//     (End set, same Start) when a later state no longer holds it; its
//     attributes are errorType, errorLevel and description (cut to
//     uns.MaxAttrLen bytes);
//   - connection_broken, opened when the connection topic says
//     CONNECTIONBROKEN and closed when it says ONLINE or OFFLINE again.
//
// An error that stays in consecutive states gives no event: it is still
// open. Events is pure; the events pass uns.ValidateEvent when the assets
// are valid paths.
func Events(prev, cur Snapshot) []uns.Event {
	var evs []uns.Event
	if !sameErrors(prev.Errors, cur.Errors) {
		for _, e := range cur.Errors {
			if !holds(prev.Errors, e) {
				evs = append(evs, errorEvent(cur.Asset, e, 0))
			}
		}
		for _, e := range prev.Errors {
			if !holds(cur.Errors, e) {
				evs = append(evs, errorEvent(cur.Asset, e, max(cur.TS, e.Since)))
			}
		}
	}
	wasBroken, isBroken := prev.Connection == ConnectionBroken, cur.Connection == ConnectionBroken
	switch {
	case isBroken && !wasBroken:
		evs = append(evs, uns.Event{Asset: cur.Asset, Kind: KindConnectionBroken, Start: cur.ConnectionSince})
	case wasBroken && cur.Connection != "" && !isBroken:
		evs = append(evs, uns.Event{
			Asset: cur.Asset, Kind: KindConnectionBroken,
			Start: prev.ConnectionSince, End: max(cur.ConnectionSince, prev.ConnectionSince),
			Attrs: map[string]string{"connectionState": cur.Connection},
		})
	}
	return evs
}

func errorEvent(asset string, e Error, end int64) uns.Event {
	return uns.Event{
		Asset: asset, Kind: KindError, Start: e.Since, End: end,
		Attrs: map[string]string{
			"errorType":   uns.CutAttr(e.Type),
			"errorLevel":  e.Level,
			"description": uns.CutAttr(e.Description),
		},
	}
}

// sameErrors is the common case, checked without building keys: the same
// errors in the same order.
func sameErrors(a, b []Error) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Level != b[i].Level || a[i].References != b[i].References {
			return false
		}
	}
	return true
}

func holds(errs []Error, e Error) bool { return index(errs, e) >= 0 }

// index returns the place of e in errs by identity (type, level and
// references: a change of level, WARNING to FATAL, is a new error), or -1.
func index(errs []Error, e Error) int {
	for i, x := range errs {
		if x.Type == e.Type && x.Level == e.Level && x.References == e.References {
			return i
		}
	}
	return -1
}

// nextErrors returns the errors of a state at ts, deduplicated, each with
// the Since of the same error in prev, or ts plus its rank among the new
// ones (so that errors new in one state have distinct times), and how many
// are new.
func nextErrors(prev []Error, msg []vdaError, ts int64) (errs []Error, added int) {
	if len(msg) == 0 {
		return nil, 0
	}
	errs = make([]Error, 0, len(msg))
	for _, m := range msg {
		e := Error{Type: m.ErrorType, Level: m.ErrorLevel, Description: m.ErrorDescription}
		if len(m.ErrorReferences) > 0 {
			var b strings.Builder
			for i, r := range m.ErrorReferences {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(r.ReferenceKey)
				b.WriteByte('=')
				b.WriteString(r.ReferenceValue)
			}
			e.References = b.String()
		}
		if index(errs, e) >= 0 {
			continue
		}
		if i := index(prev, e); i >= 0 {
			e.Since = prev[i].Since
		} else {
			e.Since = ts + int64(added)
			added++
		}
		errs = append(errs, e)
	}
	return errs, added
}
