package sparkplug

import (
	"errors"
	"math"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

func TestValue(t *testing.T) {
	tests := []struct {
		name string
		dt   DataType
		m    Metric
		want uns.Value
		err  error
	}{
		{"int8 negative", Int8, Metric{Field: IntValue, Bits: 0xfe}, uns.Int(-2), nil},
		{"int8 in 32 bits", Int8, Metric{Field: IntValue, Bits: 0xfffffffe}, uns.Int(-2), nil},
		{"int16 negative", Int16, Metric{Field: IntValue, Bits: 0xffff8000}, uns.Int(math.MinInt16), nil},
		{"int32 negative", Int32, Metric{Field: IntValue, Bits: 0xffffffff}, uns.Int(-1), nil},
		{"int64 negative", Int64, Metric{Field: LongValue, Bits: math.MaxUint64}, uns.Int(-1), nil},
		{"uint8", UInt8, Metric{Field: IntValue, Bits: 0xff}, uns.Int(255), nil},
		{"uint16", UInt16, Metric{Field: IntValue, Bits: 0xffff}, uns.Int(65535), nil},
		{"uint32", UInt32, Metric{Field: IntValue, Bits: 0xffffffff}, uns.Int(math.MaxUint32), nil},
		{"uint64", UInt64, Metric{Field: LongValue, Bits: math.MaxInt64}, uns.Int(math.MaxInt64), nil},
		{"uint64 too big", UInt64, Metric{Field: LongValue, Bits: math.MaxInt64 + 1}, uns.Value{}, errOutOfRange},
		{"float", Float, Metric{Field: FloatValue, Bits: uint64(math.Float32bits(1.5))}, uns.Float(1.5), nil},
		{"double", Double, Metric{Field: DoubleValue, Bits: math.Float64bits(-2.25)}, uns.Float(-2.25), nil},
		{"double NaN", Double, Metric{Field: DoubleValue, Bits: math.Float64bits(math.NaN())}, uns.Value{}, errNonFinite},
		{"bool", Boolean, Metric{Field: BoolValue, Bits: 1}, uns.Bool(true), nil},
		{"string", String, Metric{Field: StringValue, Str: "run"}, uns.String("run"), nil},
		{"text", Text, Metric{Field: StringValue, Str: "long"}, uns.String("long"), nil},
		{"datetime", DateTime, Metric{Field: LongValue, Bits: 1700000000000}, uns.Int(1700000000000), nil},
		{"mismatch", Boolean, Metric{Field: StringValue, Str: "x"}, uns.Value{}, errMismatch},
		{"dataset", 16, Metric{Field: Unsupported}, uns.Value{}, errUnsupported},
		{"uuid", 15, Metric{Field: StringValue, Str: "x"}, uns.Value{}, errUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Value(tt.dt)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("Value = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
			if tt.err != nil {
				return
			}
			back := Metric{Datatype: tt.dt}
			if err := back.SetValue(got); err != nil {
				t.Fatalf("SetValue(%v): %v", got, err)
			}
			if again, err := back.Value(tt.dt); err != nil || again != got {
				t.Errorf("SetValue then Value = %v, %v; want %v", again, err, got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	want := Payload{
		Timestamp: 1700000000000, Seq: 7, HasSeq: true, UUID: "u-1", Body: []byte{1, 2},
		Metrics: []Metric{
			{Name: "Motor/RPM", Alias: 3, HasAlias: true, Timestamp: 1700000000001, Datatype: Int32, Field: IntValue, Bits: 0xffffffff},
			{Alias: 4, HasAlias: true, Datatype: Double, IsHistorical: true, Field: DoubleValue, Bits: math.Float64bits(2.5)},
			{Name: "null", Datatype: String, IsNull: true, IsTransient: true},
			{Name: "b", Datatype: 17, Field: BytesValue, Bytes: []byte("raw")},
		},
	}
	var got Payload
	if err := Decode(want.Append(nil), &got); err != nil {
		t.Fatal(err)
	}
	if got.Timestamp != want.Timestamp || got.Seq != 7 || !got.HasSeq || got.UUID != "u-1" || string(got.Body) != "\x01\x02" || len(got.Metrics) != 4 {
		t.Fatalf("decoded %+v", got)
	}
	for i := range want.Metrics {
		w, g := want.Metrics[i], got.Metrics[i]
		if g.Name != w.Name || g.Alias != w.Alias || g.HasAlias != w.HasAlias || g.Timestamp != w.Timestamp || g.Datatype != w.Datatype ||
			g.IsHistorical != w.IsHistorical || g.IsNull != w.IsNull || g.IsTransient != w.IsTransient || g.Field != w.Field || g.Bits != w.Bits || string(g.Bytes) != string(w.Bytes) {
			t.Errorf("metric %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestDecodeBad(t *testing.T) {
	many := make([]byte, 0, 2*(MaxMetrics+1))
	for range MaxMetrics + 1 {
		many = append(many, 0x12, 0x00) // an empty metric
	}
	long := Payload{Metrics: []Metric{{Name: string(make([]byte, MaxNameLen+1))}}}
	tests := []struct {
		name string
		b    []byte
	}{
		{"text", []byte("21.5 °C")},
		{"truncated varint", []byte{0x08, 0xff}},
		{"truncated metric", []byte{0x12, 0x05, 0x08}},
		{"wrong wire type", []byte{0x0a, 0x00}}, // timestamp as bytes
		{"metric wrong wire type", []byte{0x12, 0x02, 0x0d, 0, 0, 0, 0}[:4]},
		{"too many metrics", many},
		{"long name", long.Append(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Payload
			if err := Decode(tt.b, &p); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode = %v, want ErrMalformed", err)
			}
		})
	}
	// Unknown fields are skipped.
	var p Payload
	if err := Decode([]byte{0x30, 0x01, 0x08, 0x05}, &p); err != nil || p.Timestamp != 5 {
		t.Errorf("unknown field: %v, %+v", err, p)
	}
}

// FuzzDecode (corpus in testdata/fuzz/FuzzDecode) feeds arbitrary bytes (what any client of the broker may
// publish) to the decoder and the host: nothing panics, limits hold, and a
// payload that decodes re-encodes to one that decodes alike.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x18, 0x02})
	f.Add([]byte("not protobuf"))
	g, err := compileGroups("+", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Payload
		if err := Decode(b, &p); err != nil {
			return
		}
		if len(p.Metrics) > MaxMetrics {
			t.Fatalf("%d metrics", len(p.Metrics))
		}
		var q Payload
		if err := Decode(p.Append(nil), &q); err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if len(q.Metrics) != len(p.Metrics) || q.Seq != p.Seq || q.Timestamp != p.Timestamp {
			t.Fatalf("re-encoded %+v, was %+v", q, p)
		}
		h := newHost(g, 1, true)
		for _, topic := range []string{"spBv1.0/g/NBIRTH/n", "spBv1.0/g/DBIRTH/n/d", "spBv1.0/g/DDATA/n/d", "spBv1.0/g/NDATA/n", "spBv1.0/g/DDEATH/n/d", "spBv1.0/g/NDEATH/n"} {
			for _, pt := range h.handle(nil, topic, b, 1) {
				if err := uns.ValidatePath(pt.Series); err != nil || pt.Value.Kind() == uns.KindInvalid || pt.TS <= 0 {
					t.Fatalf("%s: point %+v: %v", topic, pt, err)
				}
			}
		}
	})
}

// compileGroups compiles a config of one group.
func compileGroups(name, path string) ([]group, error) {
	c := NewConfig()
	c.URL = "tcp://127.0.0.1:1"
	c.Groups = []Group{{Group: name, Path: path}}
	return compile(c)
}
