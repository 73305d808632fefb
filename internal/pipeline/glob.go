package pipeline

import (
	"fmt"
	"strings"

	"github.com/molen-io/molen/internal/uns"
)

// A Glob selects series by UNS path, the way MQTT topic filters do: '+'
// stands for exactly one segment and '#', only as the last segment, for
// any number of segments including none ("a/#" matches "a", "a/b" and
// "a/b/c"). Every other segment matches itself.
type Glob struct {
	src  string
	segs []string
}

// ParseGlob checks and parses a glob.
func ParseGlob(s string) (Glob, error) {
	if s == "" {
		return Glob{}, fmt.Errorf("empty glob")
	}
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		switch seg {
		case "+":
		case "#":
			if i != len(segs)-1 {
				return Glob{}, fmt.Errorf("glob %q: '#' must be the last segment", s)
			}
		default:
			if strings.ContainsAny(seg, "+#") {
				return Glob{}, fmt.Errorf("glob %q: a wildcard must be a whole segment", s)
			}
			if err := uns.ValidatePrefix(seg); err != nil || seg == "" {
				return Glob{}, fmt.Errorf("glob %q: segment %d %q is not a valid UNS segment", s, i+1, seg)
			}
		}
	}
	return Glob{src: s, segs: segs}, nil
}

// String returns the glob as written.
func (g Glob) String() string { return g.src }

// Match reports whether series p is selected by g. It does not allocate.
func (g Glob) Match(p string) bool {
	for i, seg := range g.segs {
		if seg == "#" {
			return true
		}
		if p == "" && i > 0 {
			return false
		}
		var cur string
		if j := strings.IndexByte(p, '/'); j >= 0 {
			cur, p = p[:j], p[j+1:]
			if p == "" { // a trailing '/' is not a segment
				return false
			}
		} else {
			cur, p = p, ""
		}
		if seg != "+" && seg != cur {
			return false
		}
		if p == "" && i < len(g.segs)-1 {
			// p is used up: only a following "#" may still match.
			return i == len(g.segs)-2 && g.segs[i+1] == "#"
		}
	}
	return p == ""
}

// Covers reports whether every series h matches is matched by g too.
func (g Glob) Covers(h Glob) bool {
	for i, seg := range g.segs {
		switch {
		case seg == "#":
			return true // the rest, including nothing
		case i >= len(h.segs):
			return false // h may stop where g wants another segment
		case h.segs[i] == "#":
			// h takes any number of segments from here; at the start that
			// is at least one (a series has one), which "+/#" takes too.
			return i == 0 && seg == "+" && len(g.segs) == 2 && g.segs[1] == "#"
		case seg != "+" && seg != h.segs[i]:
			return false // a literal covers only itself
		}
	}
	return len(h.segs) == len(g.segs)
}
