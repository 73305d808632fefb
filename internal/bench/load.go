package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/uns"
)

// tagNames are the names a device's tags take, in turn (with a number once
// they run out), so that payloads look like a machine's.
var tagNames = []string{"temperature", "pressure", "speed", "current", "voltage", "vibration", "flow", "level"}

// load is the load generator: devices publishing JSON or Sparkplug B
// payloads over MQTT 3.1.1 at a rate that can change while it runs.
type load struct {
	cfg    Load
	broker string
	// root is the run's own topic level before Prefix on a shared broker
	// ("" on the edge's listener), and its Sparkplug group: other runs and
	// other clients of the broker publish there too.
	root    string
	births  atomic.Int64  // points of NBIRTHs (in points too)
	rate    atomic.Uint64 // messages per second per topic, as float64 bits
	sent    atomic.Int64  // messages written
	points  atomic.Int64  // values in them
	acked   atomic.Int64  // QoS 1 messages acknowledged
	ackLat  latencies     // publish → PUBACK, QoS 1
	devices []*device
}

// Load is what the simulated devices send.
type Load struct {
	Devices        int     `json:"devices"`          // MQTT connections
	Tags           int     `json:"tags"`             // per device
	TagsPerMessage int     `json:"tags_per_message"` // values in one JSON payload
	Rate           float64 `json:"rate_hz"`          // each tag's rate
	QoS            byte    `json:"qos"`              // 0 or 1
	Inflight       int     `json:"inflight"`         // QoS 1 publishes a device has unacknowledged at most
	// Payload is PayloadJSON (the default) or PayloadSparkplug.
	Payload string `json:"payload"`
	// Machines makes each topic a machine of a line, as services expect
	// it (bench/line/d0000/m000): its tags are, in turn, machineTags
	// (state a string, mostly running; good_count a counter), so that a
	// service reading a machine's state and counters takes every point.
	Machines bool `json:"machines,omitempty"`
}

// machineTags are a machine's tags with Load.Machines, in turn (with a
// number once they run out).
var machineTags = []string{"state", "good_count", "energy_kwh", "scrap_count", "cycle_time_s"}

// Payload formats of the simulated devices.
const (
	// PayloadJSON is one JSON object per message, a topic per message:
	// {"temperature":21.503,"pressure":31.017} on bench/d0000/m000.
	PayloadJSON = "json"
	// PayloadSparkplug makes each device a Sparkplug B edge node
	// (spBv1.0/bench/NDATA/d0000) that declares its tags in an NBIRTH
	// (metric m000/temperature, …) and sends them by alias in NDATA
	// messages of TagsPerMessage metrics each. The edge's listener does not
	// take Sparkplug: it goes through a broker to the sparkplug input.
	PayloadSparkplug = "sparkplug"
)

func (l Load) sparkplug() bool { return l.Payload == PayloadSparkplug }

// Topics is the number of topics one device publishes to.
func (l Load) Topics() int { return (l.Tags + l.TagsPerMessage - 1) / l.TagsPerMessage }

// Messages is the offered message rate of all devices.
func (l Load) Messages() float64 { return float64(l.Devices*l.Topics()) * l.Rate }

// Points is the offered point rate of all devices.
func (l Load) Points() float64 { return float64(l.Devices*l.Tags) * l.Rate }

// Prefix is the UNS prefix the bench's devices publish under.
const Prefix = "bench"

// probe is the topic whose payloads carry the device's clock ("ts"), for
// the device-to-queryable latency: the first device's first topic.
func (l Load) probe() string { return l.topic(0, 0) }

func topicOf(dev, topic int) string { return fmt.Sprintf("%s/d%04d/m%03d", Prefix, dev, topic) }

// topic is device dev's topic t: a machine one level deeper with Machines,
// since services read a machine's tags four levels below the root
// (+/+/+/+/state).
func (l Load) topic(dev, t int) string {
	if l.Machines {
		return fmt.Sprintf("%s/line/d%04d/m%03d", Prefix, dev, t)
	}
	return topicOf(dev, t)
}

// device is one simulated device: one MQTT connection.
type device struct {
	id     int
	conn   net.Conn
	w      *bufio.Writer
	topics [][]byte
	tags   [][]int // each topic's tag numbers
	slots  chan struct{}
	mu     sync.Mutex // guards sentAt
	sentAt map[uint16]int64
	nextID uint16
	seq    uint64
	ended  atomic.Pointer[string] // why readAcks stopped
	node   *sparkplug.Node        // Sparkplug B: the device as an edge node
}

// nodeID is device dev's Sparkplug edge node id.
func nodeID(dev int) string { return fmt.Sprintf("d%04d", dev) }

