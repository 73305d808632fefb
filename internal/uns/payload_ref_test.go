package uns

// The decoder molen used before its own scanner: encoding/json into any.
// FuzzDecode checks the scanner against it, and BenchmarkDecode compares
// them. It replaces invalid UTF-8 by U+FFFD and keeps the last of duplicate
// keys, which Decode rejects.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// refDecode is Decode as it was before its scanner.
func refDecode(dst []Point, topic string, payload []byte, now int64) ([]Point, error) {
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
		return dst, refNotJSON(payload, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst, reject(ReasonNotJSON, "trailing data after the JSON value")
	}
	d := refDecoder{dst: dst, n0: len(dst), now: now}
	if err := d.top(topic, v); err != nil {
		return dst, err
	}
	return d.dst, nil
}

func refNotJSON(payload []byte, err error) error {
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

type refDecoder struct {
	dst []Point
	n0  int
	now int64
}

func (d *refDecoder) top(topic string, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return d.leaf(topic, v, d.now)
	}
	if refIsValueObject(obj) {
		return d.valueObject(topic, obj, d.now)
	}
	if err := ValidatePath(topic + "/x"); err != nil {
		return reject(ReasonInvalidPath, "%v", err)
	}
	ts := d.now
	if raw, ok := obj["ts"]; ok {
		t, err := refParseTS(raw)
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
func refIsValueObject(obj map[string]any) bool {
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

func (d *refDecoder) object(prefix string, obj map[string]any, ts int64, top bool) error {
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
			if refIsValueObject(c) {
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

func (d *refDecoder) valueObject(path string, obj map[string]any, ts int64) error {
	if raw, ok := obj["ts"]; ok {
		t, err := refParseTS(raw)
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

func (d *refDecoder) leaf(path string, v any, ts int64) error {
	if err := ValidatePath(path); err != nil {
		return reject(ReasonInvalidPath, "%v", err)
	}
	val, err := refScalar(path, v)
	if err != nil {
		return err
	}
	if len(d.dst)-d.n0 >= MaxPointsPerPayload {
		return reject(ReasonOversized, "more than %d values in one payload", MaxPointsPerPayload)
	}
	d.dst = append(d.dst, Point{Series: path, TS: ts, Value: val})
	return nil
}

func refScalar(path string, v any) (Value, error) {
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

// parseTS reads a timestamp: a number of unix milliseconds or an RFC 3339 string.
func refParseTS(raw any) (int64, error) {
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
