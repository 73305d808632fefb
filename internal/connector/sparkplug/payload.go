package sparkplug

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/molen-io/molen/internal/uns"
)

// Limits on one payload, which any client of the broker may publish. A
// payload beyond them is rejected whole.
const (
	MaxPayloadBytes = 4 << 20 // a birth of a large edge node fits
	MaxMetrics      = 10000   // metrics in one payload
	MaxNameLen      = 1024    // bytes of a metric name
	MaxStringLen    = 64 << 10
)

// DataType is a Sparkplug B metric datatype.
type DataType uint32

// The scalar datatypes this package maps onto UNS values; the others
// (UUID, DataSet, Bytes, File, Template, property sets, arrays) are
// decoded but not mapped.
const (
	Int8     DataType = 1
	Int16    DataType = 2
	Int32    DataType = 3
	Int64    DataType = 4
	UInt8    DataType = 5
	UInt16   DataType = 6
	UInt32   DataType = 7
	UInt64   DataType = 8
	Float    DataType = 9
	Double   DataType = 10
	Boolean  DataType = 11
	String   DataType = 12
	DateTime DataType = 13
	Text     DataType = 14
)

// ValueField is the field of a Metric that carried its value.
type ValueField uint8

// The value fields, named after the protobuf oneof.
const (
	NoValue     ValueField = iota // none: a null metric, or a datatype-only declaration
	IntValue                      // int_value (10), uint32
	LongValue                     // long_value (11), uint64
	FloatValue                    // float_value (12), float
	DoubleValue                   // double_value (13), double
	BoolValue                     // boolean_value (14)
	StringValue                   // string_value (15)
	BytesValue                    // bytes_value (16)
	Unsupported                   // dataset_value, template_value or extension_value (17-19)
)

// Payload is a Sparkplug B payload (the fields this package uses).
type Payload struct {
	Timestamp uint64 // unix ms; 0 if absent
	Metrics   []Metric
	Seq       uint64
	HasSeq    bool
	UUID      string
	Body      []byte // aliases the decoded bytes
}

