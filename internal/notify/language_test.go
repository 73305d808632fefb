package notify

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestCatalogues: both languages have every message, with the same
// verbs in the same order (fmt would write %!v(MISSING) otherwise).
func TestCatalogues(t *testing.T) {
	en, nl := messages[English], messages[Dutch]
	if got, want := slices.Sorted(maps.Keys(nl)), slices.Sorted(maps.Keys(en)); !slices.Equal(got, want) {
		t.Fatalf("Dutch keys %v, English %v", got, want)
	}
	verbs := func(f string) string {
		var out []string
		for i := 0; i < len(f)-1; i++ {
			if f[i] == '%' {
				out = append(out, f[i:i+2])
				i++
			}
		}
		return strings.Join(out, " ")
	}
	for k, f := range en {
		if verbs(nl[k]) != verbs(f) {
			t.Errorf("%s: Dutch verbs %q, English %q", k, verbs(nl[k]), verbs(f))
		}
	}
}
