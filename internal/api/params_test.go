package api

import (
	"testing"
	"time"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"now", now, true},
		{"-15m", now.Add(-15 * time.Minute), true},
		{"-1h30m", now.Add(-90 * time.Minute), true},
		{"1763726400000", time.UnixMilli(1763726400000), true},
		{"2026-11-21T11:00:00Z", now.Add(-time.Hour), true},
		{"0", time.Unix(0, 0), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"--5m", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
		{"1900-01-01T00:00:00Z", time.Time{}, false},
		{"1' OR '1'='1", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime("from", tt.in, now)
		if (err == nil) != tt.ok {
			t.Errorf("ParseTime(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got != tt.want.UnixNano() {
			t.Errorf("ParseTime(%q) = %v, want %v", tt.in, time.Unix(0, got).UTC(), tt.want)
		}
	}
}
