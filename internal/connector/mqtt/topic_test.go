package mqtt

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a//c", true},
		{"a/+", "a/x/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c/d", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"+/+", "a/b", true},
		{"+", "", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
	}
	for _, tt := range tests {
		if got := matchTopic(tt.filter, tt.topic); got != tt.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		filter, path, topic string
		want                string // "" for an error
	}{
		{"a/+/c", "", "a/b/c", "a/b/c"},
		{"plant/+/line1/#", "site/{2}/line-1/{4+}", "plant/hall/line1/press/temp", "site/hall/line-1/press/temp"},
		{"plant/+/line1/#", "site/{2}/{4}", "plant/hall/line1/press/temp", "site/hall/press"},
		{"plant/+/line1/#", "site/{2}/{4}", "plant/hall/line1", ""},
		{"x/#", "s/{1}{2}-{3}", "x/y/z", "s/xy-z"},
		{"x/#", "s/{2+}", "x/y/z/w", "s/y/z/w"},
	}
	for _, tt := range tests {
		tpl, err := parseTemplate(tt.path, tt.filter)
		if err != nil {
			t.Errorf("parseTemplate(%q, %q): %v", tt.path, tt.filter, err)
			continue
		}
		got, err := tpl.apply(tt.topic)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q applied to %q = %q, want an error", tt.path, tt.topic, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q applied to %q = %q, %v; want %q", tt.path, tt.topic, got, err, tt.want)
		}
	}
}

// FuzzTopicPath feeds arbitrary filters, templates and topics (a topic is
// what any client of the broker may publish on) through the matching and
// mapping: nothing panics, a template maps every topic it accepts to a
// bounded path, and a filter without wildcards matches itself.
func FuzzTopicPath(f *testing.F) {
	f.Add("plant/+/line1/#", "site/{2}/line-1/{4+}", "plant/hall/line1/press/temp")
	f.Add("a/#", "", "a")
	f.Add("$share/g/x/+", "s/{1}/{2}", "x/y")
	f.Add("#", "s/{64+}", strings.Repeat("a/", 70))
	f.Add("+/+", "{1}/{2}", "$SYS/x")
	f.Fuzz(func(t *testing.T, filter, path, topic string) {
		m, err := parseFilter(filter)
		if err != nil {
			return
		}
		if !strings.ContainsAny(m, "+#") && !strings.HasPrefix(m, "$") && !matchTopic(m, m) {
			t.Errorf("filter %q does not match itself", m)
		}
		matched := matchTopic(m, topic)
		tpl, err := parseTemplate(path, m)
		if err != nil {
			return
		}
		got, err := tpl.apply(topic)
		if err != nil {
			return
		}
		if tpl.parts != nil && len(got) > uns.MaxPathLen {
			t.Errorf("%q applied to %q: %d bytes, limit %d", path, topic, len(got), uns.MaxPathLen)
		}
		if matched && tpl.parts != nil && !strings.Contains(topic, "{") && strings.Contains(got, "{") {
			t.Errorf("%q applied to %q = %q: a placeholder is left", path, topic, got)
		}
	})
}
