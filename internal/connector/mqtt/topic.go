package mqtt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/molen-io/molen/internal/uns"
)

// maxLevel bounds n in a path's {n}: topics deeper than this are not
// mapped level by level.
const maxLevel = 64

// parseFilter checks an MQTT topic filter (MQTT 3.1.1, 4.7) and returns the
// part topics are matched against: the filter without a $share/<group>/
// prefix.
func parseFilter(f string) (string, error) {
	if f == "" {
		return "", errors.New("required")
	}
	if len(f) > 65535 || strings.ContainsRune(f, 0) {
		return "", errors.New("must be at most 65535 bytes without NUL")
	}
	m := f
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		group, filter, ok := strings.Cut(rest, "/")
		if !ok || group == "" || filter == "" || strings.ContainsAny(group, "+#") {
			return "", fmt.Errorf("%q: want $share/<group>/<filter>", f)
		}
		m = filter
	}
	levels := strings.Split(m, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return "", fmt.Errorf("%q: # must be the last level", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return "", fmt.Errorf("%q: + and # must stand alone in a level", f)
		}
	}
	return m, nil
}

// matchTopic reports whether topic matches filter (as returned by
// parseFilter). Wildcards in the first level do not match topics starting
// with '$' (MQTT 3.1.1, 4.7.2).
func matchTopic(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" matches "a" too: # includes the parent level.
			return fmore == tmore || !tmore && frest == "#"
		}
		filter, topic = frest, trest
	}
}

// template maps a topic onto a UNS path. The zero template is the identity.
type template struct {
	parts []part
}

// part is a literal (level 0) or topic level n, or levels n.. if rest.
type part struct {
	lit   string
	level int
	rest  bool
}

// parseTemplate parses a path template for topics matching filter: literal
// text with {n} (topic level n, from 1) and {n+} (levels n to the end
// joined by '/'). Empty is the identity. It checks that every level it
// names can exist in a matching topic and that the literal text is valid in
// a UNS path.
func parseTemplate(s, filter string) (template, error) {
	levels := strings.Split(filter, "/")
	open := levels[len(levels)-1] == "#"
	fixed := len(levels) // levels every matching topic has
	if open {
		fixed--
	}
	if s == "" {
		// The identity: the filter's literal levels must already be
		// valid path segments, or no message could ever be mapped.
		probe := strings.NewReplacer("+", "x", "#", "x").Replace(filter)
		if err := uns.ValidatePrefix(probe); err != nil {
			return template{}, fmt.Errorf("the topic is the path by default, and %v; set a path template", err)
		}
		return template{}, nil
	}
	var t template
	var probe strings.Builder // s with every placeholder replaced by "x"
	for rest := s; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, part{lit: rest})
			probe.WriteString(rest)
			break
		}
		if rest[i] == '}' {
			return template{}, fmt.Errorf("%q: } without {", s)
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
			probe.WriteString(rest[:i])
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return template{}, fmt.Errorf("%q: { without }", s)
		}
		ref := rest[i+1 : i+j]
		p := part{}
		ref, p.rest = strings.CutSuffix(ref, "+")
		n, err := strconv.Atoi(ref)
		if err != nil || n < 1 || n > maxLevel || ref[0] == '0' || ref[0] == '+' {
			return template{}, fmt.Errorf("%q: {%s}: want {n} or {n+} with n 1..%d, a topic level", s, rest[i+1:i+j], maxLevel)
		}
		if !open && n > fixed {
			return template{}, fmt.Errorf("%q: {%s}: topics matching %q have %d levels", s, rest[i+1:i+j], filter, fixed)
		}
		p.level = n
		t.parts = append(t.parts, p)
		probe.WriteString("x")
		rest = rest[i+j+1:]
	}
	if err := uns.ValidatePrefix(probe.String()); err != nil || strings.HasSuffix(s, "/") {
		if err == nil {
			err = errors.New("ends with /")
		}
		return template{}, fmt.Errorf("%q: %v", s, err)
	}
	return t, nil
}

// apply maps topic onto a path. The result is not validated: uns.Decode
// does that. It fails only if the template names a level the topic lacks.
func (t template) apply(topic string) (string, error) {
	if t.parts == nil {
		return topic, nil
	}
	var levels []string
	var b strings.Builder
	for _, p := range t.parts {
		if p.level == 0 {
			b.WriteString(p.lit)
			continue
		}
		if levels == nil {
			levels = strings.SplitN(topic, "/", maxLevel+1)
		}
		if p.level > len(levels) {
			return "", fmt.Errorf("topic %.64q has %d levels, the path uses level %d", topic, strings.Count(topic, "/")+1, p.level)
		}
		if p.rest {
			// The levels from p.level on, unsplit past maxLevel.
			b.WriteString(strings.Join(levels[p.level-1:], "/"))
		} else {
			b.WriteString(levels[p.level-1])
		}
		if b.Len() > uns.MaxPathLen {
			return "", fmt.Errorf("topic %.64q maps onto a path longer than %d bytes", topic, uns.MaxPathLen)
		}
	}
	return b.String(), nil
}
