package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/uns"
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
	l := newLoad(Load{Devices: 1, Tags: 3, TagsPerMessage: 2, Rate: 1, QoS: 1}, "", "")
	d := &device{sentAt: map[uint16]int64{}}
	d.topics = [][]byte{[]byte(topicOf(1, 0)), []byte(topicOf(1, 1))}
	d.tags = [][]int{{0, 1}, {2}}
	topic, body := splitPublish(t, l.message(nil, d, 0, time.UnixMilli(0)), 1)
	payload := string(body[2:]) // after the packet id
	if topic != "bench/d0001/m000" || !strings.HasPrefix(payload, `{"temperature":`) || !strings.Contains(payload, `,"pressure":`) || !strings.HasSuffix(payload, "}") {
		t.Errorf("topic %q payload %q", topic, payload)
	}
}

// TestMachineMessage checks the machines' load (for services): a machine
// one level deeper, its state and its counter, stops now and then.
func TestMachineMessage(t *testing.T) {
	cfg := Load{Devices: 1, Tags: 2, TagsPerMessage: 2, Rate: 1, QoS: 1, Machines: true}
	l := newLoad(cfg, "", "")
	d := &device{id: 1, sentAt: map[uint16]int64{}}
	d.topics = [][]byte{[]byte(cfg.topic(1, 0))}
	d.tags = [][]int{{0, 1}}
	states := map[string]int{}
	for range 100 {
		topic, body := splitPublish(t, l.message(nil, d, 0, time.UnixMilli(0)), 1)
		payload := string(body[2:])
		if topic != "bench/line/d0001/m000" || !strings.HasPrefix(payload, `{"state":"`) {
			t.Fatalf("topic %q payload %q", topic, payload)
		}
		state, _, _ := strings.Cut(strings.TrimPrefix(payload, `{"state":"`), `"`)
		states[state]++
		if want := fmt.Sprintf(`,"good_count":%d}`, d.seq); !strings.HasSuffix(payload, want) {
			t.Errorf("payload %q: want it to end in %s", payload, want)
		}
	}
	if want := map[string]int{"running": 97, "idle": 2, "down": 1}; !maps.Equal(states, want) {
		t.Errorf("states in 100 messages %v, want %v", states, want)
	}
}

// TestSparkplugMessage checks the Sparkplug B load: a device's NDATA on its
// edge node's topic, with the topic's tags by the aliases its NBIRTH
// declared (by name there), seq counting from the birth's 0.
func TestSparkplugMessage(t *testing.T) {
	l := newLoad(Load{Devices: 1, Tags: 3, TagsPerMessage: 2, Rate: 1, QoS: 0, Payload: PayloadSparkplug}, "", "")
	d := &device{id: 7, sentAt: map[uint16]int64{}}
	d.topics = [][]byte{[]byte(topicOf(7, 0)), []byte(topicOf(7, 1))}
	d.tags = [][]int{{0, 1}, {2}}
	d.node = sparkplug.NewNode(Prefix, nodeID(d.id), nil)
	birth, err := d.node.BirthMessage(
		sparkplug.NodeMetric{Name: metricOf(0, 0), Type: sparkplug.Double, Value: uns.Float(1)},
		sparkplug.NodeMetric{Name: metricOf(0, 1), Type: sparkplug.Double, Value: uns.Float(1)},
		sparkplug.NodeMetric{Name: metricOf(1, 2), Type: sparkplug.Double, Value: uns.Float(1)})
	if err != nil {
		t.Fatal(err)
	}
	var bp sparkplug.Payload
	if err := sparkplug.Decode(birth.Payload, &bp); err != nil {
		t.Fatal(err)
	}
	aliases := map[uint64]string{}
	for _, m := range bp.Metrics {
		aliases[m.Alias] = m.Name
	}
	topic, body := splitPublish(t, l.message(nil, d, 0, time.UnixMilli(0)), 0)
	if topic != "spBv1.0/bench/NDATA/d0007" {
		t.Errorf("topic %q", topic)
	}
	var p sparkplug.Payload
	if err := sparkplug.Decode(body, &p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range p.Metrics {
		got = append(got, aliases[m.Alias])
		if m.Name != "" || !m.HasAlias {
			t.Errorf("metric %+v: want by alias only", m)
		}
	}
	if want := []string{"m000/temperature", "m000/pressure"}; !slices.Equal(got, want) || !p.HasSeq || p.Seq != 1 {
		t.Errorf("metrics %q seq %d (%v), want %q seq 1", got, p.Seq, p.HasSeq, want)
	}
}

// splitPublish checks that b is one PUBLISH of qos whose remaining length
// matches, and returns its topic and what follows it (the packet id first
// at QoS 1).
func splitPublish(t *testing.T, b []byte, qos byte) (string, []byte) {
	t.Helper()
	if want := 0x30 | qos<<1; b[0] != want {
		t.Fatalf("first byte %#x, want %#x (a QoS %d PUBLISH)", b[0], want, qos)
	}
	r := bufio.NewReader(bytes.NewReader(b[1:]))
	n, err := readLength(r)
	if err != nil || n != r.Buffered() {
		t.Fatalf("remaining length %d, %v; %d bytes follow", n, err, r.Buffered())
	}
	rest := b[len(b)-n:]
	k := 2 + (int(rest[0])<<8 | int(rest[1]))
	return string(rest[2:k]), rest[k:]
}
