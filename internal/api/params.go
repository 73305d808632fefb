package api

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultRange is the range of a request without from and to: the last hour.
const DefaultRange = time.Hour

// ParseTime reads a time parameter: "now", a negative duration relative to
// now ("-15m"), unix milliseconds, or RFC 3339. It returns unix ns.
func ParseTime(name, s string, now time.Time) (int64, error) {
	switch {
	case s == "now":
		return now.UnixNano(), nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return 0, BadRequest("%s=%q: want now, -<duration> like -15m, unix milliseconds or RFC 3339", name, s)
		}
		t := now.Add(-d)
		if t.Before(time.Unix(0, 0)) {
			return 0, BadRequest("%s=%q: before 1970", name, s)
		}
		return t.UnixNano(), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return 0, BadRequest("%s=%q: unix milliseconds out of range", name, s)
		}
		return ms * 1e6, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, BadRequest("%s=%q: want now, -<duration> like -15m, unix milliseconds or RFC 3339", name, s)
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, BadRequest("%s=%q: before 1970", name, s)
	}
	return t.UnixNano(), nil
}

// Range reads the parameters from and to (defaults: the last hour up to
// now) and checks from < to. Times are unix ns.
func Range(q url.Values, now time.Time) (from, to int64, err error) {
	to = now.UnixNano()
	from = now.Add(-DefaultRange).UnixNano()
	if s := q.Get("from"); s != "" {
		if from, err = ParseTime("from", s, now); err != nil {
			return 0, 0, err
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = ParseTime("to", s, now); err != nil {
			return 0, 0, err
		}
	}
	if from >= to {
		return 0, 0, BadRequest("from must be before to")
	}
	return from, to, nil
}

// Limit reads a positive limit parameter with a default and a maximum.
func Limit(name, s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, BadRequest("%s=%q: want a positive integer", name, s)
	}
	if n > max {
		return 0, BadRequest("%s=%d: limit is %d", name, n, max)
	}
	return n, nil
}
