package mtconnect

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

// deliver turns one answer's observations into points and events, writes
// them to sink, and only then moves the input on to the answer's
// nextSequence. current marks an answer of the current request: a
// condition it does not list is no longer active.
func (in *Input) deliver(ctx context.Context, sink connector.Sink, hdr header, os []obs, current bool) error {
	pts, evs := in.convert(os, current)
	if len(pts) > 0 {
		if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
			func() error { return sink.Write(ctx, pts) }) {
			return ctx.Err()
		}
		in.status.AddPoints(int64(len(pts)))
	}
	if es, ok := sink.(connector.EventSink); ok && len(evs) > 0 {
		if !in.status.Deliver(ctx, "events", len(evs), in.cfg.BackoffMin, in.cfg.BackoffMax,
			func() error { return es.WriteEvents(ctx, evs) }) {
			return ctx.Err()
		}
	}
	in.next = hdr.NextSequence
	return nil
}

// convert maps the observations of mapped data items onto points and
// condition events, counting what it cannot use.
func (in *Input) convert(os []obs, current bool) ([]uns.Point, []uns.Event) {
	var (
		pts    []uns.Point
		evs    []uns.Event
		listed map[string][]string // current: the condition codes listed per asset
	)
	if current {
		listed = map[string][]string{}
	}
	for _, o := range os {
		it := in.m.lookup(o.DataItemID, o.Name)
		if it == nil {
			continue
		}
		ts, err := parseTime(o.Timestamp)
		if err != nil {
			in.status.Reject(ReasonBadTimestamp, fmt.Sprintf("data item %s (sequence %d): %v", o.DataItemID, o.Sequence, err))
			continue
		}
		if o.cat == condition {
			if current {
				listed[it.path] = append(listed[it.path], o.NativeCode)
			}
			evs = append(evs, in.condition(it, o, ts)...)
			continue
		}
		if o.Value == Unavailable {
			// As the sparkplug input marks a dead metric: its last
			// value again, with quality bad.
			if v, ok := in.last[it.path]; ok {
				pts = append(pts, uns.Point{Series: it.path, TS: ts, Value: v, Quality: uns.Bad})
			}
			continue
		}
		v, err := value(it, o)
		if err != nil {
			in.status.Reject(ReasonBadValue, fmt.Sprintf("data item %s (sequence %d) for %s: %v", o.DataItemID, o.Sequence, it.path, err))
			continue
		}
		in.last[it.path] = v
		pts = append(pts, uns.Point{Series: it.path, TS: ts, Value: v})
	}
	if current {
		// Conditions that cleared while the input was not reading: current
		// lists only the active ones (or Normal).
		for asset, open := range in.open {
			codes, ok := listed[asset]
			if !ok {
				continue
			}
			for _, c := range slices.Clone(open) { // close changes in.open[asset]
				if !slices.Contains(codes, c.code) {
					evs = append(evs, in.close(asset, c.code, c.ev.Start)...)
				}
			}
		}
	}
	return pts, evs
}

// value parses a sample's or event's text as its item's type.
func value(it *item, o obs) (uns.Value, error) {
	typ := it.typ
	if typ == auto {
		typ = typeString
		if o.cat == sample {
			typ = typeFloat
		}
	}
	switch typ {
	case typeFloat:
		f, err := strconv.ParseFloat(o.Value, 64)
		if err != nil {
			return uns.Value{}, fmt.Errorf("%q is not a number", o.Value)
		}
		return uns.Float(f), nil
	case typeInt:
		n, err := strconv.ParseInt(o.Value, 10, 64)
		if err != nil {
			return uns.Value{}, fmt.Errorf("%q is not an integer", o.Value)
		}
		return uns.Int(n), nil
	}
	return uns.String(o.Value), nil
}

// condition updates the open conditions of it's asset with o and returns
// the events that opened or closed: Warning and Fault open one (per
// nativeCode; a change of level closes the old one and opens another),
// Normal closes the one of its nativeCode or, without one, all of them, and
// Unavailable closes all of them.
func (in *Input) condition(it *item, o obs, ts int64) []uns.Event {
	asset := it.path
	switch level := o.XMLName.Local; level {
	case "Warning", "Fault":
		var evs []uns.Event
		lower := strings.ToLower(level)
		for _, c := range in.open[asset] {
			if c.code == o.NativeCode {
				if c.ev.Attrs["level"] == lower {
					return nil // still open
				}
				evs = in.close(asset, c.code, ts)
				break
			}
		}
		// Two conditions of one asset opening at the same time need
		// distinct starts: the start identifies an event.
		start := ts
		for _, c := range in.open[asset] {
			if c.ev.Start >= start {
				start = c.ev.Start + 1
			}
		}
		ev := uns.Event{Asset: asset, Kind: KindCondition, Start: start, Attrs: map[string]string{"level": lower}}
		for k, v := range map[string]string{
			"native_code": o.NativeCode, "native_severity": o.Severity, "qualifier": o.Qualifier,
			"type": o.Type, "message": o.Value, "data_item": o.DataItemID,
		} {
			if v != "" {
				ev.Attrs[k] = uns.CutAttr(v)
			}
		}
		in.open[asset] = append(in.open[asset], cond{code: o.NativeCode, ev: ev})
		return append(evs, ev)
	case "Normal":
		if o.NativeCode != "" {
			return in.close(asset, o.NativeCode, ts)
		}
		return in.closeAll(asset, ts)
	case "Unavailable":
		return in.closeAll(asset, ts)
	default:
		in.status.Reject(ReasonBadValue, fmt.Sprintf("data item %s (sequence %d): condition level %q: want Normal, Warning, Fault or Unavailable", o.DataItemID, o.Sequence, level))
		return nil
	}
}

// close ends the open condition code of asset at ts.
func (in *Input) close(asset, code string, ts int64) []uns.Event {
	open := in.open[asset]
	for i, c := range open {
		if c.code == code {
			in.open[asset] = slices.Delete(open, i, i+1)
			ev := c.ev
			ev.End = max(ts, ev.Start)
			return []uns.Event{ev}
		}
	}
	return nil
}

func (in *Input) closeAll(asset string, ts int64) []uns.Event {
	var evs []uns.Event
	for _, c := range in.open[asset] {
		ev := c.ev
		ev.End = max(ts, ev.Start)
		evs = append(evs, ev)
	}
	delete(in.open, asset)
	return evs
}
