package password

import (
	"fmt"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h := New(Params{Time: 1, Memory: 64, Threads: 1}, 2)
	enc, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		enc, pw   string
		ok, stale bool
	}{
		{enc, "correct horse battery staple", true, false},
		{enc, "correct horse battery stapl", false, false},
		{"", "", false, false},
		{New(Default, 1).dummy, "no password matches this", true, true},
	} {
		ok, stale, err := h.Check(t.Context(), tt.enc, tt.pw)
		if err != nil || ok != tt.ok || stale != tt.stale {
			t.Errorf("Check(%.30q, %q) = %v, %v, %v; want %v, %v", tt.enc, tt.pw, ok, stale, err, tt.ok, tt.stale)
		}
	}
	for _, bad := range []string{"$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5", "plain"} {
		if _, _, err := h.Check(t.Context(), bad, "x"); err == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
}

// BenchmarkPasswordHash measures one argon2id hash at the default
// parameters and two stronger ones, on one core.
func BenchmarkPasswordHash(b *testing.B) {
	for _, p := range []Params{Default, {Time: 3, Memory: 64 * 1024, Threads: 1}, {Time: 1, Memory: 47 * 1024, Threads: 1}} {
		b.Run(fmt.Sprintf("m=%dKiB,t=%d,p=%d", p.Memory, p.Time, p.Threads), func(b *testing.B) {
			h := New(p, 1)
			for b.Loop() {
				if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
