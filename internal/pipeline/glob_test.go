package pipeline

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a/x/y/c", false},
		{"+/+", "a/b", true},
		{"+/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b", true},
		{"a/#", "a/b/c/d", true},
		{"a/#", "ab/c", false},
		{"#", "a/b", true},
		{"+/#", "a/b/c", true},
		{"a/+/#", "a", false},
		{"a/+/#", "a/b", true},
		{"a/+", "a/b/", false},
		{"s/+/+/+/temp", "s/a/l/m/temp", true},
		{"s/+/+/+/temp", "s/a/l/m/rpm", false},
	}
	for _, tt := range tests {
		g, err := ParseGlob(tt.glob)
		if err != nil {
			t.Fatalf("ParseGlob(%q): %v", tt.glob, err)
		}
		if got := g.Match(tt.path); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.glob, tt.path, got, tt.want)
		}
	}
}

func TestParseGlobRejects(t *testing.T) {
	for _, s := range []string{"", "a/#/b", "a+/b", "a//b", "a/b c", "a/*"} {
		if _, err := ParseGlob(s); err == nil {
			t.Errorf("ParseGlob(%q) = nil error, want one", s)
		}
	}
}
