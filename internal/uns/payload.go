package uns

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits on one device payload.
const (
	MaxPayload          = 64 << 10 // bytes; larger payloads are rejected whole
	MaxPointsPerPayload = 1000     // values one flattened JSON object may carry
)

// Reasons a payload is rejected. They are the label values of the edge's
// rejection counters, so they are few and stable.
const (
	ReasonInvalidPath  = "invalid_path"
	ReasonNotJSON      = "not_json"
	ReasonNonFinite    = "non_finite"
	ReasonWrongType    = "wrong_type"
	ReasonOversized    = "oversized"
	ReasonBadTS        = "bad_timestamp"
	ReasonBadQuality   = "bad_quality"
	ReasonDuplicateKey = "duplicate_key"
)

// Reasons lists every rejection reason, for pre-registering metrics.
var Reasons = []string{ReasonInvalidPath, ReasonNotJSON, ReasonNonFinite, ReasonWrongType, ReasonOversized, ReasonBadTS, ReasonBadQuality, ReasonDuplicateKey}

// RejectError says why a payload was rejected. Nothing of a rejected payload
// is accepted: decoding is all or nothing.
type RejectError struct {
	Reason string // one of the Reason constants
	Msg    string
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Msg }

func reject(reason, format string, args ...any) error {
	return &RejectError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the rejection reason of err, or "" if err is not a RejectError.
func ReasonOf(err error) string {
	if re, ok := errors.AsType[*RejectError](err); ok {
		return re.Reason
	}
	return ""
}

// minTS and maxTS bound accepted timestamps (1970 .. 2200): a value outside
// is a unit mistake (seconds or nanoseconds sent as milliseconds), not a time.
var (
	minTS = int64(0)
	maxTS = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Decode appends to dst the points that an MQTT publish on topic carries and
// returns the extended slice. now (unix ns) stamps values that carry no "ts".
//
// The topic is the series path (or, for an object payload, the asset under
// which the object's keys become tags). Payloads, all JSON:
//
//	42 | 3.5 | true | "running"             a bare value
//	{"value": 42, "ts": 1700000000000, "q": "good"}  value, unix ms, quality
//	{"ts": 1700000000000, "temp": 21.5, "motor": {"rpm": 1200}}
//	                                        an object: each leaf becomes
//	                                        topic/key[/key...]; a top-level
//	                                        numeric "ts" stamps them all, and
//	                                        a leaf may itself be a {value,ts,q}
//
// Strings must be valid UTF-8 (RFC 8259), and an object must not hold a key
// twice: either would otherwise lose data silently (a replaced character, an
// overwritten value). Points come in a fixed order (each object's keys
// sorted), so that a payload always decodes the same way.
//
// On error dst is returned unchanged and the error is a *RejectError.
func Decode(dst []Point, topic string, payload []byte, now int64) ([]Point, error) {
	return decode(dst, topic, payload, now, false)
}

// DecodeText is Decode for topics whose devices may send plain text
// (running, ON, 42 rpm): a payload that is not JSON becomes one string
// value, white space around it removed, if it does not start like JSON
// ({, [ or ") and is UTF-8 text without control characters other than tab,
// CR and LF. JSON payloads decode as with Decode: 42 stays a number, and a
// broken JSON object is still rejected.
func DecodeText(dst []Point, topic string, payload []byte, now int64) ([]Point, error) {
	return decode(dst, topic, payload, now, true)
}

func decode(dst []Point, topic string, payload []byte, now int64, text bool) ([]Point, error) {
	if len(payload) > MaxPayload {
		return dst, reject(ReasonOversized, "payload of %d bytes, limit %d", len(payload), MaxPayload)
	}
	if err := ValidatePrefix(topic); err != nil || topic == "" || strings.HasSuffix(topic, "/") {
		if err == nil {
			err = fmt.Errorf("%w: topic %q", ErrInvalidPath, topic)
		}
		return dst, reject(ReasonInvalidPath, "%v", err)
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.put()
	d := decoder{p: payload, scratch: sc, dst: dst, n0: len(dst), now: now, segs: strings.Count(topic, "/") + 1}
	err := d.scan()
	if err == nil {
		err = d.top(topic)
	} else if text && ReasonOf(err) == ReasonNotJSON {
		if s, ok := plainText(payload); ok {
			if err = d.topicPathErr(topic); err != nil {
				err = reject(ReasonInvalidPath, "%v", err)
			} else {
				err = d.add(topic, String(s), now)
			}
		}
	}
	if err != nil {
		return dst, err
	}
	return d.dst, nil
}

// plainText returns payload as text if DecodeText takes it for a string.
func plainText(payload []byte) (string, bool) {
	t := bytes.Trim(payload, " \t\r\n")
	if len(t) == 0 || t[0] == '{' || t[0] == '[' || t[0] == '"' || !utf8.Valid(t) {
		return "", false
	}
	for _, c := range t {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return "", false
		}
	}
	return string(t), true
}

// decoder turns the tokens of a payload into points.
type decoder struct {
	p []byte
	*scratch
	dst  []Point
	n0   int
	now  int64
	segs int // segments of the topic
}

// scratch is the working memory of a decoder, reused: decoding allocates
// only the points' paths and strings. It holds no pointers, so a pooled
// scratch keeps no payload alive.
type scratch struct {
	toks []token  // the payload's values, see scan
	mem  []member // members of the objects being walked, innermost last
	buf  []byte   // strings with escapes, decoded
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// put returns s to the pool, unless a large payload made it large.
func (s *scratch) put() {
	if cap(s.toks) > 1<<10 || cap(s.buf) > 16<<10 {
		return
	}
	s.toks, s.mem, s.buf = s.toks[:0], s.mem[:0], s.buf[:0]
	scratchPool.Put(s)
}

// member is a key of an object and its value's token. The key is
// p[start:end], or buf[start:end] if it had escapes.
type member struct {
	start, end int
	inBuf      bool
	val        int
}

// key returns the key of m.
func (d *decoder) key(m member) []byte {
	if m.inBuf {
		return d.buf[m.start:m.end]
	}
	return d.p[m.start:m.end]
}

func (d *decoder) top(topic string) error {
	if d.toks[0].kind != tokObject {
		return d.leaf(topic, d.topicPathErr(topic), 0, d.now)
	}
	ms, err := d.members(0, topic)
	if err != nil {
		return err
	}
	if d.isValueObject(ms) {
		return d.valueObject(topic, d.topicPathErr(topic), ms, d.now)
	}
	// Like ValidatePath(topic + "/x"), the topic's segments being valid.
	if len(topic)+2 > MaxPathLen || d.segs+1 > MaxPathSegments {
		return reject(ReasonInvalidPath, "%v", ValidatePath(topic+"/x"))
	}
	ts := d.now
	if i, ok := d.find(ms, "ts"); ok {
		if ts, err = d.parseTS(i); err != nil {
			return err
		}
	}
	if err := d.object(topic, d.segs, nil, ms, ts, true); err != nil {
		return err
	}
	if len(d.dst) == d.n0 {
		return reject(ReasonWrongType, "object on %q holds no values", topic)
	}
	return nil
}

// topicPathErr is ValidatePath(topic) for the topic decode checked: it is a
// series path if it has enough segments and not too many.
func (d *decoder) topicPathErr(topic string) error {
	if d.segs < 2 || d.segs > MaxPathSegments {
		return ValidatePath(topic)
	}
	return nil
}

// members appends the members of the object at token obj to d.mem, sorted
// by key, and returns them; the caller truncates d.mem when done with them.
// A key that appears twice is an error: one of its values would be lost.
func (d *decoder) members(obj int, path string) ([]member, error) {
	base := len(d.mem)
	for i := obj + 1; i < d.toks[obj].next; i = d.toks[i+1].next {
		m := member{start: d.toks[i].start, end: d.toks[i].end, val: i + 1}
		if d.toks[i].escaped {
			m.start, m.inBuf = len(d.buf), true
			d.buf = unescape(d.buf, d.p[d.toks[i].start:d.toks[i].end])
			m.end = len(d.buf)
		}
		d.mem = append(d.mem, m)
	}
	ms := d.mem[base:]
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(d.key(a), d.key(b)) })
	for k := 1; k < len(ms); k++ {
		if bytes.Equal(d.key(ms[k-1]), d.key(ms[k])) {
			return nil, reject(ReasonDuplicateKey, "%s: key %q appears twice in one object", path, d.key(ms[k]))
		}
	}
	return ms, nil
}

func (d *decoder) find(ms []member, key string) (val int, ok bool) {
	for _, m := range ms {
		if string(d.key(m)) == key {
			return m.val, true
		}
	}
	return 0, false
}

// isValueObject reports whether ms are {"value":…} with optional ts and q.
func (d *decoder) isValueObject(ms []member) bool {
	hasValue := false
	for _, m := range ms {
		switch string(d.key(m)) {
		case "value":
			hasValue = true
		case "ts", "q":
		default:
			return false
		}
	}
	return hasValue
}

// object flattens the members ms of the object at prefix, whose path has
// segs segments. pathErr, if not nil, is why prefix is not a valid path (a
// key on the way is not a segment); it rejects the payload once a value is
// reached under that key, so an empty object under it adds nothing and is
// not an error.
func (d *decoder) object(prefix string, segs int, pathErr error, ms []member, ts int64, top bool) error {
	for _, m := range ms {
		if top && string(d.key(m)) == "ts" {
			continue
		}
		path := prefix + "/" + string(d.key(m))
		// Check before descending: a deeply nested object must cost no more
		// than a path's worth of work.
		if len(path) > MaxPathLen || segs >= MaxPathSegments {
			return reject(ReasonInvalidPath, "%.64s…: nested deeper than a UNS path allows (%d segments, %d bytes)", path, MaxPathSegments, MaxPathLen)
		}
		keyErr := pathErr
		if keyErr == nil {
			if err := validateSegment(path[len(prefix)+1:]); err != nil {
				keyErr = fmt.Errorf("%w: segment %d: %v", ErrInvalidPath, segs+1, err)
			}
		}
		if d.toks[m.val].kind != tokObject {
			if err := d.leaf(path, keyErr, m.val, ts); err != nil {
				return err
			}
			continue
		}
		base := len(d.mem)
		cms, err := d.members(m.val, path)
		if err == nil {
			if d.isValueObject(cms) {
				err = d.valueObject(path, keyErr, cms, ts)
			} else {
				err = d.object(path, segs+1, keyErr, cms, ts, false)
			}
		}
		d.mem = d.mem[:base]
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) valueObject(path string, pathErr error, ms []member, ts int64) error {
	if i, ok := d.find(ms, "ts"); ok {
		var err error
		if ts, err = d.parseTS(i); err != nil {
			return err
		}
	}
	q := Good
	if i, ok := d.find(ms, "q"); ok {
		if d.toks[i].kind != tokString {
			return reject(ReasonBadQuality, "%s: q must be \"good\", \"uncertain\" or \"bad\"", path)
		}
		var err error
		if q, err = ParseQuality(string(d.str(i))); err != nil {
			return reject(ReasonBadQuality, "%s: %v", path, err)
		}
	}
	i, _ := d.find(ms, "value")
	if err := d.leaf(path, pathErr, i, ts); err != nil {
		return err
	}
	d.dst[len(d.dst)-1].Quality = q
	return nil
}

// leaf appends the point of the value at token i, unless path is invalid
// (pathErr) or the value is not a scalar.
func (d *decoder) leaf(path string, pathErr error, i int, ts int64) error {
	if pathErr != nil {
		return reject(ReasonInvalidPath, "%v", pathErr)
	}
	val, err := d.scalar(path, i)
	if err != nil {
		return err
	}
	return d.add(path, val, ts)
}

func (d *decoder) add(path string, val Value, ts int64) error {
	if len(d.dst)-d.n0 >= MaxPointsPerPayload {
		return reject(ReasonOversized, "more than %d values in one payload", MaxPointsPerPayload)
	}
	d.dst = append(d.dst, Point{Series: path, TS: ts, Value: val})
	return nil
}

func (d *decoder) scalar(path string, i int) (Value, error) {
	t := d.toks[i]
	switch t.kind {
	case tokNumber:
		return number(path, string(d.p[t.start:t.end]))
	case tokTrue:
		return Bool(true), nil
	case tokFalse:
		return Bool(false), nil
	case tokString:
		return String(string(d.str(i))), nil
	case tokNull:
		return Value{}, reject(ReasonWrongType, "%s: null is not a value", path)
	case tokArray:
		return Value{}, reject(ReasonWrongType, "%s: arrays are not values", path)
	}
	return Value{}, reject(ReasonWrongType, "%s: an object is not a value here", path)
}

// str returns the contents of the string at token i, escapes decoded. It
// is valid until the next call.
func (d *decoder) str(i int) []byte {
	t := d.toks[i]
	s := d.p[t.start:t.end]
	if !t.escaped {
		return s
	}
	start := len(d.buf)
	d.buf = unescape(d.buf, s)
	s = d.buf[start:]
	d.buf = d.buf[:start]
	return s
}

// number keeps integers exact: a literal without fraction or exponent that
// fits int64 is an Int, anything else a Float. s is not kept (the caller
// may pass a view of the payload).
func number(path, s string) (Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{}, reject(ReasonNonFinite, "%s: %s is not a finite float64", path, strings.Clone(s))
	}
	return Float(f), nil
}

// parseTS reads the timestamp at token i: a number of unix milliseconds or
// an RFC 3339 string.
func (d *decoder) parseTS(i int) (int64, error) {
	t := d.toks[i]
	switch t.kind {
	case tokNumber:
		x := d.p[t.start:t.end]
		ns, ok := msToNS(string(x))
		if !ok {
			return 0, reject(ReasonBadTS, "ts %s is not a number of unix milliseconds in 1970..2200", x)
		}
		return ns, nil
	case tokString:
		x := d.str(i)
		ts, err := time.Parse(time.RFC3339Nano, string(x))
		if err != nil {
			return 0, reject(ReasonBadTS, "ts %q: want unix milliseconds or RFC 3339", x)
		}
		ns := ts.UnixNano()
		if ns < minTS || ns > maxTS {
			return 0, reject(ReasonBadTS, "ts %q is outside 1970..2200", x)
		}
		return ns, nil
	}
	return 0, reject(ReasonBadTS, "ts must be unix milliseconds or an RFC 3339 string")
}

// msToNS converts a JSON number of unix milliseconds to nanoseconds exactly
// for integers and decimal fractions (to the nanosecond), and within float
// precision for exponent forms. ok is false outside 1970..2200.
func msToNS(s string) (ns int64, ok bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false // before 1970, including -0.5
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if !strings.ContainsAny(s, "eE") {
		ms, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || ms < minTS/1e6 || ms > maxTS/1e6 {
			return 0, false
		}
		ns = ms * 1e6
		if hasFrac {
			frac = (frac + "000000")[:6]
			f, err := strconv.ParseInt(frac, 10, 64)
			if err != nil || f < 0 {
				return 0, false
			}
			ns += f
		}
		return ns, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < float64(minTS)/1e6 || f > float64(maxTS)/1e6 {
		return 0, false
	}
	return int64(math.Round(f * 1e6)), true
}
