package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/output"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// ingestHook is the edge's part in the MQTT listener: it receives every
// PUBLISH from devices (OnPublish; mochi sends the PUBACK only after
// OnPublish returns, so returning after the outbox append makes the
// acknowledgement mean "on disk"), and it sees to what mochi would
// otherwise do without a word (OnPacketRead, OnDisconnect,
// OnSessionEstablished).
type ingestHook struct {
	mqtt.HookBase
	e        *Edge
	aliasMax uint16 // the listener's topic alias maximum
}

func (h *ingestHook) ID() string { return "molen-ingest" }

func (h *ingestHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnPublish, mqtt.OnSessionEstablished, mqtt.OnPacketRead, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnPacketRead looks at each publish as mochi will process it, for two
// kinds of topic mochi handles without telling the edge:
//
//   - A topic MQTT does not allow in a publish (a wildcard, an empty one
//     without a topic alias, an alias out of range; PublishValidate): mochi
//     closes the connection, as MQTT requires. The hook counts and logs it
//     (invalid_topic) so that an operator finds the device, which usually
//     reconnects and does it again.
//   - A topic that mochi drops without a word: one starting with $SYS, or
//     another name it reserves (processPublish returns before hooks see
//     it, and no acknowledgement goes out, so a QoS 1 device would wait
//     forever). Such a topic is never a UNS path. Like any message with a
//     topic that is not one, it is rejected as invalid_path: an MQTT 5
//     device gets reason code 0x90, a 3.1.1 device a plain acknowledgement
//     (closing the connection instead would make a device that resends
//     unacknowledged messages send it again after every reconnect). The
//     packet then goes on to mochi, which drops it.
func (h *ingestHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	switch code := pk.PublishValidate(h.aliasMax); {
	case topicError(code):
		h.e.rejectTopic(deviceOf(cl), pk.TopicName, pk.Payload, code)
	case code == packets.CodeSuccess && !mqtt.IsValidFilter(pk.TopicName, true):
		err := errReservedTopic(pk.TopicName)
		h.e.metrics.messages.Inc()
		h.e.reject(deviceOf(cl), pk.TopicName, pk.Payload, err.Reason, err)
		refuse(cl, pk, refusalCode(err.Reason))
	}
	return pk, nil
}

// errReservedTopic rejects a publish to a topic the broker reserves.
func errReservedTopic(topic string) *uns.RejectError {
	return &uns.RejectError{Reason: uns.ReasonInvalidPath,
		Msg: fmt.Sprintf("topic %q: topics starting with $ are reserved for the broker", keptText(topic, 2*uns.MaxPathLen))}
}

// OnDisconnect counts a connection mochi closed because it could not
// decode a topic: invalid UTF-8 or U+0000, which MQTT forbids. Such a
// packet never reaches OnPacketRead, so neither its topic nor its payload
// is known. (A subscription filter that cannot be decoded looks the same
// to the hook and is counted the same way.)
func (h *ingestHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if errors.Is(err, packets.ErrMalformedTopic) {
		h.e.rejectTopic(deviceOf(cl), "", nil, err)
	}
}

// reasonInvalidTopic counts publishes with a topic MQTT does not allow;
// the listener closes their connections. The decoder's reasons (uns) are
// about what a topic or payload means, this one about MQTT.
const reasonInvalidTopic = "invalid_topic"

// topicError reports whether err is mochi's reason to close a connection
// over a publish's topic (see OnPacketRead and OnDisconnect).
func topicError(err error) bool {
	return errors.Is(err, packets.ErrProtocolViolationSurplusWildcard) || errors.Is(err, packets.ErrProtocolViolationNoTopic) ||
		errors.Is(err, packets.ErrTopicAliasInvalid) || errors.Is(err, packets.ErrMalformedTopic)
}

// rejectTopic counts and logs a publish whose topic MQTT does not allow
// (topicError); mochi closes its connection.
func (e *Edge) rejectTopic(dev device, topic string, payload []byte, err error) {
	e.metrics.messages.Inc()
	e.reject(dev, topic, payload, reasonInvalidTopic,
		&uns.RejectError{Reason: reasonInvalidTopic, Msg: err.Error() + "; the connection is closed"})
}

// errClosing ends a session that started while the edge was closing.
var errClosing = errors.New("the edge is shutting down")

// OnSessionEstablished ends a session that started once Close had begun:
// mochi disconnects the clients it knows when it closes, and a client whose
// connection was accepted just before would otherwise stay connected to an
// edge that is gone (and keep Close waiting for it). mochi adds a client to
// the ones it knows before it calls this hook, and Close sets closing before
// mochi looks at them, so every client is either disconnected by mochi or
// ended here.
//
// A session of the same client on the own path ends (a client that
// connects again takes its session over, as mochi does for its own).
func (h *ingestHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if h.e.closing.Load() {
		cl.Stop(errClosing)
	}
	h.e.own.takeOver(cl.ID, nil)
}

func (h *ingestHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	var id *resendID
	if pk.FixedHeader.Qos > 0 {
		// Only QoS 1 and 2 publishes carry a packet id and are resent.
		rid := newResendID(cl.ID, pk.PacketID, pk.TopicName, pk.Payload)
		id = &rid
	}
	dc, pipelined := cl.Net.Conn.(*deviceConn)
	st, err := h.e.submitMessage(deviceOf(cl), pk.TopicName, pk.Payload, id)
	if err == nil && st != nil {
		if pipelined {
			// The client's next publishes are read while this one is on its
			// way to disk; what mochi writes from here on (this publish's
			// PUBACK first) is held until it is stored (deviceConn.hold).
			dc.hold(st, func(err error) { h.e.refusingDevices(cl.ID, err) })
			return pk, nil
		}
		err = st.wait(context.Background())
	}
	if err == nil {
		return pk, nil
	}
	if errors.Is(err, errResent) {
		// Stored (and passed to local subscribers) the first time: the
		// device gets its PUBACK, nothing else happens.
		return pk, packets.CodeSuccessIgnore
	}
	if reason := uns.ReasonOf(err); reason != "" {
		// Bad input: counted, logged and kept for inspection (submitMessage).
		// MQTT 5 devices get the reason code; 3.1.1 has no negative
		// PUBACK, so they get a PUBACK. Either way the message is not
		// passed to local subscribers.
		if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
			refuse(cl, pk, refusalCode(reason))
			return pk, packets.ErrRejectPacket
		}
		return pk, packets.CodeSuccessIgnore
	}
	h.e.refusingDevices(cl.ID, err)
	cl.Stop(err)
	return pk, packets.ErrRejectPacket
}

