package bench

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRemainingLength(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455} {
		b := appendHeader(nil, 0x30, n)
		r := bufio.NewReader(bytes.NewReader(b[1:]))
		got, err := readLength(r)
		if err != nil || got != n {
			t.Errorf("length %d: read back %d, %v (bytes % x)", n, got, err, b)
		}
	}
}

func TestNum(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{{0, "0"}, {3.14, "3.1"}, {999.6, "1,000"}, {1234567, "1,234,567"}, {-4200, "-4,200"}} {
		if got := num(c.f); got != c.want {
			t.Errorf("num(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestVmHWM(t *testing.T) {
	status := "Name:\tmolen\nVmPeak:\t  900 kB\nVmHWM:\t   31656 kB\nVmRSS:\t   31000 kB\n"
	if got, want := vmHWM(strings.NewReader(status)), int64(31656<<10); got != want {
		t.Errorf("vmHWM = %d, want %d", got, want)
	}
}

func TestLatencySummary(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	got := l.summary()
	want := Latency{N: 100, P50: 51, P99: 100, Max: 100}
	if got != want {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
}

// TestMessage checks a publish the load generator makes: a QoS 1 PUBLISH
// whose remaining length matches, on the device's topic, with a JSON
// object of the topic's tags.
func TestMessage(t *testing.T) {
	l := newLoad(Load{Devices: 1, Tags: 3, TagsPerMessage: 2, Rate: 1, QoS: 1}, "")
	d := &device{sentAt: map[uint16]int64{}}
	d.topics = [][]byte{[]byte(topicOf(1, 0)), []byte(topicOf(1, 1))}
	d.tags = [][]int{{0, 1}, {2}}
	b := l.message(nil, d, 0, time.UnixMilli(0))
	if b[0] != 0x32 {
		t.Fatalf("first byte %#x, want a QoS 1 PUBLISH", b[0])
	}
	r := bufio.NewReader(bytes.NewReader(b[1:]))
	n, err := readLength(r)
	if err != nil || n != r.Buffered() {
		t.Fatalf("remaining length %d, %v; %d bytes follow", n, err, r.Buffered())
	}
	rest := b[len(b)-n:]
	topic := string(rest[2 : 2+int(rest[1])])
	payload := string(rest[2+len(topic)+2:])
	if topic != "bench/d0001/m000" || !strings.HasPrefix(payload, `{"temperature":`) || !strings.Contains(payload, `,"pressure":`) || !strings.HasSuffix(payload, "}") {
		t.Errorf("topic %q payload %q", topic, payload)
	}
}