// metricOf is the Sparkplug metric name of tag k of a device's topic t: the
// sparkplug input's path template bench/{edge_node}/{metric} maps it onto
// the same series as the JSON payloads (bench/d0000/m000/temperature).
func metricOf(t, k int) string {
	name := tagNames[k%len(tagNames)]
	if k >= len(tagNames) {
		name += strconv.Itoa(k / len(tagNames))
	}
	return fmt.Sprintf("m%03d/%s", t, name)
}

func newLoad(cfg Load, broker, root string) *load {
	if cfg.Inflight <= 0 {
		cfg.Inflight = 100
	}
	l := &load{cfg: cfg, broker: broker, root: root}
	l.setRate(cfg.Rate)
	return l
}

func (l *load) setRate(hz float64) { l.rate.Store(math.Float64bits(hz)) }
func (l *load) rateHz() float64    { return math.Float64frombits(l.rate.Load()) }

// connect opens every device's connection (MQTT CONNECT, clean session).
func (l *load) connect(ctx context.Context) error {
	for i := range l.cfg.Devices {
		d := &device{id: i, slots: make(chan struct{}, l.cfg.Inflight), sentAt: map[uint16]int64{}}
		for t := range l.cfg.Topics() {
			topic := l.cfg.topic(i, t)
			if l.root != "" {
				topic = l.root + "/" + topic
			}
			d.topics = append(d.topics, []byte(topic))
			var tags []int
			for k := t * l.cfg.TagsPerMessage; k < min((t+1)*l.cfg.TagsPerMessage, l.cfg.Tags); k++ {
				tags = append(tags, k)
			}
			d.tags = append(d.tags, tags)
		}
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", l.broker)
		if err != nil {
			l.close()
			return fmt.Errorf("device %d: connect to %s: %w", i, l.broker, err)
		}
		d.conn, d.w = c, bufio.NewWriterSize(c, 64<<10)
		l.devices = append(l.devices, d)
		// On a shared broker the client ids are the run's own: a broker
		// closes the older connection of a client id that connects again.
		client := fmt.Sprintf("bench-%04d", i)
		if l.root != "" {
			client = fmt.Sprintf("%s-%04d", l.root, i)
		}
		if err := d.handshake(client); err != nil {
			l.close()
			return fmt.Errorf("device %d: %w", i, err)
		}
		if l.cfg.sparkplug() {
			if err := l.birth(d); err != nil {
				l.close()
				return fmt.Errorf("device %d: %w", i, err)
			}
		}
	}
	return nil
}

// birth sends d's NBIRTH (QoS 1, waiting for its PUBACK so that it is at
// the broker before any data): every tag as a Double metric with an alias.
func (l *load) birth(d *device) error {
	group := Prefix
	if l.root != "" {
		group = l.root
	}
	d.node = sparkplug.NewNode(group, nodeID(d.id), nil)
	d.node.NewSession()
	var ms []sparkplug.NodeMetric
	for t, tags := range d.tags {
		for _, k := range tags {
			ms = append(ms, sparkplug.NodeMetric{Name: metricOf(t, k), Type: sparkplug.Double, Value: uns.Float(value(k, 0))})
		}
	}
	// The birth's values are points too.
	l.points.Add(int64(len(ms)))
	l.births.Add(int64(len(ms)))
	m, err := d.node.BirthMessage(ms...)
	if err != nil {
		return fmt.Errorf("NBIRTH: %w", err)
	}
	d.nextID++
	pk := appendPublish(nil, []byte(m.Topic), m.Payload, 1, d.nextID)
	if _, err := d.conn.Write(pk); err != nil {
		return fmt.Errorf("send NBIRTH: %w", err)
	}
	var ack [4]byte
	d.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer d.conn.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(d.conn, ack[:]); err != nil {
		return fmt.Errorf("read the NBIRTH's PUBACK: %w", err)
	}
	if ack[0] != 0x40 || binary.BigEndian.Uint16(ack[2:]) != d.nextID {
		return fmt.Errorf("NBIRTH: answered with % x, want its PUBACK", ack)
	}
	return nil
}

func (l *load) close() {
	for _, d := range l.devices {
		d.conn.Close()
	}
}

// handshake sends CONNECT (MQTT 3.1.1, clean session, keep alive 60 s)
// and reads the CONNACK.
func (d *device) handshake(client string) error {
	var vh []byte
	vh = appendString(vh, "MQTT")
	vh = append(vh, 4, 0x02, 0, 60)
	vh = appendString(vh, client)
	pk := appendHeader(nil, 0x10, len(vh))
	if _, err := d.conn.Write(append(pk, vh...)); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	var ack [4]byte
	d.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer d.conn.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(d.conn, ack[:]); err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return fmt.Errorf("CONNACK % x: refused", ack)
	}
	return nil
}

