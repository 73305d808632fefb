package uns

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// A token is one JSON value or object key of a payload. Tokens are in
// document order: an object is followed by its keys and values in turn, an
// array by its elements, and next skips a value with everything in it.
type token struct {
	start, end int // the literal; a string's contents without the quotes
	next       int // index of the token after this value and its contents
	kind       byte
	escaped    bool // a string with escapes: decode it with unescape
}

// Token kinds.
const (
	tokObject byte = iota + 1
	tokArray
	tokString
	tokNumber
	tokTrue
	tokFalse
	tokNull
)

// maxDepth bounds the nesting of arrays and objects, as encoding/json does.
// Objects nested deeper than a UNS path are rejected later, with a clearer
// reason.
const maxDepth = 10000

// scan checks that d.p is exactly one JSON value (RFC 8259) and splits it
// into d.toks. Strings must be valid UTF-8 without lone surrogates (escaped
// or not): encoding/json would replace those by U+FFFD, and the replaced
// character would be lost. A NaN or Infinity where a value belongs is
// rejected as non-finite, not as a syntax error, since that is what a device
// sending it means.
func (d *decoder) scan() error {
	p := d.p
	var openBuf [16]int
	open := openBuf[:0] // tokens of the containers around i, innermost last
	i := skipSpace(p, 0)
	for {
		// A value starts at i.
		if i >= len(p) {
			return d.syntaxError(i, "unexpected end")
		}
		n := len(d.toks)
		switch c := p[i]; {
		case c == '{' || c == '[':
			kind, closer := tokObject, byte('}')
			if c == '[' {
				kind, closer = tokArray, ']'
			}
			if len(open) == maxDepth {
				return d.syntaxError(i, "nested too deep")
			}
			d.toks = append(d.toks, token{start: i, kind: kind})
			open = append(open, n)
			i = skipSpace(p, i+1)
			if i < len(p) && p[i] == closer {
				d.toks[n].next = len(d.toks)
				open = open[:len(open)-1]
				i++
				break
			}
			if kind == tokObject {
				var err error
				if i, err = d.objectKey(i); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			end, esc, err := d.string(i)
			if err != nil {
				return err
			}
			d.toks = append(d.toks, token{start: i + 1, end: end, next: n + 1, kind: tokString, escaped: esc})
			i = end + 1
		case c == '-' || c >= '0' && c <= '9':
			end := numberEnd(p, i)
			if end < 0 {
				return d.notAValue(i)
			}
			d.toks = append(d.toks, token{start: i, end: end, next: n + 1, kind: tokNumber})
			i = end
		default:
			kind, lit := literal(p[i:])
			if kind == 0 {
				return d.notAValue(i)
			}
			d.toks = append(d.toks, token{start: i, end: i + len(lit), next: n + 1, kind: kind})
			i += len(lit)
		}
		// After a value: a comma, the end of containers, or the end.
		for {
			i = skipSpace(p, i)
			if len(open) == 0 {
				if i != len(p) {
					return d.syntaxError(i, "data after the JSON value")
				}
				return nil
			}
			if i >= len(p) {
				return d.syntaxError(i, "unexpected end")
			}
			c, o := p[i], open[len(open)-1]
			closer := byte('}')
			if d.toks[o].kind == tokArray {
				closer = ']'
			}
			if c == closer {
				d.toks[o].next = len(d.toks)
				open = open[:len(open)-1]
				i++
				continue
			}
			if c != ',' {
				return d.syntaxError(i, "want ',' or '"+string(closer)+"'")
			}
			i = skipSpace(p, i+1)
			if closer == '}' {
				var err error
				if i, err = d.objectKey(i); err != nil {
					return err
				}
			}
			break
		}
	}
}

// objectKey scans an object key and its colon at i, and returns where the value
// starts.
func (d *decoder) objectKey(i int) (int, error) {
	if i >= len(d.p) || d.p[i] != '"' {
		return 0, d.syntaxError(i, "want an object key")
	}
	end, esc, err := d.string(i)
	if err != nil {
		return 0, err
	}
	n := len(d.toks)
	d.toks = append(d.toks, token{start: i + 1, end: end, next: n + 1, kind: tokString, escaped: esc})
	i = skipSpace(d.p, end+1)
	if i >= len(d.p) || d.p[i] != ':' {
		return 0, d.syntaxError(i, "want ':' after an object key")
	}
	return skipSpace(d.p, i+1), nil
}

// string checks the string whose opening quote is at i and returns the
// index of its closing quote and whether it holds escapes.
func (d *decoder) string(i int) (end int, escaped bool, err error) {
	p := d.p
	for j := i + 1; j < len(p); {
		switch c := p[j]; {
		case c == '"':
			return j, escaped, nil
		case c == '\\':
			escaped = true
			n := escapeLen(p[j:])
			if n == 0 {
				return 0, false, d.syntaxError(j, "invalid escape or lone surrogate in a string")
			}
			j += n
		case c < 0x20:
			return 0, false, d.syntaxError(j, "control character in a string")
		case c < utf8.RuneSelf:
			j++
		default:
			r, n := utf8.DecodeRune(p[j:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, d.syntaxError(j, "invalid UTF-8 in a string")
			}
			j += n
		}
	}
	return 0, false, d.syntaxError(len(p), "unterminated string")
}

// escapeLen returns the length of the escape at the start of s, a UTF-16
// surrogate pair counting as one, or 0 if it is invalid.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
	default:
		return 0
	}
	r := hex4(s[2:])
	switch {
	case r < 0:
		return 0
	case !utf16.IsSurrogate(rune(r)):
		return 6
	case r >= 0xdc00: // a low surrogate must follow a high one
		return 0
	}
	if len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
		return 0
	}
	if lo := hex4(s[8:]); lo < 0xdc00 || lo > 0xdfff {
		return 0
	}
	return 12
}

