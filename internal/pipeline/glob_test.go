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

// TestGlobCovers checks Covers against its definition, every series h
// matches is matched by g, on every glob of up to three segments over
// {a, b, +, #} and every path of up to four segments over {a, b, c} (c is
// named by no glob, so a witness of non-coverage is always among them).
func TestGlobCovers(t *testing.T) {
	var globs []Glob
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		if prefix != "" {
			if g, err := ParseGlob(prefix); err == nil {
				globs = append(globs, g)
			}
		}
		if n == 0 {
			return
		}
		for _, s := range []string{"a", "b", "+", "#"} {
			p := s
			if prefix != "" {
				p = prefix + "/" + s
			}
			grow(p, n-1)
		}
	}
	grow("", 3)
	var paths []string
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		if prefix != "" {
			paths = append(paths, prefix)
		}
		if n == 0 {
			return
		}
		for _, s := range []string{"a", "b", "c"} {
			p := s
			if prefix != "" {
				p = prefix + "/" + s
			}
			walk(p, n-1)
		}
	}
	walk("", 4)
	covered := 0
	for _, g := range globs {
		for _, h := range globs {
			want := true
			for _, p := range paths {
				if h.Match(p) && !g.Match(p) {
					want = false
					break
				}
			}
			if got := g.Covers(h); got != want {
				t.Errorf("%q.Covers(%q) = %v, want %v", g, h, got, want)
			}
			if want {
				covered++
			}
		}
	}
	if covered == len(globs) || covered == len(globs)*len(globs) {
		t.Fatalf("%d of %d pairs covered: the test data proves nothing", covered, len(globs)*len(globs))
	}
}
