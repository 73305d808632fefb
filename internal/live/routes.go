package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/uns"
)

// writeTimeout bounds one write to a stream: a client that takes longer
// to accept a message is dropped.
const writeTimeout = 30 * time.Second

// Routes are the package's: GET /api/v1/live, a stream of new data under a
// prefix.
func (h *Hub) Routes() []api.Route {
	return []api.Route{{Method: "GET", Path: "/api/v1/live", Auth: api.Viewer, Area: "series", Stream: h.serve}}
}

// pointJSON is a point on a live stream.
type pointJSON struct {
	Series string `json:"series"`
	TS     string `json:"ts"` // RFC 3339 with nanoseconds, UTC
	Value  any    `json:"value"`
}

// caller names who opened a stream, for the per-caller bound.
func caller(p api.Principal) string {
	if p.User != "" {
		return "user:" + p.User
	}
	return "token:" + p.Token
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if err := uns.ValidatePrefix(prefix); err != nil {
		return api.BadRequest("prefix: %v", err)
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataSeries, prefix)
	if err != nil {
		return err
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("after")
	}
	if err := h.open(caller(p)); err != nil {
		return &api.LimitError{By: "caller's open live streams", Wait: 5 * time.Second}
	}
	defer h.closed(caller(p))

	// why names the reason of a reset on the first read: a cursor given
	// and no longer held is stale; later, a stream that fell behind.
	why, stale := "behind", false
	var seq uint64
	if last != "" {
		var ok bool
		seq, ok = h.parseCursor(last)
		why, stale = "stale", !ok
	} else {
		seq = h.head()
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's read timeout, which would otherwise
	// end it.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // reverse proxies pass messages on at once
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	send := func() error {
		if buf.Len() == 0 {
			return nil
		}
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	buf.WriteString(": connected\n\n")
	if err := send(); err != nil {
		return err
	}
	keep := time.NewTicker(h.opts.Keepalive)
	defer keep.Stop()
	for {
		msgs, wake, head, reset := h.since(org, seq)
		if reset || stale {
			h.resets.WithLabelValues(why).Inc()
			msgs, seq, stale = nil, head, false
			writeEvent(&buf, h.Cursor(seq), "reset", []byte("{}"))
		}
		for _, m := range msgs {
			seq = m.Seq
			if err := h.encode(&buf, m, prefix); err != nil {
				return err
			}
		}
		why = "behind"
		if err := send(); err != nil {
			return err
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-h.done:
			return nil
		case <-wake:
		case <-keep.C:
			buf.WriteString(": keepalive\n\n")
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// encode appends m to buf as the stream's message, keeping only what lies
// under prefix; nothing when nothing does.
func (h *Hub) encode(buf *bytes.Buffer, m *Message, prefix string) error {
	var event string
	var payload any
	if len(m.Points) > 0 {
		var pts []pointJSON
		for _, pt := range m.Points {
			if uns.HasPrefix(pt.Series, prefix) {
				pts = append(pts, pointJSON{Series: pt.Series, TS: time.Unix(0, pt.TS).UTC().Format(time.RFC3339Nano), Value: pt.Value.Any()})
			}
		}
		if len(pts) == 0 {
			return nil
		}
		event, payload = "points", map[string]any{"points": pts}
	} else {
		var evs []series.EventJSON
		for _, e := range m.Events {
			if uns.HasPrefix(e.Asset, prefix) {
				evs = append(evs, series.Event(e))
			}
		}
		if len(evs) == 0 {
			return nil
		}
		event, payload = "events", map[string]any{"events": evs}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	writeEvent(buf, h.Cursor(m.Seq), event, b)
	return nil
}

// writeEvent appends one Server-Sent Events message; data is one line of
// JSON.
func writeEvent(buf *bytes.Buffer, id, event string, data []byte) {
	buf.WriteString("id: ")
	buf.WriteString(id)
	buf.WriteString("\nevent: ")
	buf.WriteString(event)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}
