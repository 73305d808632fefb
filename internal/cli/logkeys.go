package cli

import (
	"context"
	"log/slog"
	"slices"
)

// uniqueKeys is a slog.Handler that gives the handler it wraps (the JSON
// one) each record with every key once per object: slog itself writes a
// key twice when an attribute of log.With and one of the record share it
// ({"edge":"a","edge":"b"}), which strict JSON readers refuse and others
// read as either value. Here the later attribute wins, in the place of
// the first, so a record's own value replaces what With attached; a group
// given twice is merged. An attribute named like one of slog's own keys
// (time, level, msg, source) becomes attr_<key>.
//
// It keeps the attributes of With and the open groups itself, so the
// wrapped handler sees whole records only; logs are low-rate (high-rate
// conditions are metrics), so rebuilding each record costs nothing that
// matters.
type uniqueKeys struct {
	h     slog.Handler
	attrs []slog.Attr // of With, nested in the groups open when they came
	path  []string    // the open groups
}

func newUniqueKeys(h slog.Handler) slog.Handler { return &uniqueKeys{h: h} }

func (u *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.h.Enabled(ctx, l) }

func (u *uniqueKeys) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return u
	}
	return &uniqueKeys{h: u.h, attrs: insert(slices.Clone(u.attrs), u.path, as), path: u.path}
}

func (u *uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	return &uniqueKeys{h: u.h, attrs: u.attrs, path: append(slices.Clip(u.path), name)}
}

func (u *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	var own []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		own = append(own, a)
		return true
	})
	all := unique(insert(slices.Clone(u.attrs), u.path, own))
	for i, a := range all {
		switch a.Key {
		case slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey:
			all[i].Key = "attr_" + a.Key
		}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(all...)
	return u.h.Handle(ctx, out)
}

// insert adds as to attrs inside the groups of path, making them where
// missing.
func insert(attrs []slog.Attr, path []string, as []slog.Attr) []slog.Attr {
	if len(path) == 0 {
		return append(attrs, as...)
	}
	inner := insert(nil, path[1:], as)
	return append(attrs, slog.Attr{Key: path[0], Value: slog.GroupValue(inner...)})
}

// unique resolves the attributes' values and keeps each key once: the
// last value in the first one's place; groups of one key are merged, and
// a group without a key is inlined (as slog does).
func unique(attrs []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, 0, len(attrs))
	at := make(map[string]int, len(attrs))
	var add func(a slog.Attr)
	add = func(a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Value.Kind() == slog.KindGroup && a.Key == "" {
			for _, g := range a.Value.Group() {
				add(g)
			}
			return
		}
		if a.Equal(slog.Attr{}) {
			return
		}
		i, seen := at[a.Key]
		if !seen {
			at[a.Key] = len(out)
			out = append(out, a)
			return
		}
		if prev := out[i]; prev.Value.Kind() == slog.KindGroup && a.Value.Kind() == slog.KindGroup {
			a.Value = slog.GroupValue(append(slices.Clone(prev.Value.Group()), a.Value.Group()...)...)
		}
		out[i] = a
	}
	for _, a := range attrs {
		add(a)
	}
	for i, a := range out {
		if a.Value.Kind() == slog.KindGroup {
			out[i].Value = slog.GroupValue(unique(a.Value.Group())...)
		}
	}
	return out
}
