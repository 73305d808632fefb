package sparkplug

import (
	"math"
	"strconv"
	"testing"
)

// BenchmarkDecode decodes an NDATA of 10 and of 100 metrics by alias
// (what an edge node sends after its birth) and maps it onto points, as
// the input's writer does: one op is one message.
func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{10, 100} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			g, err := compileGroups("+", "")
			if err != nil {
				b.Fatal(err)
			}
			h := newHost(g, 1<<62, true)
			birth := Payload{Timestamp: 1700000000000, HasSeq: true, Metrics: []Metric{{Name: "bdSeq", Datatype: UInt64, Field: LongValue}}}
			data := Payload{Timestamp: 1700000000000, HasSeq: true}
			for i := range size {
				dt := []DataType{Double, Int32, Boolean, Float}[i%4]
				m := Metric{Name: "Line/Machine/M" + strconv.Itoa(i), Alias: uint64(i + 1), HasAlias: true, Datatype: dt}
				switch dt {
				case Double:
					m.Field, m.Bits = DoubleValue, math.Float64bits(float64(i)+0.5)
				case Float:
					m.Field, m.Bits = FloatValue, uint64(math.Float32bits(float32(i)))
				case Boolean:
					m.Field, m.Bits = BoolValue, 1
				default:
					m.Field, m.Bits = IntValue, uint64(uint32(-i))
				}
				birth.Metrics = append(birth.Metrics, m)
				m.Name, m.Datatype = "", 0
				data.Metrics = append(data.Metrics, m)
			}
			pts := h.handle(nil, "spBv1.0/g/NBIRTH/n", birth.Append(nil), 1)
			if len(pts) != size {
				b.Fatalf("birth gave %d points, want %d", len(pts), size)
			}
			msgs := make([][]byte, 256)
			for i := range msgs {
				data.Seq = uint64(i + 1)
				msgs[i] = data.Append(nil)
			}
			var n int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				pts = h.handle(pts[:0], "spBv1.0/g/NDATA/n", msgs[i%256], 1)
				n += len(pts)
			}
			if n == 0 || len(pts) != size {
				b.Fatalf("%d points per message, want %d", len(pts), size)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
