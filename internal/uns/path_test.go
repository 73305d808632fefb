package uns

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"site/area/line/cell/temp", true},
		{"a/b", true},
		{"plant-1/hall_A/v1.2/tag", true},
		{"", false},
		{"tag", false},
		{"a//b", false},
		{"/a/b", false},
		{"a/b/", false},
		{"a/+/b", false},
		{"a/#", false},
		{"$SYS/broker/x", false},
		{"a/b c", false},
		{"a/.hidden", false},
		{"a/ü", false},
		{strings.Repeat("a/", 16) + "b", false},
		{"a/" + strings.Repeat("x", 65), false},
		{strings.Repeat("abcdefgh/", 30) + "x", false},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ValidatePath(%q) error %v does not wrap ErrInvalidPath", tt.path, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b", "a/b/"} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"a/+", "#", "a//b", "a/*"} {
		if err := ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) = nil, want error", p)
		}
	}
}

func TestPathParts(t *testing.T) {
	tests := []struct{ path, asset, tag string }{
		{"s/a/l/m/temp", "s/a/l/m", "temp"},
		{"m/t", "m", "t"},
	}
	for _, tt := range tests {
		if got := Asset(tt.path); got != tt.asset {
			t.Errorf("Asset(%q) = %q, want %q", tt.path, got, tt.asset)
		}
		if got := Tag(tt.path); got != tt.tag {
			t.Errorf("Tag(%q) = %q, want %q", tt.path, got, tt.tag)
		}
	}
}

func TestHasPrefix(t *testing.T) {
	tests := []struct {
		path, prefix string
		want         bool
	}{
		{"a/b/c", "", true},
		{"a/b/c", "a", true},
		{"a/b/c", "a/b", true},
		{"a/b/c", "a/b/", true},
		{"a/b/c", "a/b/c", true},
		{"a/bc/d", "a/b", false},
		{"a/b", "a/b/c", false},
	}
	for _, tt := range tests {
		if got := HasPrefix(tt.path, tt.prefix); got != tt.want {
			t.Errorf("HasPrefix(%q, %q) = %v, want %v", tt.path, tt.prefix, got, tt.want)
		}
	}
}
