package uns

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of a UNS path. They keep paths usable as MQTT topics, URL parts and
// storage keys alike.
const (
	MaxPathLen      = 256 // bytes in the whole path
	MaxPathSegments = 16
	MaxSegmentLen   = 64
)

// ErrInvalidPath is wrapped by every path validation error.
var ErrInvalidPath = errors.New("invalid UNS path")

// ValidatePath checks that p is a UNS series path: two to MaxPathSegments
// segments separated by '/', the last of them the tag. A segment is 1 to
// MaxSegmentLen characters from [A-Za-z0-9_.-] and does not start with '.';
// so wildcards (+, #, *), '$' system topics, spaces and empty segments are
// all rejected.
func ValidatePath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPath)
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPath, len(p), MaxPathLen)
	}
	n := 0
	for seg := range strings.SplitSeq(p, "/") {
		n++
		if err := validateSegment(seg); err != nil {
			return fmt.Errorf("%w: segment %d: %v", ErrInvalidPath, n, err)
		}
	}
	if n < 2 {
		return fmt.Errorf("%w: %q has one segment; want at least asset/tag", ErrInvalidPath, p)
	}
	if n > MaxPathSegments {
		return fmt.Errorf("%w: %d segments, limit %d", ErrInvalidPath, n, MaxPathSegments)
	}
	return nil
}

// ValidatePrefix checks a path prefix as used in queries: empty (everything)
// or one or more valid segments, optionally ending in '/'.
func ValidatePrefix(p string) error {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: prefix of %d bytes, limit %d", ErrInvalidPath, len(p), MaxPathLen)
	}
	n := 0
	for seg := range strings.SplitSeq(p, "/") {
		n++
		if err := validateSegment(seg); err != nil {
			return fmt.Errorf("%w: prefix segment %d: %v", ErrInvalidPath, n, err)
		}
	}
	return nil
}

func validateSegment(seg string) error {
	if seg == "" {
		return errors.New("empty")
	}
	if len(seg) > MaxSegmentLen {
		return fmt.Errorf("%d bytes, limit %d", len(seg), MaxSegmentLen)
	}
	if seg[0] == '.' {
		return fmt.Errorf("%q starts with '.'", seg)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%q: character %q not allowed (use A-Z a-z 0-9 _ - .)", seg, rune(c))
		}
	}
	return nil
}

// Asset returns the path without its last segment (the tag): the machine or
// asset the series belongs to.
func Asset(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Tag returns the last segment of p.
func Tag(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// HasPrefix reports whether path p lies under prefix, segment-wise:
// "a/b/c" is under "a/b" and "a/b/", but not under "a/bc". The empty
// prefix holds every path.
func HasPrefix(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix) && p[len(prefix)] == '/'
}