// Metric is one metric of a payload.
type Metric struct {
	Name         string
	Alias        uint64
	HasAlias     bool
	Timestamp    uint64 // unix ms; 0 if absent
	Datatype     DataType
	IsHistorical bool
	IsTransient  bool
	IsNull       bool
	Field        ValueField
	Bits         uint64 // int, long, float (32 bits), double and bool values
	Str          string // string_value
	Bytes        []byte // bytes_value; aliases the decoded bytes
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed Sparkplug B payload")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Decode parses a Sparkplug B payload into p, reusing p.Metrics. Unknown
// fields are skipped, as protobuf wants; metadata and properties are skipped
// too. Strings are copied; Body and Bytes alias b.
func Decode(b []byte, p *Payload) error {
	ms := p.Metrics[:0]
	*p = Payload{}
	defer func() { p.Metrics = ms }()
	if len(b) > MaxPayloadBytes {
		return malformed("%d bytes, limit %d", len(b), MaxPayloadBytes)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("payload: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return malformed("timestamp: %v", protowire.ParseError(n))
			}
			p.Timestamp, b = v, b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return malformed("metric %d: %v", len(ms), protowire.ParseError(n))
			}
			if len(ms) == MaxMetrics {
				return malformed("more than %d metrics", MaxMetrics)
			}
			ms = append(ms, Metric{})
			if err := decodeMetric(v, &ms[len(ms)-1]); err != nil {
				return fmt.Errorf("metric %d: %w", len(ms)-1, err)
			}
			b = b[n:]
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return malformed("seq: %v", protowire.ParseError(n))
			}
			p.Seq, p.HasSeq, b = v, true, b[n:]
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return malformed("uuid: %v", protowire.ParseError(n))
			}
			if len(v) > MaxStringLen {
				return malformed("uuid of %d bytes, limit %d", len(v), MaxStringLen)
			}
			p.UUID, b = string(v), b[n:]
		case num == 5 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return malformed("body: %v", protowire.ParseError(n))
			}
			p.Body, b = v, b[n:]
		case num <= 5:
			return malformed("field %d has wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return malformed("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func decodeMetric(b []byte, m *Metric) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("%v", protowire.ParseError(n))
		}
		b = b[n:]
		var want protowire.Type
		switch num {
		case 1, 8, 9, 15, 16, 17, 18, 19:
			want = protowire.BytesType
		case 2, 3, 4, 5, 6, 7, 10, 11, 14:
			want = protowire.VarintType
		case 12:
			want = protowire.Fixed32Type
		case 13:
			want = protowire.Fixed64Type
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return malformed("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if typ != want {
			return malformed("field %d has wire type %d, want %d", num, typ, want)
		}
		var (
			u   uint64
			raw []byte
		)
		switch want {
		case protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			u = uint64(v)
		case protowire.Fixed64Type:
			u, n = protowire.ConsumeFixed64(b)
		default:
			raw, n = protowire.ConsumeBytes(b)
		}
		if n < 0 {
			return malformed("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1:
			if len(raw) > MaxNameLen {
				return malformed("name of %d bytes, limit %d", len(raw), MaxNameLen)
			}
			m.Name = string(raw)
		case 2:
			m.Alias, m.HasAlias = u, true
		case 3:
			m.Timestamp = u
		case 4:
			m.Datatype = DataType(uint32(u))
		case 5:
			m.IsHistorical = u != 0
		case 6:
			m.IsTransient = u != 0
		case 7:
			m.IsNull = u != 0
		case 10:
			m.Field, m.Bits = IntValue, uint64(uint32(u))
		case 11:
			m.Field, m.Bits = LongValue, u
		case 12:
			m.Field, m.Bits = FloatValue, u
		case 13:
			m.Field, m.Bits = DoubleValue, u
		case 14:
			m.Field, m.Bits = BoolValue, 0
			if u != 0 {
				m.Bits = 1
			}
		case 15:
			if len(raw) > MaxStringLen {
				return malformed("string value of %d bytes, limit %d", len(raw), MaxStringLen)
			}
			m.Field, m.Str = StringValue, string(raw)
		case 16:
			m.Field, m.Bytes = BytesValue, raw
		case 17, 18, 19:
			m.Field = Unsupported
		}
	}
	return nil
}

// Reasons a metric's value cannot become a UNS value.
var (
	errUnsupported = errors.New("unsupported datatype")
	errOutOfRange  = errors.New("UInt64 value above 2^63-1")
	errNonFinite   = errors.New("NaN or infinite")
	errMismatch    = errors.New("value field does not match the datatype")
)

// Value converts m's value under datatype dt (the metric's own, or the one
// its birth declared) into a UNS value. Signed integers are sign-extended
// from their two's-complement width; DateTime is unix milliseconds as an
// int. It fails with errUnsupported for datatypes it does not map.
func (m *Metric) Value(dt DataType) (uns.Value, error) {
	switch dt {
	case Int8, Int16, Int32, UInt8, UInt16, UInt32:
		if m.Field != IntValue && m.Field != LongValue {
			return uns.Value{}, errMismatch
		}
		u := uint32(m.Bits)
		switch dt {
		case Int8:
			return uns.Int(int64(int8(u))), nil
		case Int16:
			return uns.Int(int64(int16(u))), nil
		case Int32:
			return uns.Int(int64(int32(u))), nil
		case UInt8:
			return uns.Int(int64(uint8(u))), nil
		case UInt16:
			return uns.Int(int64(uint16(u))), nil
		}
		return uns.Int(int64(u)), nil
	case Int64, DateTime:
		if m.Field != LongValue && m.Field != IntValue {
			return uns.Value{}, errMismatch
		}
		return uns.Int(int64(m.Bits)), nil
	case UInt64:
		if m.Field != LongValue && m.Field != IntValue {
			return uns.Value{}, errMismatch
		}
		if m.Bits > math.MaxInt64 {
			return uns.Value{}, errOutOfRange
		}
		return uns.Int(int64(m.Bits)), nil
	case Float, Double:
		var f float64
		switch m.Field {
		case FloatValue:
			f = float64(math.Float32frombits(uint32(m.Bits)))
		case DoubleValue:
			f = math.Float64frombits(m.Bits)
		default:
			return uns.Value{}, errMismatch
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return uns.Value{}, errNonFinite
		}
		return uns.Float(f), nil
	case Boolean:
		if m.Field != BoolValue {
			return uns.Value{}, errMismatch
		}
		return uns.Bool(m.Bits == 1), nil
	case String, Text:
		if m.Field != StringValue {
			return uns.Value{}, errMismatch
		}
		return uns.String(m.Str), nil
	}
	return uns.Value{}, errUnsupported
}

