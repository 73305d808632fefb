package auth

import (
	"net/http"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(PrefixToken), NewSecret(PrefixToken)
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
	good := NewSecret(PrefixCredential)
	tests := []struct {
		s    string
		want bool
	}{
		{good, true},
		{NewSecret(PrefixToken), false},
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

func TestBearer(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer mlt_abc", "mlt_abc", true},
		{"bearer mlt_abc", "mlt_abc", true},
		{"Bearer  mlt_abc ", "mlt_abc", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, ok := Bearer(r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
