package operator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// number returns v as a float64 for numeric operators: floats and ints as
// they are, bools as 0 or 1. A string (or invalid) value is WrongType, a
// NaN or ±Inf NonFinite.
func number(v uns.Value) (float64, pipeline.Reason, bool) {
	f, ok := v.AsFloat()
	if !ok {
		return 0, pipeline.WrongType, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, pipeline.NonFinite, false
	}
	return f, 0, true
}

// OnError says what filter and map do with a point whose expression fails
// at run time, uses a value of the wrong type or computes NaN or ±Inf: the
// point is counted either way.
type OnError string

// The OnError policies.
const (
	OnErrorDrop OnError = "drop" // drop the point (the default)
	OnErrorPass OnError = "pass" // pass the point on unchanged
)

func (o OnError) validate() error {
	switch o {
	case OnErrorDrop, OnErrorPass:
		return nil
	}
	return fmt.Errorf("on_error: %q: want drop or pass", string(o))
}

// A template names output series. It is text with placeholders:
//
//	{series}  the input series           acme/hall1/line1/press/temp
//	{asset}   the series without its tag acme/hall1/line1/press
//	{tag}     the last segment           temp
//	{1}…{16}  the n-th segment           {2} is hall1
//
// and, where an operator says so, its own ({agg}, {window}, {mode}).
type template struct {
	src   string
	parts []tpart
}

type tpart struct {
	lit   string
	field string // "" for a literal
	seg   int    // for {n}
}

// parseTemplate parses src; extra lists the operator's own placeholders.
func parseTemplate(src string, extra ...string) (template, error) {
	t := template{src: src}
	rest := src
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, tpart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tpart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return t, fmt.Errorf("%q: unclosed '{'", src)
		}
		name := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		switch name {
		case "series", "asset", "tag":
			t.parts = append(t.parts, tpart{field: name})
			continue
		}
		if n, err := strconv.Atoi(name); err == nil {
			if n < 1 || n > uns.MaxPathSegments {
				return t, fmt.Errorf("%q: segment {%d} out of 1..%d", src, n, uns.MaxPathSegments)
			}
			t.parts = append(t.parts, tpart{field: "seg", seg: n})
			continue
		}
		found := false
		for _, e := range extra {
			found = found || e == name
		}
		if !found {
			want := append([]string{"series", "asset", "tag", "1…16"}, extra...)
			return t, fmt.Errorf("%q: unknown placeholder {%s} (want one of {%s})", src, name, strings.Join(want, "}, {"))
		}
		t.parts = append(t.parts, tpart{field: name})
	}
	if strings.Contains(src, "}") && strings.Count(src, "{") != strings.Count(src, "}") {
		return t, fmt.Errorf("%q: unbalanced '}'", src)
	}
	if len(t.parts) == 0 {
		return t, fmt.Errorf("empty name template")
	}
	return t, nil
}

// expand returns the series named by t for input series s, with vals for
// the operator's own placeholders (name, value pairs). It allocates: callers
// cache the result per series. ok is false if the result is not a valid UNS
// path (e.g. {3} of a two-segment series).
func (t template) expand(s string, vals ...string) (string, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "series":
			b.WriteString(s)
		case "asset":
			b.WriteString(uns.Asset(s))
		case "tag":
			b.WriteString(uns.Tag(s))
		case "seg":
			segs := strings.Split(s, "/")
			if p.seg > len(segs) {
				return "", false
			}
			b.WriteString(segs[p.seg-1])
		default:
			for i := 0; i+1 < len(vals); i += 2 {
				if vals[i] == p.field {
					b.WriteString(vals[i+1])
				}
			}
		}
	}
	out := b.String()
	return out, uns.ValidatePath(out) == nil
}

// maxCached bounds the per-operator caches of names and series state
// entries that are cheap to recompute; past it a cache starts afresh.
const maxCached = 1 << 16

// nameCache remembers the output name of each input series.
type nameCache struct {
	t     template
	vals  []string
	names map[string]string // "" for an invalid result
}

func newNameCache(t template, vals ...string) *nameCache {
	return &nameCache{t: t, vals: vals, names: map[string]string{}}
}

// name returns the output series for s; ok is false if it is not a valid path.
func (c *nameCache) name(s string) (string, bool) {
	if n, hit := c.names[s]; hit {
		return n, n != ""
	}
	n, ok := c.t.expand(s, c.vals...)
	if !ok {
		n = ""
	}
	if len(c.names) >= maxCached {
		clear(c.names)
	}
	c.names[s] = n
	return n, ok
}

// shortDuration formats d for series names: 10s, 1m, 1h30m, 500ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// positive checks a duration that must be > 0.
func positive(field string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s: must be > 0", field)
	}
	return nil
}

// nonNegative checks a duration that must be ≥ 0.
func nonNegative(field string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: must be ≥ 0", field)
	}
	return nil
}