// run publishes until ctx ends, then waits (up to a minute) for the
// outstanding acknowledgements and closes the connections.
func (l *load) run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(l.devices))
	start := time.Now()
	for _, d := range l.devices {
		if l.cfg.QoS > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := l.readAcks(d); err != nil {
					errs <- err
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.publish(ctx, d, start); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// pace is how often a device looks at what is due at most.
const pace = 10 * time.Millisecond

// cycle is how often a device publishes at rate hz: once per sample (all its
// topics in one burst, as a gateway reading a PLC's tags does), or every
// pace at rates above 100 Hz.
func cycle(hz float64) time.Duration {
	return max(pace, time.Duration(float64(time.Second)/hz))
}

// publish sends d's messages as they fall due: each of its topics at the
// current rate, the devices' phases spread over the first cycle.
func (l *load) publish(ctx context.Context, d *device, start time.Time) error {
	hz := l.rateHz()
	every := cycle(hz)
	phase := time.Duration(d.id) * every / time.Duration(max(1, l.cfg.Devices))
	first := time.NewTimer(phase)
	select {
	case <-ctx.Done():
		first.Stop()
		return l.finish(d)
	case <-first.C:
	}
	t := time.NewTicker(every)
	defer t.Stop()
	// One cycle is due at once: the first sample.
	due := float64(len(d.topics))
	last := time.Now()
	next := 0 // the next topic
	var buf []byte
	for {
		for due >= 1 {
			if l.cfg.QoS > 0 {
				select {
				case d.slots <- struct{}{}:
				default:
					// The window is full: what is written must go out
					// before waiting for its acknowledgements.
					if err := d.w.Flush(); err != nil {
						return fmt.Errorf("device %d: publish: %w", d.id, err)
					}
					select {
					case d.slots <- struct{}{}:
					case <-ctx.Done():
						return l.finish(d)
					}
				}
			}
			buf = l.message(buf[:0], d, next, last)
			if _, err := d.w.Write(buf); err != nil {
				return fmt.Errorf("device %d: publish: %w", d.id, err)
			}
			l.sent.Add(1)
			l.points.Add(int64(len(d.tags[next])))
			due--
			next = (next + 1) % len(d.topics)
		}
		if err := d.w.Flush(); err != nil {
			return fmt.Errorf("device %d: publish: %w", d.id, err)
		}
		select {
		case <-ctx.Done():
			return l.finish(d)
		case now := <-t.C:
			if r := l.rateHz(); r != hz {
				hz = r
				t.Reset(cycle(hz))
			}
			due += now.Sub(last).Seconds() * hz * float64(len(d.topics))
			last = now
		}
	}
}

// finish waits for d's outstanding acknowledgements, then closes it with
// a DISCONNECT.
func (l *load) finish(d *device) error {
	if l.cfg.QoS > 0 {
		deadline := time.After(time.Minute)
		for range cap(d.slots) {
			select {
			case d.slots <- struct{}{}:
			case <-deadline:
				d.conn.Close()
				why := "connection open"
				if p := d.ended.Load(); p != nil {
					why = *p
				}
				return fmt.Errorf("device %d: publishes not acknowledged within a minute (%s)", d.id, why)
			}
		}
	}
	d.w.Write([]byte{0xe0, 0})
	d.w.Flush()
	return d.conn.Close()
}

// value is tag k's value in a device's seq-th message: it wanders like a
// sensor's (base, slow wave, a little noise from the sequence number).
func value(k int, seq uint64) float64 {
	return 20 + float64(k%7)*10 + 5*math.Sin(float64(seq)/50) + float64((seq*2654435761+uint64(k))%100)/1000
}

// appendKey appends the JSON key of tag k named from names, in turn (with
// a number once they run out), and its colon.
func appendKey(payload []byte, names []string, k int) []byte {
	payload = append(payload, '"')
	payload = append(payload, names[k%len(names)]...)
	if k >= len(names) {
		payload = strconv.AppendInt(payload, int64(k/len(names)), 10)
	}
	return append(payload, '"', ':')
}

// machineValue appends a machine's tag k (of machineTags, in turn) in its
// device's seq-th message as a JSON member: the state is running but in
// the device's every 40th message (idle) and every 100th (down), so that
// stops begin and end; the counters count the device's messages.
func machineValue(payload []byte, k int, seq uint64) []byte {
	name := machineTags[k%len(machineTags)]
	payload = appendKey(payload, machineTags, k)
	switch {
	case name != "state":
		return strconv.AppendUint(payload, seq, 10)
	case seq%100 == 0:
		return append(payload, `"down"`...)
	case seq%40 == 0:
		return append(payload, `"idle"`...)
	}
	return append(payload, `"running"`...)
}

// message appends one PUBLISH of d's topic i to buf.
func (l *load) message(buf []byte, d *device, i int, now time.Time) []byte {
	d.seq++
	var id uint16
	if l.cfg.QoS > 0 {
		d.nextID++
		if d.nextID == 0 {
			d.nextID = 1
		}
		id = d.nextID
		d.mu.Lock()
		d.sentAt[id] = time.Now().UnixNano()
		d.mu.Unlock()
	}
	if d.node != nil {
		// An NDATA of the topic's tags by alias; the payload's timestamp
		// is the device's clock (for every message, not only the probe's).
		ms := make([]sparkplug.NodeMetric, 0, len(d.tags[i]))
		for _, k := range d.tags[i] {
			ms = append(ms, sparkplug.NodeMetric{Name: metricOf(i, k), Type: sparkplug.Double, Value: uns.Float(value(k, d.seq))})
		}
		m, err := d.node.DataMessage("", ms...)
		if err != nil {
			panic(fmt.Sprintf("bench: encode NDATA: %v", err)) // doubles always encode
		}
		return appendPublish(buf, []byte(m.Topic), m.Payload, l.cfg.QoS, id)
	}
	var p [256]byte
	payload := append(p[:0], '{')
	for j, k := range d.tags[i] {
		if j > 0 {
			payload = append(payload, ',')
		}
		if l.cfg.Machines {
			payload = machineValue(payload, k-i*l.cfg.TagsPerMessage, d.seq)
			continue
		}
		payload = appendKey(payload, tagNames, k)
		payload = strconv.AppendFloat(payload, value(k, d.seq), 'f', 3, 64)
	}
	if d.id == 0 && i == 0 {
		payload = append(payload, `,"ts":`...)
		payload = strconv.AppendInt(payload, now.UnixMilli(), 10)
	}
	payload = append(payload, '}')
	return appendPublish(buf, d.topics[i], payload, l.cfg.QoS, id)
}

// appendPublish appends a PUBLISH of payload on topic to buf, with packet
// id at QoS 1.
func appendPublish(buf, topic, payload []byte, qos byte, id uint16) []byte {
	n := 2 + len(topic) + len(payload)
	flags := byte(0x30)
	if qos > 0 {
		flags |= 0x02
		n += 2
	}
	buf = appendHeader(buf, flags, n)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(topic)))
	buf = append(buf, topic...)
	if qos > 0 {
		buf = binary.BigEndian.AppendUint16(buf, id)
	}
	return append(buf, payload...)
}