// SetValue sets m's value field from v under m.Datatype, the inverse of
// Value: what an edge node (the simulator, tests) publishes.
func (m *Metric) SetValue(v uns.Value) error {
	m.IsNull = false
	switch m.Datatype {
	case Int8, Int16, Int32, UInt8, UInt16, UInt32:
		if v.Kind() != uns.KindInt {
			return fmt.Errorf("datatype %d wants an int, got %v", m.Datatype, v.Kind())
		}
		m.Field, m.Bits = IntValue, uint64(uint32(v.Int()))
	case Int64, UInt64, DateTime:
		if v.Kind() != uns.KindInt {
			return fmt.Errorf("datatype %d wants an int, got %v", m.Datatype, v.Kind())
		}
		m.Field, m.Bits = LongValue, uint64(v.Int())
	case Float:
		f, ok := v.AsFloat()
		if !ok {
			return fmt.Errorf("datatype %d (Float) wants a number, got %v", m.Datatype, v.Kind())
		}
		m.Field, m.Bits = FloatValue, uint64(math.Float32bits(float32(f)))
	case Double:
		f, ok := v.AsFloat()
		if !ok {
			return fmt.Errorf("datatype %d (Double) wants a number, got %v", m.Datatype, v.Kind())
		}
		m.Field, m.Bits = DoubleValue, math.Float64bits(f)
	case Boolean:
		if v.Kind() != uns.KindBool {
			return fmt.Errorf("datatype %d (Boolean) wants a bool, got %v", m.Datatype, v.Kind())
		}
		m.Field, m.Bits = BoolValue, 0
		if v.Bool() {
			m.Bits = 1
		}
	case String, Text:
		if v.Kind() != uns.KindString {
			return fmt.Errorf("String wants a string, got %v", v.Kind())
		}
		m.Field, m.Str = StringValue, v.Str()
	default:
		return fmt.Errorf("datatype %d: %w", m.Datatype, errUnsupported)
	}
	return nil
}

// Append appends p's protobuf encoding to b.
func (p *Payload) Append(b []byte) []byte {
	if p.Timestamp != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, p.Timestamp)
	}
	for i := range p.Metrics {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Metrics[i].append(nil))
	}
	if p.HasSeq {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, p.Seq)
	}
	if p.UUID != "" {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, p.UUID)
	}
	if p.Body != nil {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Body)
	}
	return b
}

func (m *Metric) append(b []byte) []byte {
	varint := func(num protowire.Number, v uint64) {
		b = protowire.AppendTag(b, num, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	}
	flag := func(num protowire.Number, set bool) {
		if set {
			varint(num, 1)
		}
	}
	if m.Name != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, m.Name)
	}
	if m.HasAlias {
		varint(2, m.Alias)
	}
	if m.Timestamp != 0 {
		varint(3, m.Timestamp)
	}
	if m.Datatype != 0 {
		varint(4, uint64(m.Datatype))
	}
	flag(5, m.IsHistorical)
	flag(6, m.IsTransient)
	flag(7, m.IsNull)
	switch m.Field {
	case IntValue:
		varint(10, uint64(uint32(m.Bits)))
	case LongValue:
		varint(11, m.Bits)
	case FloatValue:
		b = protowire.AppendTag(b, 12, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, uint32(m.Bits))
	case DoubleValue:
		b = protowire.AppendTag(b, 13, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, m.Bits)
	case BoolValue:
		varint(14, m.Bits&1)
	case StringValue:
		b = protowire.AppendTag(b, 15, protowire.BytesType)
		b = protowire.AppendString(b, m.Str)
	case BytesValue:
		b = protowire.AppendTag(b, 16, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Bytes)
	}
	return b
}
