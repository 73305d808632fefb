package store

import (
	"errors"
	"math"
	"slices"
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

func TestRollupSpanOne(t *testing.T) {
	const m = RollupMinute
	for _, tt := range []struct{ from, to, res, lo, hi int64 }{
		{0, 3 * m, m, 0, 3 * m},
		{1, 3*m + 1, m, m, 3 * m},
		{1, 2 * m, m, m, 2 * m},
		{1, m + 5, m, 1, 1}, // no whole minute
		{math.MaxInt64 - m/2, math.MaxInt64, m, math.MaxInt64 - m/2, math.MaxInt64 - m/2},       // past int64: none
		{9223372000000000000, 9223372036854000000, m, 9223372000000000000, 9223372000000000000}, // less than a whole minute
		{9223371900000000001, math.MaxInt64, m, 9223371960000000000, 9223372020000000000},
	} {
		lo, hi := rollupSpan(tt.from, tt.to, tt.res)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("rollupSpan(%d, %d, %d) = %d, %d; want %d, %d", tt.from, tt.to, tt.res, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestRollupSpans(t *testing.T) {
	const m, h = RollupMinute, RollupHour
	t0 := 100 * h
	for _, tt := range []struct {
		from, to, step int64
		want           []Span
	}{
		{t0, t0 + 3*h, h, []Span{{h, t0, t0 + 3*h}}},
		{t0 + 90*m + 5, t0 + 3*h + 30*m + 7, h, []Span{{0, t0 + 90*m + 5, t0 + 91*m}, {m, t0 + 91*m, t0 + 2*h}, {h, t0 + 2*h, t0 + 3*h}, {m, t0 + 3*h, t0 + 3*h + 30*m}, {0, t0 + 3*h + 30*m, t0 + 3*h + 30*m + 7}}},
		{t0 + 5, t0 + 3*m, 2 * m, []Span{{0, t0 + 5, t0 + m}, {m, t0 + m, t0 + 3*m}}},
		{t0 + 5, t0 + 10, h, []Span{{0, t0 + 5, t0 + 10}}},
		{t0, t0 + 3*h, 7 * 1e9, []Span{{0, t0, t0 + 3*h}}},
		{t0 + 30*m, t0 + 150*m, 90 * m, []Span{{m, t0 + 30*m, t0 + 150*m}}},
	} {
		if got := RollupSpans(tt.from, tt.to, tt.step); !slices.Equal(got, tt.want) {
			t.Errorf("RollupSpans(%d, %d, %d) = %v, want %v", tt.from-t0, tt.to-t0, tt.step, got, tt.want)
		}
	}
}
