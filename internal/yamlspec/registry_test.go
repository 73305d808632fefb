package yamlspec

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry[int]("test")
	r.Register("b", 2, true)
	r.Register("a", 1, true)
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v, want [a b]", got)
	}
	if v, ok := r.Lookup("b"); !ok || v != 2 {
		t.Errorf("Lookup(b) = %v, %v", v, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Error("Lookup(c) found a kind never registered")
	}
	for _, tt := range []struct {
		name     string
		complete bool
	}{{"a", true}, {"", true}, {"c", false}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q, complete %v) did not panic", tt.name, tt.complete)
				}
			}()
			r.Register(tt.name, 0, tt.complete)
		}()
	}
}
