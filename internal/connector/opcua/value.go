package opcua

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

// Reasons under which Status.Rejected counts values and refusals.
const (
	ReasonBadStatus       = "bad_status"       // a value whose status code is Bad: not written
	ReasonUnsupportedType = "unsupported_type" // arrays, byte strings, dates, structures, …
	ReasonNoValue         = "no_value"         // a Good or Uncertain status without a value
	ReasonNotFinite       = "not_finite"       // a float that is NaN or ±Inf
	ReasonOutOfRange      = "out_of_range"     // a UInt64 above the int64 range
	// ReasonSubscribeRefused counts sessions in which the server refused
	// to create a subscription (or its monitored items service): the
	// input polls every node instead.
	ReasonSubscribeRefused = "subscribe_refused"
	// ReasonMonitorRefused counts nodes the server refused to monitor
	// (an unknown NodeID, a node that is not a variable, …): the input
	// polls them instead.
	ReasonMonitorRefused = "monitor_refused"
)

// quality maps a status code's severity onto a UNS quality: 00 Good,
// 01 Uncertain, 10 and 11 Bad (OPC UA Part 4, 7.39).
func quality(sc ua.StatusCode) uns.Quality {
	switch uint32(sc) >> 30 {
	case 0:
		return uns.Good
	case 1:
		return uns.Uncertain
	}
	return uns.Bad
}

// overflow reports whether the status code's info bits say the monitored
// item's queue overflowed, i.e. that the server dropped samples before this
// one (Part 4, 7.39: InfoType DataValue, Overflow bit).
func overflow(sc ua.StatusCode) bool {
	const infoTypeDataValue, overflowBit = 1 << 10, 1 << 7
	return uint32(sc)&(3<<10) == infoTypeDataValue && uint32(sc)&overflowBit != 0
}

// timestamp is the data value's source timestamp, else its server
// timestamp, else now. Timestamps before 1970 (the OPC UA minimum date is
// 1601, which some servers send for "unknown") count as missing.
func timestamp(dv *ua.DataValue, now time.Time) int64 {
	if dv.Has(ua.DataValueSourceTimestamp) && usable(dv.SourceTimestamp) {
		return dv.SourceTimestamp.UnixNano()
	}
	if dv.Has(ua.DataValueServerTimestamp) && usable(dv.ServerTimestamp) {
		return dv.ServerTimestamp.UnixNano()
	}
	return now.UnixNano()
}

// usable reports whether t is after 1970 and within the range of unix
// nanoseconds (UnixNano is undefined outside it).
func usable(t time.Time) bool {
	return t.After(time.Unix(0, 0)) && t.Before(time.Unix(0, math.MaxInt64))
}

// status is the data value's status code; a data value without one is Good.
func status(dv *ua.DataValue) ua.StatusCode {
	if dv.Has(ua.DataValueStatusCode) {
		return dv.Status
	}
	return ua.StatusOK
}

// convert turns a data value into a point of series. It returns a reason
// and a description instead when the value cannot be written.
func convert(series string, dv *ua.DataValue, now time.Time) (pt uns.Point, reason, msg string) {
	if dv == nil {
		return pt, ReasonNoValue, "no data value"
	}
	sc := status(dv)
	q := quality(sc)
	if q == uns.Bad {
		return pt, ReasonBadStatus, fmt.Sprintf("status %s (0x%08X)", statusName(sc), uint32(sc))
	}
	if dv.Value == nil || dv.Value.Type() == ua.TypeIDNull {
		return pt, ReasonNoValue, fmt.Sprintf("status %s without a value", statusName(sc))
	}
	v, reason, msg := variant(dv.Value)
	if reason != "" {
		return pt, reason, msg
	}
	return uns.Point{Series: series, TS: timestamp(dv, now), Value: v, Quality: q}, "", ""
}

// variant maps the scalar built-in types onto UNS values: Boolean; SByte,
// Byte, Int16…Int64, UInt16, UInt32 and UInt64 up to 2^63-1 as ints; Float
// and Double as floats; String. Everything else is refused.
func variant(v *ua.Variant) (uns.Value, string, string) {
	switch x := v.Value().(type) {
	case bool:
		return uns.Bool(x), "", ""
	case int8:
		return uns.Int(int64(x)), "", ""
	case uint8:
		return uns.Int(int64(x)), "", ""
	case int16:
		return uns.Int(int64(x)), "", ""
	case uint16:
		return uns.Int(int64(x)), "", ""
	case int32:
		return uns.Int(int64(x)), "", ""
	case uint32:
		return uns.Int(int64(x)), "", ""
	case int64:
		return uns.Int(x), "", ""
	case uint64:
		if x > math.MaxInt64 {
			return uns.Value{}, ReasonOutOfRange, fmt.Sprintf("UInt64 %d is above %d", x, int64(math.MaxInt64))
		}
		return uns.Int(int64(x)), "", ""
	case float32:
		return finite(float64(x))
	case float64:
		return finite(x)
	case string:
		return uns.String(x), "", ""
	}
	what := strings.TrimPrefix(v.Type().String(), "TypeID")
	if v.ArrayLength() > 0 || v.Has(ua.VariantArrayValues) {
		what = "array of " + what
	}
	return uns.Value{}, ReasonUnsupportedType, fmt.Sprintf("type %s is not supported (want a scalar bool, integer, float or string)", what)
}

func finite(f float64) (uns.Value, string, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return uns.Value{}, ReasonNotFinite, fmt.Sprintf("float %v", f)
	}
	return uns.Float(f), "", ""
}

// statusName is the status code's symbolic name without the library's
// Go prefix, e.g. BadSensorFailure.
func statusName(sc ua.StatusCode) string {
	// The low 16 bits are info bits (overflow, limits), not part of the
	// code's name.
	if d, ok := ua.StatusCodes[sc&0xFFFF0000]; ok {
		return strings.TrimPrefix(d.Name, "Status")
	}
	return fmt.Sprintf("0x%08X", uint32(sc))
}
