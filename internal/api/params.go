package api

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Query limits: a request that would exceed them gets a 400 naming the limit.
const (
	MaxBuckets      = 10_000
	DefaultRawLimit = 10_000
	MaxRawLimit     = 100_000
	DefaultLimit    = 10_000
	MaxLimit        = 100_000
	defaultRange    = time.Hour
)

// parseTime reads a time parameter: "now", a negative duration relative to
// now ("-15m"), unix milliseconds, or RFC 3339. It returns unix ns.
func parseTime(name, s string, now time.Time) (int64, error) {
	switch {
	case s == "now":
		return now.UnixNano(), nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return 0, badRequest("%s=%q: want now, -<duration> like -15m, unix milliseconds or RFC 3339", name, s)
		}
		t := now.Add(-d)
		if t.Before(time.Unix(0, 0)) {
			return 0, badRequest("%s=%q: before 1970", name, s)
		}
		return t.UnixNano(), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return 0, badRequest("%s=%q: unix milliseconds out of range", name, s)
		}
		return ms * 1e6, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, badRequest("%s=%q: want now, -<duration> like -15m, unix milliseconds or RFC 3339", name, s)
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, badRequest("%s=%q: before 1970", name, s)
	}
	return t.UnixNano(), nil
}

// parseRange reads from and to (defaults: the last hour up to now) and
// checks from < to.
func parseRange(q url.Values, now time.Time) (from, to int64, err error) {
	to = now.UnixNano()
	from = now.Add(-defaultRange).UnixNano()
	if s := q.Get("from"); s != "" {
		if from, err = parseTime("from", s, now); err != nil {
			return 0, 0, err
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = parseTime("to", s, now); err != nil {
			return 0, 0, err
		}
	}
	if from >= to {
		return 0, 0, badRequest("from must be before to")
	}
	return from, to, nil
}

// parseStep reads a bucket width: a duration ("10s") or milliseconds.
func parseStep(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return 0, badRequest("step=%q: must be a positive number of milliseconds", s)
		}
		return ms * 1e6, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		return 0, badRequest("step=%q: want a duration of at least 1ms like 10s, or milliseconds", s)
	}
	return int64(d), nil
}

// niceSteps are the bucket widths automatic steps round up to, so charts
// get readable bucket boundaries.
var niceSteps = []time.Duration{
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// autoStep picks the smallest nice step giving at most n buckets over span.
func autoStep(span int64, n int) int64 {
	want := (span + int64(n) - 1) / int64(n)
	for _, s := range niceSteps {
		if int64(s) >= want {
			return int64(s)
		}
	}
	// Beyond a week: whole days.
	day := int64(24 * time.Hour)
	return (want + day - 1) / day * day
}

// parseLimit reads a positive limit with a default and a maximum.
func parseLimit(name, s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, badRequest("%s=%q: want a positive integer", name, s)
	}
	if n > max {
		return 0, badRequest("%s=%d: limit is %d", name, n, max)
	}
	return n, nil
}