// refusingDevices says that the outbox could not take a client's data
// (disk full, bound with reject-new, closing). The message is not
// acknowledged: its connection is dropped, so the device keeps the message
// and sends it again after reconnecting. Counted per message
// (refusedAppend); logged when refusing starts, not for every message.
func (e *Edge) refusingDevices(client string, err error) {
	if e.refusing.CompareAndSwap(false, true) {
		e.log.Warn("refusing device data: the outbox cannot store it; devices are disconnected and resend later", "client", client, "err", err)
	}
}

// refusalCode is the MQTT 5 reason code that refuses a message rejected
// for reason.
func refusalCode(reason string) packets.Code {
	if reason == uns.ReasonInvalidPath {
		return packets.ErrTopicNameInvalid
	}
	return packets.ErrPayloadFormatInvalid
}

// refuse answers a QoS 1 or 2 publish the edge does not take, where mochi
// would not answer it well: a publish mochi drops without a word (see
// OnPacketRead), and a refusal on MQTT 5 (mochi's answer to a code
// returned from OnPublish comes with an error log line holding the whole
// packet, for every message). The answer carries code on MQTT 5; 3.1.1
// has no negative acknowledgement, so its devices get a plain one. If the
// answer cannot be written, the connection is gone and the device sends
// the message again on its next one.
func refuse(cl *mqtt.Client, pk packets.Packet, code packets.Code) {
	if pk.FixedHeader.Qos == 0 {
		return
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}
	if pk.FixedHeader.Qos == 2 {
		// A PUBREC with a reason code of 0x80 or more ends a QoS 2 flow on
		// MQTT 5; on 3.1.1 the device's PUBREL gets mochi's PUBCOMP.
		ack.FixedHeader.Type = packets.Pubrec
	}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode, ack.Properties.ReasonString = code.Code, code.Reason
	}
	_ = cl.WritePacket(ack)
}

