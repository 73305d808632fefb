package secret

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a, b := New(PrefixToken), New(PrefixToken)
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, PrefixToken) || len(a) != len(PrefixToken)+43 {
		t.Errorf("secret %q: want prefix %q and 43 base64url characters", a, PrefixToken)
	}
	h := Hash(a)
	if h == Hash(b) || len(h) != 64 || h != Hash(strings.Clone(a)) {
		t.Error("Hash is not a stable 64-hex-digit digest that tells secrets apart")
	}
}

func TestWellFormed(t *testing.T) {
	good := New(PrefixCredential)
	tests := []struct {
		s    string
		want bool
	}{
		{good, true},
		{New(PrefixToken), false},
		{PrefixCredential + "short", false},
		{good[:len(good)-1] + "!", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := WellFormed(tt.s, PrefixCredential); got != tt.want {
			t.Errorf("WellFormed(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
