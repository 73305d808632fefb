package series

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store"
)

func TestRetention(t *testing.T) {
	f := newFixture(t)
	get := func(token string) map[string]any {
		t.Helper()
		code, body := f.do("GET", "/api/v1/retention", token, nil)
		if code != 200 {
			t.Fatalf("GET /api/v1/retention = %d %v", code, body)
		}
		return body
	}
	check := func(what string, got map[string]any, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v (all: %v)", what, k, got[k], v, got)
			}
		}
	}

	// Unset: the hub's default, for viewers too.
	check("default of org a", get(f.viewA), map[string]any{
		"org": "a", "default": true, "raw": "2160h0m0s", "raw_days": float64(90),
		"minute": "17520h0m0s", "minute_days": float64(730), "hour": "forever", "hour_days": nil,
	})

	code, body := f.do("PUT", "/api/v1/retention", f.tokenA, strings.NewReader(`{"raw": "36h", "minute": "7.5d", "hour": "forever"}`))
	want := map[string]any{
		"org": "a", "default": false, "raw": "36h0m0s", "raw_days": 1.5,
		"minute": "180h0m0s", "minute_days": 7.5, "hour": "forever", "hour_days": nil,
	}
	if code != 200 {
		t.Fatalf("PUT = %d %v", code, body)
	}
	check("PUT answer", body, want)
	check("org a after PUT", get(f.viewA), want)
	// Org b still has the default.
	check("org b after org a's PUT", get(f.tokenB), map[string]any{"org": "b", "default": true, "raw_days": float64(90)})

	// Zero is forever, too.
	code, body = f.do("PUT", "/api/v1/retention", f.tokenB, strings.NewReader(`{"raw": "0", "minute": "0s", "hour": "forever"}`))
	if code != 200 {
		t.Fatalf("PUT of org b = %d %v", code, body)
	}
	check("org b after its PUT", get(f.tokenB), map[string]any{"default": false, "raw": "forever", "minute": "forever", "hour": "forever"})
	check("org a after org b's PUT", get(f.tokenA), want)

	// DELETE: back to the default, for org b only; viewers may not.
	if code, _ := f.do("DELETE", "/api/v1/retention", f.viewA, nil); code != 403 {
		t.Errorf("DELETE by a viewer = %d, want 403", code)
	}
	code, body = f.do("DELETE", "/api/v1/retention", f.tokenB, nil)
	if code != 200 {
		t.Fatalf("DELETE of org b = %d %v", code, body)
	}
	check("DELETE answer", body, map[string]any{"org": "b", "default": true, "raw_days": float64(90)})
	check("org b after DELETE", get(f.tokenB), map[string]any{"org": "b", "default": true, "raw_days": float64(90)})
	check("org a after org b's DELETE", get(f.tokenA), want)
}

func TestRetentionBadInput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, token, body string
		code              int
		msg               string
	}{
		{"viewer", f.viewA, `{"raw": "7d", "minute": "7d", "hour": "7d"}`, 403, ""},
		{"no token", "", `{"raw": "7d", "minute": "7d", "hour": "7d"}`, 401, ""},
		{"negative", f.tokenA, `{"raw": "-7d", "minute": "7d", "hour": "7d"}`, 400, "raw: period \"-7d\" is negative"},
		{"negative duration", f.tokenA, `{"raw": "7d", "minute": "-1h", "hour": "7d"}`, 400, "minute: period \"-1h\" is negative"},
		{"unparsable", f.tokenA, `{"raw": "a week", "minute": "7d", "hour": "7d"}`, 400, "raw: period \"a week\""},
		{"missing", f.tokenA, `{"raw": "7d", "hour": "7d"}`, 400, "minute: missing"},
		{"unknown field", f.tokenA, `{"raw": "7d", "minute": "7d", "hour": "7d", "daily": "1d"}`, 400, "unknown field"},
		{"number", f.tokenA, `{"raw": 7, "minute": "7d", "hour": "7d"}`, 400, "body must be"},
		{"minute shorter than raw", f.tokenA, `{"raw": "30d", "minute": "7d", "hour": "forever"}`, 400, "minute: 7d is shorter than raw (30d)"},
		{"minute rollups gone before raw", f.tokenA, `{"raw": "forever", "minute": "7d", "hour": "forever"}`, 400, "shorter than raw (forever)"},
		{"hour shorter than minute", f.tokenA, `{"raw": "1d", "minute": "30d", "hour": "7d"}`, 400, "hour: 7d is shorter than minute (30d)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do("PUT", "/api/v1/retention", tt.token, strings.NewReader(tt.body))
			msg, _ := body["error"].(string)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("PUT %s = %d %q, want %d with %q", tt.body, code, msg, tt.code, tt.msg)
			}
		})
	}
	if code, body := f.do("GET", "/api/v1/retention", f.tokenA, nil); code != 200 || body["default"] != true {
		t.Errorf("after refused PUTs: %d %v, want the default still", code, body)
	}
}

// TestRetentionSettings keeps each organisation's retention apart, on
// both databases.
func TestRetentionSettings(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s, err := New(ctx, Config{Meta: db})
		if err != nil {
			t.Fatal(err)
		}
		wantErr := func(what string, err, want error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Errorf("%s: error %v, want %v", what, err, want)
			}
		}
		_, err = s.Retention(ctx, "a")
		wantErr("Retention before any is set", err, meta.ErrNotFound)
		want := store.Retention{Raw: 90 * store.Day, Minute: 730 * store.Day}
		if err := s.SetRetention(ctx, "a", want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Retention(ctx, "a"); err != nil || got != want {
			t.Errorf("Retention = %+v, %v; want %+v", got, err, want)
		}
		want = store.Retention{Raw: 36 * time.Hour, Minute: 36 * time.Hour, Hour: 400 * store.Day}
		if err := s.SetRetention(ctx, "a", want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Retention(ctx, "a"); err != nil || got != want {
			t.Errorf("Retention after a second SetRetention = %+v, %v; want %+v", got, err, want)
		}
		_, err = s.Retention(ctx, "b")
		wantErr("Retention of the other organisation", err, meta.ErrNotFound)
		for _, bad := range []store.Retention{
			{Raw: -time.Hour},
			{Raw: 2 * store.Day, Minute: store.Day},
			{Minute: store.Day}, // minute rollups gone, raw points kept
			{Minute: 2 * store.Day, Hour: store.Day},
		} {
			wantErr("SetRetention of an invalid retention", s.SetRetention(ctx, "b", bad), store.ErrInvalid)
		}
		wantErr("SetRetention of an organisation with a NUL", s.SetRetention(ctx, "b\x00", want), meta.ErrInvalid)
		if err := s.SetRetention(ctx, "b", want); err != nil {
			t.Fatal(err)
		}
		if err := s.ClearRetention(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Retention(ctx, "a")
		wantErr("Retention after ClearRetention", err, meta.ErrNotFound)
		if got, err := s.Retention(ctx, "b"); err != nil || got != want {
			t.Errorf("Retention of the other organisation after ClearRetention = %+v, %v; want %+v", got, err, want)
		}
		for _, org := range []string{"a", "nobody", "\x00"} {
			if err := s.ClearRetention(ctx, org); err != nil {
				t.Errorf("ClearRetention(%q) with none stored: %v", org, err)
			}
		}
	})
}