// device identifies the sender of a message in the log and in the kept
// rejections.
type device struct {
	client, remote string
}

func deviceOf(cl *mqtt.Client) device {
	return device{client: cl.ID, remote: cl.Net.Remote}
}

// submitMessage decodes one device message, runs the pipeline stage and
// queues the result for the outbox; it returns the points on their way to
// disk (nil if the pipeline kept none: nothing to wait for). id identifies
// a QoS 1 or 2 publish (nil for QoS 0). It returns a *uns.RejectError for
// bad input (counted and logged here), errResent for a resend of a publish
// already stored, and another error if the outbox refused the data at once.
func (e *Edge) submitMessage(dev device, topic string, payload []byte, id *resendID) (*stored, error) {
	e.metrics.messages.Inc()
	now := time.Now().UnixNano()
	decode := uns.Decode
	if slices.ContainsFunc(e.text, func(g pipeline.Glob) bool { return g.Match(topic) }) {
		decode = uns.DecodeText
	}
	pts, err := decode(nil, topic, payload, now)
	if err != nil {
		e.reject(dev, topic, payload, uns.ReasonOf(err), err)
		return nil, err
	}
	if id != nil && stamped(pts, now) && e.resends.stored(*id) {
		e.metrics.resendsSkipped.Inc()
		return nil, errResent
	}
	var ids []resendID
	if id != nil {
		ids = []resendID{*id}
	}
	st, err := e.submit(pts, ids...)
	if errors.Is(err, outbox.ErrTooLarge) {
		// Larger than the whole buffer may hold: no retry can help.
		err = &uns.RejectError{Reason: uns.ReasonOversized, Msg: err.Error()}
		e.reject(dev, topic, payload, uns.ReasonOversized, err)
	}
	return st, err
}

// reject counts a rejected device message, keeps it for inspection and
// logs it, at most one line per reason every logEvery (logLimiter): bad
// data usually comes at the rate a device sends.
func (e *Edge) reject(dev device, topic string, payload []byte, reason string, err error) {
	e.metrics.rejected.WithLabelValues(reason).Inc()
	r := e.rejects.add(dev, topic, payload, reason, err)
	e.logLimit.log(e.log, slog.LevelWarn, "reject:"+reason, "device message rejected",
		"reason", reason, "client", r.Client, "remote", r.Remote, "topic", r.Topic, "err", err)
}

// accept runs points through the pipeline stage and appends the result to
// the outbox: the one way in for device messages and connector inputs. It
// returns once the points are durable, or an error (outbox full or failing).
// ids identify the device publishes (or an input's messages) the points
// come from: the record carries them (in the same write, so they are on
// disk exactly when the points are) and the edge remembers them to
// recognise resends.
func (e *Edge) accept(ctx context.Context, pts []uns.Point, ids ...resendID) error {
	st, err := e.submit(pts, ids...)
	if err != nil || st == nil {
		return err
	}
	return st.wait(ctx)
}

// submit is accept without waiting: it queues the points for the outbox and
// returns them on their way (nil if the pipeline kept none). The caller
// waits for them and calls settle, once (stored.wait does both).
func (e *Edge) submit(pts []uns.Point, ids ...resendID) (*stored, error) {
	e.recent.add(pts) // as received, for a draft pipeline's test
	pts = e.stage.Process(pts)
	if len(pts) == 0 {
		// The pipeline kept nothing: nothing to store, but a resend would go
		// through the pipeline's state (windows, counters) a second time.
		// Remembered in memory only, so forgotten by a restart.
		e.resends.add(ids...)
		return nil, nil
	}
	var rec []byte
	if len(ids) > 0 {
		rec = appendEnvelope(make([]byte, 0, 48+len(ids)*len(resendID{})), ids...)
	}
	env := len(rec)
	rec = uplink.EncodePoints(rec, pts)
	p, err := e.outbox.Enqueue(rec, len(pts))
	if err != nil {
		return nil, e.refusedAppend(err)
	}
	e.resends.queued(p, ids...)
	// The outputs get the uplink record alone (not the envelope); a device
	// is acknowledged once they too have it on disk.
	out := e.outputs.Enqueue(rec[env:], len(pts))
	return &stored{e: e, p: p, out: out, points: len(pts), ids: ids}, nil
}

