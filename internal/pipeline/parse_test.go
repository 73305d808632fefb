package pipeline

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// TestParsePointFastMatchesSlow checks that the fast parser agrees with
// encoding/json on what it accepts, and leaves the rest to it.
func TestParsePointFastMatchesSlow(t *testing.T) {
	lines := []string{
		`{"series":"a/b","ts":1700000000000,"value":1}`,
		`{"series":"a/b","ts":1700000000000.25,"value":1.5,"q":"bad"}`,
		` { "value" : "x y" , "ts" : 5 , "series" : "a/b" } `,
		`{"series":"a/b","ts":1,"value":true}`,
		`{"series":"a/b","ts":1,"value":-2e3}`,
		`{"series":"a/b","ts":1,"value":"esc\"aped"}`,
		`{"series":"a/b","ts":1,"value":1,"value":2}`,
		`{"series":"a/b","ts":1,"value":1,"x":2}`,
		`{"series":"a/b","ts":1}`,
		`{"series":"a/+","ts":1,"value":1}`,
		`{"series":"a/b","ts":1,"value":1}x`,
		`{"series":"a/b","ts":1,"value":nul}`,
		`{"series":"a/b","ts":"1","value":1}`,
		`{"series":"a/b","ts":1,"value":1,"q":"meh"}`,
	}
	for _, line := range lines {
		fast, ok := parsePointFast([]byte(line))
		slow, err := parsePointSlow([]byte(line))
		if ok && (err != nil || fast != slow) {
			t.Errorf("%s: fast %v, slow %v (%v)", line, fast, slow, err)
		}
		if !ok && err == nil && !strings.Contains(line, `\"`) {
			t.Errorf("%s: fast path gave up on a line the slow path accepts (%v)", line, slow)
		}
	}
	if p, ok := parsePointFast([]byte(lines[1])); !ok || p != (uns.Point{Series: "a/b", TS: 1_700_000_000_000_250_000, Value: uns.Float(1.5), Quality: uns.Bad}) {
		t.Errorf("fast parse of %s = %v, %v", lines[1], p, ok)
	}
}

func FuzzParsePointJSON(f *testing.F) {
	f.Add([]byte(`{"series":"a/b","ts":1700000000000,"value":1}`))
	f.Add([]byte(`{"series":"a/b","ts":1.5,"value":"x","q":"good"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := parsePointFast(b)
		slow, err := parsePointSlow(b)
		if ok && (err != nil || fast != slow) {
			t.Errorf("%q: fast %v, slow %v (%v)", b, fast, slow, err)
		}
	})
}