// hex4 returns the value of the 4 hex digits at the start of s, or -1.
func hex4(s []byte) int {
	if len(s) < 4 {
		return -1
	}
	r := 0
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | int(c)
	}
	return r
}

// unescape appends the contents of a string that scan checked, escapes
// decoded, to dst.
func unescape(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		switch s[1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[2:]))
			if utf16.IsSurrogate(r) {
				r = utf16.DecodeRune(r, rune(hex4(s[8:])))
				s = s[6:]
			}
			dst = utf8.AppendRune(dst, r)
			s = s[6:]
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[1])
		}
		s = s[2:]
	}
	return dst
}

// numberEnd returns the end of the JSON number at p[i:], or -1 if there is
// none.
func numberEnd(p []byte, i int) int {
	if p[i] == '-' {
		i++
	}
	switch {
	case i >= len(p) || p[i] < '0' || p[i] > '9':
		return -1
	case p[i] == '0':
		i++
	default:
		i = digitsEnd(p, i)
	}
	if i < len(p) && p[i] == '.' {
		if i = digitsEnd(p, i+1); i < 0 {
			return -1
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		if i = digitsEnd(p, i); i < 0 {
			return -1
		}
	}
	return i
}

// digitsEnd returns the end of the run of one or more digits at p[i:], or
// -1 if there is none.
func digitsEnd(p []byte, i int) int {
	j := i
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// literal returns the kind of the true, false or null at the start of s.
func literal(s []byte) (byte, string) {
	for _, l := range [...]struct {
		kind byte
		lit  string
	}{{tokTrue, "true"}, {tokFalse, "false"}, {tokNull, "null"}} {
		if bytes.HasPrefix(s, []byte(l.lit)) {
			return l.kind, l.lit
		}
	}
	return 0, ""
}

// notAValue is the error for what stands at i where a value belongs.
func (d *decoder) notAValue(i int) error {
	if w := nonFinite(d.p[i:]); w != "" {
		return reject(ReasonNonFinite, "%s is not a finite number", w)
	}
	return d.syntaxError(i, "want a value")
}

// nonFinite returns the spelling of a non-finite number that devices send
// for a JSON number at the start of s (NaN, Infinity or inf, in any case,
// with an optional sign), or "".
func nonFinite(s []byte) string {
	j := 0
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		j = 1
	}
	for _, w := range [...]string{"infinity", "inf", "nan"} {
		end := j + len(w)
		if len(s) >= end && bytes.EqualFold(s[j:end], []byte(w)) && (end == len(s) || endsValue(s[end])) {
			return string(s[:end])
		}
	}
	return ""
}

// endsValue reports whether c may follow a JSON value.
func endsValue(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', '}', ']':
		return true
	}
	return false
}

func skipSpace(p []byte, i int) int {
	for i < len(p) {
		switch p[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// syntaxError is the rejection of a payload that is not JSON, showing its
// start.
func (d *decoder) syntaxError(i int, what string) error {
	t := bytes.TrimSpace(d.p)
	if len(t) > 32 {
		return reject(ReasonNotJSON, "payload %q… is not JSON: %s at byte %d", bytes.ToValidUTF8(t[:32], nil), what, i)
	}
	return reject(ReasonNotJSON, "payload %q is not JSON: %s at byte %d", bytes.ToValidUTF8(t, nil), what, i)
}