// stored is points submitted to the outbox.
type stored struct {
	e      *Edge
	p      *outbox.Pending
	out    output.Pending
	points int
	ids    []resendID
}

// wait waits until the points are durable and settles them.
func (s *stored) wait(ctx context.Context) error {
	select {
	case <-s.p.Done():
		if err := s.out.Wait(ctx); err != nil {
			return fmt.Errorf("append to outputs: abandoned, the points may be stored: %w", err)
		}
		return s.settle()
	case <-ctx.Done():
		return fmt.Errorf("append to outbox: abandoned, the points may be stored: %w", ctx.Err())
	}
}

// settle counts the points once the outbox has them and remembers their
// publishes, or counts why it refused them; call it once Done is closed.
func (s *stored) settle() error {
	e := s.e
	if _, err := s.p.Result(); err != nil {
		e.resends.settled(s.p, s.ids...)
		return e.refusedAppend(err)
	}
	e.resends.add(s.ids...)
	e.resends.settled(s.p, s.ids...)
	e.metrics.points.Add(float64(s.points))
	if e.refusing.Load() && e.refusing.CompareAndSwap(true, false) {
		e.log.Info("accepting device data again")
	}
	return nil
}

// refusedAppend counts an append the outbox refused and says so.
func (e *Edge) refusedAppend(err error) error {
	switch {
	case errors.Is(err, outbox.ErrTooLarge):
	case errors.Is(err, outbox.ErrFull):
		e.metrics.refused.WithLabelValues("full").Inc()
	default:
		e.metrics.refused.WithLabelValues("write_error").Inc()
	}
	return fmt.Errorf("append to outbox: %w", err)
}

// Reject is one rejected device message, kept for an operator to inspect.
type Reject struct {
	Time    time.Time `json:"time"`
	Client  string    `json:"client"` // the device's MQTT client id
	Remote  string    `json:"remote"` // its address
	Topic   string    `json:"topic"`
	Reason  string    `json:"reason"`
	Error   string    `json:"error"`
	Payload string    `json:"payload"` // the first bytes, as text
}

// rejectLog keeps the most recent rejections in a ring.
type rejectLog struct {
	mu   sync.Mutex // guards ring and next
	ring []Reject
	next int
}

const (
	keptRejects    = 100
	keptTextPrefix = 256 // bytes kept of a payload or client id
)

// add keeps a rejection and returns it as kept (topic and payload cut
// short, as text).
func (l *rejectLog) add(dev device, topic string, payload []byte, reason string, err error) Reject {
	r := Reject{Time: time.Now().UTC(), Client: keptText(dev.client, keptTextPrefix), Remote: dev.remote,
		Topic: keptText(topic, 2*uns.MaxPathLen), Reason: reason, Error: err.Error(), Payload: keptText(payload, keptTextPrefix)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < keptRejects {
		l.ring = append(l.ring, r)
		return r
	}
	l.ring[l.next] = r
	l.next = (l.next + 1) % keptRejects
	return r
}

// keptText returns the first n bytes of s as valid UTF-8.
func keptText[T string | []byte](s T, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte(string(utf8.RuneError))))
}

// recent returns the kept rejections, newest first.
func (l *rejectLog) recent() []Reject {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Reject, 0, len(l.ring))
	for i := range l.ring {
		j := (l.next - 1 - i + 2*len(l.ring)) % len(l.ring)
		out = append(out, l.ring[j])
	}
	return out
}
