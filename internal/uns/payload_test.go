package uns

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const now = int64(1_700_000_000_000_000_000)

func fp(series string, ts int64, v Value, q Quality) Point {
	return Point{Series: series, TS: ts, Value: v, Quality: q}
}

func TestDecode(t *testing.T) {
	const topic = "s/a/l/m/temp"
	ms := int64(1_700_000_000_123)
	tests := []struct {
		name    string
		topic   string
		payload string
		want    []Point
	}{
		{"bare float", topic, "21.5", []Point{fp(topic, now, Float(21.5), Good)}},
		{"bare int", topic, "42", []Point{fp(topic, now, Int(42), Good)}},
		{"big int exact", topic, "9007199254740993", []Point{fp(topic, now, Int(9007199254740993), Good)}},
		{"int beyond int64 is float", topic, "18446744073709551616", []Point{fp(topic, now, Float(18446744073709551616), Good)}},
		{"exponent is float", topic, "1e3", []Point{fp(topic, now, Float(1000), Good)}},
		{"negative", topic, "-3", []Point{fp(topic, now, Int(-3), Good)}},
		{"bool", topic, "true", []Point{fp(topic, now, Bool(true), Good)}},
		{"string", topic, `"running"`, []Point{fp(topic, now, String("running"), Good)}},
		{"whitespace", topic, " 1 \n", []Point{fp(topic, now, Int(1), Good)}},
		{"value object", topic, `{"value": 1.5}`, []Point{fp(topic, now, Float(1.5), Good)}},
		{"value ts q", topic, fmt.Sprintf(`{"value": 2, "ts": %d, "q": "bad"}`, ms), []Point{fp(topic, ms*1e6, Int(2), Bad)}},
		{"fractional ms", topic, `{"value": 2, "ts": 1700000000000.5}`, []Point{fp(topic, 1_700_000_000_000_500_000, Int(2), Good)}},
		{"rfc3339 ts", topic, `{"value": 2, "ts": "2023-11-14T22:13:20Z"}`, []Point{fp(topic, now, Int(2), Good)}},
		{"flatten", "s/a/l/m", `{"temp": 1.5, "motor": {"rpm": 1200, "on": true}, "mode": "auto"}`, []Point{
			fp("s/a/l/m/mode", now, String("auto"), Good),
			fp("s/a/l/m/motor/on", now, Bool(true), Good),
			fp("s/a/l/m/motor/rpm", now, Int(1200), Good),
			fp("s/a/l/m/temp", now, Float(1.5), Good),
		}},
		{"flatten with ts", "m", fmt.Sprintf(`{"ts": %d, "a": 1, "b": {"value": 2, "q": "uncertain"}}`, ms), []Point{
			fp("m/a", ms*1e6, Int(1), Good),
			fp("m/b", ms*1e6, Int(2), Uncertain),
		}},
		{"value plus other keys flattens", "m", `{"value": 1, "unit": "C"}`, []Point{
			fp("m/unit", now, String("C"), Good),
			fp("m/value", now, Int(1), Good),
		}},
		{"escapes", topic, `"caf\u00e9 \ud83d\ude00\n\"\\\/"`, []Point{fp(topic, now, String("café 😀\n\"\\/"), Good)}},
		{"escaped key", "m", `{"\u0061": 1}`, []Point{fp("m/a", now, Int(1), Good)}},
		{"keys sorted per object", "m", `{"b": 1, "a-b": 2, "a": {"y": 3, "x": 4}}`, []Point{
			fp("m/a/x", now, Int(4), Good),
			fp("m/a/y", now, Int(3), Good),
			fp("m/a-b", now, Int(2), Good),
			fp("m/b", now, Int(1), Good),
		}},
		{"ts after the values", "m", fmt.Sprintf(`{"a": 1, "ts": %d}`, ms), []Point{fp("m/a", ms*1e6, Int(1), Good)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(nil, tt.topic, []byte(tt.payload), now)
			if err != nil {
				t.Fatalf("Decode(%q, %q) error: %v", tt.topic, tt.payload, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Decode(%q, %q)\n got  %v\n want %v", tt.topic, tt.payload, got, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	const topic = "s/a/l/m/temp"
	tests := []struct {
		name    string
		topic   string
		payload string
		reason  string
	}{
		{"not json", topic, "hello", ReasonNotJSON},
		{"empty", topic, "", ReasonNotJSON},
		{"truncated", topic, `{"value": 1`, ReasonNotJSON},
		{"trailing", topic, `1 2`, ReasonNotJSON},
		{"nan", topic, "NaN", ReasonNonFinite},
		{"inf", topic, "-Infinity", ReasonNonFinite},
		{"overflow", topic, "1e400", ReasonNonFinite},
		{"overflow in object", topic, `{"value": -1e999}`, ReasonNonFinite},
		{"null", topic, "null", ReasonWrongType},
		{"array", topic, "[1,2]", ReasonWrongType},
		{"value array", topic, `{"value": [1]}`, ReasonWrongType},
		{"value object in value", topic, `{"value": {"x": 1}}`, ReasonWrongType},
		{"empty object", topic, `{}`, ReasonWrongType},
		{"only ts", topic, `{"ts": 1}`, ReasonWrongType},
		{"ts string garbage", topic, `{"value": 1, "ts": "yesterday"}`, ReasonBadTS},
		{"ts bool", topic, `{"value": 1, "ts": true}`, ReasonBadTS},
		{"ts negative", topic, `{"value": 1, "ts": -5}`, ReasonBadTS},
		{"ts negative fraction", topic, `{"value": 1, "ts": -0.5}`, ReasonBadTS},
		{"deep nesting", "m", strings.Repeat(`{"a":`, 2000) + "1" + strings.Repeat("}", 2000), ReasonInvalidPath},
		{"nesting past 16 segments", "m", strings.Repeat(`{"a":`, 16) + "1" + strings.Repeat("}", 16), ReasonInvalidPath},
		{"ts in ns", topic, `{"value": 1, "ts": 1700000000000000000}`, ReasonBadTS},
		{"bad quality", topic, `{"value": 1, "q": "excellent"}`, ReasonBadQuality},
		{"quality number", topic, `{"value": 1, "q": 192}`, ReasonBadQuality},
		{"wildcard topic", "s/+/m", "1", ReasonInvalidPath},
		{"one segment topic", "temp", "1", ReasonInvalidPath},
		{"empty topic", "", "1", ReasonInvalidPath},
		{"sys topic", "$SYS/x", "1", ReasonInvalidPath},
		{"trailing slash topic", "a/b/", "1", ReasonInvalidPath},
		{"bad key", "m", `{"a b": 1}`, ReasonInvalidPath},
		{"oversized", topic, `"` + strings.Repeat("x", MaxPayload) + `"`, ReasonOversized},
		{"too many values", "m", manyKeys(MaxPointsPerPayload + 1), ReasonOversized},
		{"half bad object", "m", `{"a": 1, "b": null}`, ReasonWrongType},
		{"invalid utf-8 in a string", topic, "\"a\xffb\"", ReasonNotJSON},
		{"invalid utf-8 in a value", topic, "{\"value\": \"\xc3\"}", ReasonNotJSON},
		{"invalid utf-8 in a leaf", "m", "{\"a\": 1, \"b\": \"\xed\xa0\x80\"}", ReasonNotJSON},
		{"invalid utf-8 in a key", "m", "{\"\xff\": 1}", ReasonNotJSON},
		{"lone surrogate escape", topic, `"\ud800"`, ReasonNotJSON},
		{"low surrogate first", topic, `"\udc00\ud800"`, ReasonNotJSON},
		{"-inf", topic, "-inf", ReasonNonFinite},
		{"+Infinity", topic, "+Infinity", ReasonNonFinite},
		{"-Infinity in value", topic, `{"value": -Infinity}`, ReasonNonFinite},
		{"NaN in value", topic, `{"value": NaN, "ts": 1700000000000}`, ReasonNonFinite},
		{"+inf in value", topic, `{"value": +inf}`, ReasonNonFinite},
		{"NaN in object", "m", `{"a": 1, "b": NaN}`, ReasonNonFinite},
		{"-Infinity nested", "m", `{"motor": {"rpm": -Infinity}}`, ReasonNonFinite},
		{"infinity in a leaf value", "m", `{"b": {"value": infinity, "q": "bad"}}`, ReasonNonFinite},
		{"duplicate key", "m", `{"a": 1, "a": 2}`, ReasonDuplicateKey},
		{"duplicate value", topic, `{"value": 1, "value": 2}`, ReasonDuplicateKey},
		{"duplicate ts", "m", `{"ts": 1700000000000, "a": 1, "ts": 1700000000001}`, ReasonDuplicateKey},
		{"duplicate nested", "m", `{"motor": {"rpm": 1, "on": true, "rpm": 2}}`, ReasonDuplicateKey},
		{"duplicate object keys", "m", `{"motor": {"rpm": 1}, "motor": {"on": true}}`, ReasonDuplicateKey},
		{"duplicate in a leaf object", "m", `{"a": {"value": 1, "q": "good", "q": "bad"}}`, ReasonDuplicateKey},
		{"duplicate deep", "m", `{"a": {"b": {"c": {"d": 1, "d": 1}}}}`, ReasonDuplicateKey},
		{"duplicate by escape", "m", `{"a": 1, "\u0061": 2}`, ReasonDuplicateKey},
		{"key with a slash", "m", `{"a/b": 1}`, ReasonInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []Point{fp("keep/me", 1, Int(1), Good)}
			got, err := Decode(dst, tt.topic, []byte(tt.payload), now)
			if err == nil {
				t.Fatalf("Decode(%q, %.40q) = %v, want rejection %s", tt.topic, tt.payload, got, tt.reason)
			}
			if r := ReasonOf(err); r != tt.reason {
				t.Errorf("Decode(%q, %.40q) reason %q (%v), want %q", tt.topic, tt.payload, r, err, tt.reason)
			}
			if len(got) != 1 || got[0].Series != "keep/me" {
				t.Errorf("rejected payload changed dst: %v", got)
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	const topic = "s/a/l/m/state"
	tests := []struct {
		name, payload string
		want          Value  // when accepted
		reason        string // when rejected
	}{
		{name: "word", payload: "running", want: String("running")},
		{name: "switch", payload: "ON", want: String("ON")},
		{name: "with a unit", payload: "42 rpm", want: String("42 rpm")},
		{name: "line end trimmed", payload: " Störung Achse 2\r\n", want: String("Störung Achse 2")},
		{name: "tab inside", payload: "a\tb", want: String("a\tb")},
		{name: "JSON number stays a number", payload: "42", want: Int(42)},
		{name: "JSON bool stays a bool", payload: "true", want: Bool(true)},
		{name: "JSON string", payload: `"running"`, want: String("running")},
		{name: "broken object", payload: `{"value": 1`, reason: ReasonNotJSON},
		{name: "object without quotes", payload: `{value: 1}`, reason: ReasonNotJSON},
		{name: "broken array", payload: `[1, 2`, reason: ReasonNotJSON},
		{name: "unterminated string", payload: `"running`, reason: ReasonNotJSON},
		{name: "empty", payload: " \n", reason: ReasonNotJSON},
		{name: "invalid UTF-8", payload: "l\xe4uft", reason: ReasonNotJSON},
		{name: "control character", payload: "ab\x00c", reason: ReasonNotJSON},
		{name: "NaN", payload: "NaN", reason: ReasonNonFinite},
		{name: "null", payload: "null", reason: ReasonWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeText(nil, topic, []byte(tt.payload), now)
			if tt.reason != "" {
				if r := ReasonOf(err); r != tt.reason {
					t.Errorf("DecodeText(%q) = %v, %v; want rejection %s", tt.payload, got, err, tt.reason)
				}
				return
			}
			want := []Point{fp(topic, now, tt.want, Good)}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("DecodeText(%q) = %v, %v; want %v", tt.payload, got, err, want)
			}
		})
	}
	// Decode itself takes JSON only.
	if _, err := Decode(nil, topic, []byte("running"), now); ReasonOf(err) != ReasonNotJSON {
		t.Errorf("Decode(running): %v, want not_json", err)
	}
	// Text on a topic that is not a series path is rejected for the topic.
	if _, err := DecodeText(nil, "state", []byte("running"), now); ReasonOf(err) != ReasonInvalidPath {
		t.Errorf("DecodeText on a one-segment topic: %v, want invalid_path", err)
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	b.WriteByte('}')
	return b.String()
}

func TestValueAccessors(t *testing.T) {
	if f, ok := Int(3).AsFloat(); !ok || f != 3 {
		t.Errorf("Int(3).AsFloat() = %v, %v", f, ok)
	}
	if f, ok := Bool(true).AsFloat(); !ok || f != 1 {
		t.Errorf("Bool(true).AsFloat() = %v, %v", f, ok)
	}
	if _, ok := String("x").AsFloat(); ok {
		t.Error("String.AsFloat() ok, want not ok")
	}
	if got := Float(math.Pi).Float64(); got != math.Pi {
		t.Errorf("Float64() = %v", got)
	}
	if (Value{}).Kind() != KindInvalid {
		t.Error("zero Value is not invalid")
	}
}

// FuzzDecode feeds arbitrary topics and payloads to the decoder: it must
// never panic, what it accepts must be valid points, and it must agree with
// the decoder built on encoding/json (refDecode) except where it is stricter
// on purpose: duplicate keys, invalid UTF-8 or lone surrogates in strings,
// and keys holding a '/'. DecodeText must agree with Decode on everything
// Decode accepts.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"1", "2.5", "true", `"x"`, `{"value":1,"ts":1700000000000,"q":"bad"}`,
		`{"a":{"b":1},"ts":1}`, "NaN", "[1]", "null", `{"value":{"value":1}}`, "1e999", `{"":1}`} {
		f.Add("s/a/m/t", []byte(s))
	}
	f.Add("a/+/#", []byte("1"))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		pts, err := Decode(nil, topic, payload, now)
		checkDecoded(t, pts, err)
		ref, refErr := refDecode(nil, topic, payload, now)
		switch {
		case err == nil && refErr != nil:
			t.Fatalf("Decode accepts what refDecode rejects (%v): %v", refErr, pts)
		case err == nil && !slices.Equal(pts, ref):
			t.Fatalf("Decode and refDecode differ:\n got  %v\n want %v", pts, ref)
		case err != nil && refErr == nil && !stricter(err):
			t.Fatalf("Decode rejects what refDecode accepts (%v): %v", ref, err)
		}

		tpts, terr := DecodeText(nil, topic, payload, now)
		checkDecoded(t, tpts, terr)
		switch {
		case err == nil && (terr != nil || !slices.Equal(tpts, pts)):
			t.Fatalf("DecodeText differs from Decode: %v, %v; want %v", tpts, terr, pts)
		case err != nil && terr == nil:
			text := string(bytes.Trim(payload, " \t\r\n"))
			if ReasonOf(err) != ReasonNotJSON || len(tpts) != 1 || tpts[0].Value != String(text) {
				t.Fatalf("DecodeText takes a payload Decode rejects (%v) for %v, want the string %q", err, tpts, text)
			}
		}
	})
}

// checkDecoded checks the outcome of a decoder: an error with a reason and
// no points, or valid points.
func checkDecoded(t *testing.T, pts []Point, err error) {
	t.Helper()
	if err != nil {
		if ReasonOf(err) == "" {
			t.Fatalf("error without reason: %v", err)
		}
		if len(pts) != 0 {
			t.Fatalf("rejected payload returned %d points", len(pts))
		}
		return
	}
	if len(pts) == 0 {
		t.Fatal("accepted payload with no points")
	}
	for _, p := range pts {
		if err := ValidatePath(p.Series); err != nil {
			t.Fatalf("accepted invalid series %q: %v", p.Series, err)
		}
		if p.Value.Kind() == KindInvalid {
			t.Fatalf("accepted invalid value for %q", p.Series)
		}
		if f, ok := p.Value.AsFloat(); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Fatalf("accepted non-finite value %v", f)
		}
		if !utf8.ValidString(p.Value.Str()) {
			t.Fatalf("accepted invalid UTF-8 in %q", p.Series)
		}
	}
}

// stricter reports whether err is one of the rejections refDecode does not
// make.
func stricter(err error) bool {
	msg := err.Error()
	switch ReasonOf(err) {
	case ReasonDuplicateKey:
		return true
	case ReasonNotJSON:
		return strings.Contains(msg, "invalid UTF-8") || strings.Contains(msg, "lone surrogate")
	case ReasonInvalidPath:
		return strings.Contains(msg, `'/'`)
	}
	return false
}

// BenchmarkDecode measures Decode and, for comparison, refDecode (the
// decoder on encoding/json it replaced).
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name, topic, payload string
		points               int
	}{
		{"bare", "s/a/l/m/temp", "21.5", 1},
		{"value_ts_q", "s/a/l/m/temp", `{"value": 21.5, "ts": 1763700000000, "q": "good"}`, 1},
		{"object_8", "s/a/l/m", `{"ts": 1763700000000, "a": 1.5, "b": 2, "c": true, "d": "run", "e": 5.25, "f": 6, "g": 7.75, "h": 8}`, 8},
	}
	for _, impl := range []struct {
		name   string
		decode func([]Point, string, []byte, int64) ([]Point, error)
	}{{"scan", Decode}, {"json", refDecode}} {
		for _, c := range cases {
			b.Run(impl.name+"/"+c.name, func(b *testing.B) {
				dst := make([]Point, 0, 16)
				p := []byte(c.payload)
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if dst, err = impl.decode(dst[:0], c.topic, p, now); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*c.points)/b.Elapsed().Seconds(), "points/s")
			})
		}
	}
}
