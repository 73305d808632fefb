package uns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on one device payload.
const (
	MaxPayload          = 64 << 10 // bytes; larger payloads are rejected whole
	MaxPointsPerPayload = 1000     // values one flattened JSON object may carry
)

// Reasons a payload is rejected. They are the label values of the edge's
// rejection counters, so they are few and stable.
const (
	ReasonInvalidPath = "invalid_path"
	ReasonNotJSON     = "not_json"
	ReasonNonFinite   = "non_finite"
	ReasonWrongType   = "wrong_type"
	ReasonOversized   = "oversized"
	ReasonBadTS       = "bad_timestamp"
	ReasonBadQuality  = "bad_quality"
)

// Reasons lists every rejection reason, for pre-registering metrics.
var Reasons = []string{ReasonInvalidPath, ReasonNotJSON, ReasonNonFinite, ReasonWrongType, ReasonOversized, ReasonBadTS, ReasonBadQuality}

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
// On error dst is returned unchanged and the error is a *RejectError.
func Decode(dst []Point, topic string, payload []byte, now int64) ([]Point, error) {
	if len(payload) > MaxPayload {
		return dst, reject(ReasonOversized, "payload of %d bytes, limit %d", len(payload), MaxPayload)
	}
	if err := ValidatePrefix(topic); err != nil || topic == "" || strings.HasSuffix(topic, "/") {
		if err == nil {
			err = fmt.Errorf("%w: topic %q", ErrInvalidPath, topic)
		}
		return dst, reject(ReasonInvalidPath, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return dst, notJSON(payload, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst, reject(ReasonNotJSON, "trailing data after the JSON value")
	}
	d := decoder{dst: dst, n0: len(dst), now: now}
	if err := d.top(topic, v); err != nil {
		return dst, err
	}
	return d.dst, nil
}

func notJSON(payload []byte, err error) error {
	t := string(bytes.TrimSpace(payload))
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")) {
	case "nan", "inf", "infinity":
		return reject(ReasonNonFinite, "%s is not a finite number", t)
	}
	if len(t) > 32 {
		t = t[:32] + "…"
	}
	return reject(ReasonNotJSON, "payload %q is not JSON: %v", t, err)
}

type decoder struct {
	dst []Point
	n0  int
	now int64
}

func (d *decoder) top(topic string, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return d.leaf(topic, v, d.now)
	}
	if isValueObject(obj) {
		return d.valueObject(topic, obj, d.now)
	}
	if err := ValidatePath(topic + "/x"); err != nil {
		return reject(ReasonInvalidPath, "%v", err)
	}
	ts := d.now
	if raw, ok := obj["ts"]; ok {
		t, err := parseTS(raw)
		if err != nil {
			return err
		}
		ts = t
	}
	if err := d.object(topic, obj, ts, true); err != nil {
		return err
	}
	if len(d.dst) == d.n0 {
		return reject(ReasonWrongType, "object on %q holds no values", topic)
	}
	return nil
}

// isValueObject reports whether obj is {"value":…} with optional ts and q.
func isValueObject(obj map[string]any) bool {
	if _, ok := obj["value"]; !ok {
		return false
	}
	for k := range obj {
		if k != "value" && k != "ts" && k != "q" {
			return false
		}
	}
	return true
}

func (d *decoder) object(prefix string, obj map[string]any, ts int64, top bool) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if top && k == "ts" {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic output order
	for _, k := range keys {
		path := prefix + "/" + k
		// Check before descending: a deeply nested object must cost no more
		// than a path's worth of work.
		if len(path) > MaxPathLen || strings.Count(path, "/") >= MaxPathSegments {
			return reject(ReasonInvalidPath, "%.64s…: nested deeper than a UNS path allows (%d segments, %d bytes)", path, MaxPathSegments, MaxPathLen)
		}
		switch c := obj[k].(type) {
		case map[string]any:
			if isValueObject(c) {
				if err := d.valueObject(path, c, ts); err != nil {
					return err
				}
				continue
			}
			if err := d.object(path, c, ts, false); err != nil {
				return err
			}
		default:
			if err := d.leaf(path, c, ts); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *decoder) valueObject(path string, obj map[string]any, ts int64) error {
	if raw, ok := obj["ts"]; ok {
		t, err := parseTS(raw)
		if err != nil {
			return err
		}
		ts = t
	}
	q := Good
	if raw, ok := obj["q"]; ok {
		s, ok := raw.(string)
		if !ok {
			return reject(ReasonBadQuality, "%s: q must be \"good\", \"uncertain\" or \"bad\"", path)
		}
		var err error
		if q, err = ParseQuality(s); err != nil {
			return reject(ReasonBadQuality, "%s: %v", path, err)
		}
	}
	if err := d.leaf(path, obj["value"], ts); err != nil {
		return err
	}
	d.dst[len(d.dst)-1].Quality = q
	return nil
}

func (d *decoder) leaf(path string, v any, ts int64) error {
	if err := ValidatePath(path); err != nil {
		return reject(ReasonInvalidPath, "%v", err)
	}
	val, err := scalar(path, v)
	if err != nil {
		return err
	}
	if len(d.dst)-d.n0 >= MaxPointsPerPayload {
		return reject(ReasonOversized, "more than %d values in one payload", MaxPointsPerPayload)
	}
	d.dst = append(d.dst, Point{Series: path, TS: ts, Value: val})
	return nil
}

func scalar(path string, v any) (Value, error) {
	switch x := v.(type) {
	case json.Number:
		return number(path, string(x))
	case bool:
		return Bool(x), nil
	case string:
		return String(x), nil
	case nil:
		return Value{}, reject(ReasonWrongType, "%s: null is not a value", path)
	case []any:
		return Value{}, reject(ReasonWrongType, "%s: arrays are not values", path)
	case map[string]any:
		return Value{}, reject(ReasonWrongType, "%s: an object is not a value here", path)
	}
	return Value{}, reject(ReasonWrongType, "%s: unsupported JSON type %T", path, v)
}

// number keeps integers exact: a literal without fraction or exponent that
// fits int64 is an Int, anything else a Float.
func number(path, s string) (Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{}, reject(ReasonNonFinite, "%s: %s is not a finite float64", path, s)
	}
	return Float(f), nil
}

// parseTS reads a timestamp: a number of unix milliseconds or an RFC 3339 string.
func parseTS(raw any) (int64, error) {
	var ns int64
	switch x := raw.(type) {
	case json.Number:
		var ok bool
		if ns, ok = msToNS(string(x)); !ok {
			return 0, reject(ReasonBadTS, "ts %s is not a number of unix milliseconds in 1970..2200", x)
		}
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return 0, reject(ReasonBadTS, "ts %q: want unix milliseconds or RFC 3339", x)
		}
		ns = t.UnixNano()
		if ns < minTS || ns > maxTS {
			return 0, reject(ReasonBadTS, "ts %q is outside 1970..2200", x)
		}
	default:
		return 0, reject(ReasonBadTS, "ts must be unix milliseconds or an RFC 3339 string")
	}
	return ns, nil
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