// readAcks reads d's PUBACKs until the connection closes.
func (l *load) readAcks(d *device) error {
	r := bufio.NewReaderSize(d.conn, 16<<10)
	for {
		typ, err := r.ReadByte()
		if err != nil {
			// Closed: finish reports what was not acknowledged.
			d.setEnded(fmt.Errorf("read: %w", err))
			return nil
		}
		n, err := readLength(r)
		if err != nil {
			d.setEnded(fmt.Errorf("read: %w", err))
			return nil
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			d.setEnded(fmt.Errorf("read: %w", err))
			return nil
		}
		if typ>>4 != 4 || n < 2 {
			d.setEnded(fmt.Errorf("the edge sent packet type %d (% x)", typ>>4, body))
			continue
		}
		id := binary.BigEndian.Uint16(body)
		d.mu.Lock()
		at, ok := d.sentAt[id]
		delete(d.sentAt, id)
		d.mu.Unlock()
		if !ok {
			return fmt.Errorf("device %d: PUBACK for packet %d, which is not outstanding", d.id, id)
		}
		l.ackLat.add(time.Duration(time.Now().UnixNano() - at))
		l.acked.Add(1)
		<-d.slots
	}
}

func (d *device) setEnded(err error) {
	s := err.Error()
	d.ended.Store(&s)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendHeader appends an MQTT fixed header with its remaining length.
func appendHeader(b []byte, first byte, n int) []byte {
	b = append(b, first)
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func readLength(r *bufio.Reader) (int, error) {
	n, mul := 0, 1
	for range 4 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n += int(c&0x7f) * mul
		if c&0x80 == 0 {
			return n, nil
		}
		mul *= 128
	}
	return 0, errors.New("malformed remaining length")
}
