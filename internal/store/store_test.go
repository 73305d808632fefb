package store

import (
	"errors"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * Day, true},
		{"1.5d", 36 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0", 0, true},
		{"0s", 0, true},
		{"forever", 0, true},
		{"", 0, false},
		{"-1d", 0, false},
		{"-1h", 0, false},
		{"d", 0, false},
		{"7d12h", 0, false},
		{"NaNd", 0, false},
		{"1e300d", 0, false},
		{"a week", 0, false},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if back, err := ParsePeriod(FormatPeriod(got)); err != nil || back != got {
				t.Errorf("ParsePeriod(FormatPeriod(%v)) = %v, %v", got, back, err)
			}
		}
	}
}

func TestRetentionValidate(t *testing.T) {
	tests := []struct {
		r  Retention
		ok bool
	}{
		{Retention{}, true},
		{Retention{Raw: 90 * Day, Minute: 730 * Day}, true},
		{Retention{Raw: Day, Minute: Day, Hour: Day}, true},
		{Retention{Raw: Day}, true},
		{Retention{Raw: -Day}, false},
		{Retention{Raw: 2 * Day, Minute: Day}, false},
		{Retention{Minute: Day}, false},
		{Retention{Raw: Day, Minute: 3 * Day, Hour: 2 * Day}, false},
		{Retention{Minute: Day, Hour: Day}, false},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.r, err, tt.ok)
		}
	}
}
