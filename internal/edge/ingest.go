package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// ingestHook receives every PUBLISH from devices. mochi sends the PUBACK
// only after OnPublish returns, so returning after the outbox append makes
// the acknowledgement mean "on disk".
type ingestHook struct {
	mqtt.HookBase
	e *Edge
}

func (h *ingestHook) ID() string { return "molen-ingest" }

func (h *ingestHook) Provides(b byte) bool { return b == mqtt.OnPublish || b == mqtt.OnACLCheck }

// OnACLCheck allows every publish and subscriptions only when configured.
func (h *ingestHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return write || h.e.cfg.MQTTAllowSubscribe
}

func (h *ingestHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	var id *resendID
	if pk.FixedHeader.Qos > 0 {
		// Only QoS 1 and 2 publishes carry a packet id and are resent.
		rid := newResendID(cl.ID, pk.PacketID, pk.TopicName, pk.Payload)
		id = &rid
	}
	err := h.e.ingest(context.Background(), pk.TopicName, pk.Payload, id)
	if err == nil {
		return pk, nil
	}
	if errors.Is(err, errResent) {
		// Stored (and passed to local subscribers) the first time: the
		// device gets its PUBACK, nothing else happens.
		return pk, packets.CodeSuccessIgnore
	}
	if reason := uns.ReasonOf(err); reason != "" {
		// Bad input: counted and kept for inspection. MQTT 5 clients get the
		// reason code; 3.1.1 has no negative PUBACK, so they get a PUBACK and
		// the message is not passed to local subscribers.
		if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
			if reason == uns.ReasonInvalidPath {
				return pk, packets.ErrTopicNameInvalid
			}
			return pk, packets.ErrPayloadFormatInvalid
		}
		return pk, packets.CodeSuccessIgnore
	}
	// The outbox could not take the data (disk full, bound with reject-new,
	// closing). Do not acknowledge: drop the connection so the device keeps
	// the message and sends it again after reconnecting. Counted per
	// message; logged when refusing starts, not for every message.
	if h.e.refusing.CompareAndSwap(false, true) {
		h.e.log.Warn("refusing device data: the outbox cannot store it; devices are disconnected and resend later", "client", cl.ID, "err", err)
	}
	cl.Stop(err)
	return pk, packets.ErrRejectPacket
}

// ingest decodes one device message, runs the pipeline stage and appends
// the result to the outbox. id identifies a QoS 1 or 2 publish (nil for
// QoS 0). It returns a *uns.RejectError for bad input, errResent for a
// resend of a publish already stored, and another error if the data could
// not be stored.
func (e *Edge) ingest(ctx context.Context, topic string, payload []byte, id *resendID) error {
	e.metrics.messages.Inc()
	now := time.Now().UnixNano()
	pts, err := uns.Decode(nil, topic, payload, now)
	if err != nil {
		reason := uns.ReasonOf(err)
		e.metrics.rejected.WithLabelValues(reason).Inc()
		e.rejects.add(topic, payload, reason, err)
		return err
	}
	if id != nil && e.resends.has(*id) && stamped(pts, now) {
		e.metrics.resendsSkipped.Inc()
		return errResent
	}
	var ids []resendID
	if id != nil {
		ids = []resendID{*id}
	}
	if err := e.accept(ctx, pts, ids...); err != nil {
		if errors.Is(err, outbox.ErrTooLarge) {
			// Larger than the whole buffer may hold: no retry can help.
			err = &uns.RejectError{Reason: uns.ReasonOversized, Msg: err.Error()}
			e.metrics.rejected.WithLabelValues(uns.ReasonOversized).Inc()
			e.rejects.add(topic, payload, uns.ReasonOversized, err)
		}
		return err
	}
	return nil
}

// accept runs points through the pipeline stage and appends the result to
// the outbox: the one way in for device messages and connector inputs. It
// returns once the points are durable, or an error (outbox full or failing).
// ids identify the device publishes (or an input's messages) the points
// come from: the record carries them (in the same write, so they are on
// disk exactly when the points are) and the edge remembers them to
// recognise resends.
func (e *Edge) accept(ctx context.Context, pts []uns.Point, ids ...resendID) error {
	pts = e.stage.Process(pts)
	if len(pts) == 0 {
		// The pipeline kept nothing: nothing to store, but a resend would go
		// through the pipeline's state (windows, counters) a second time.
		// Remembered in memory only, so forgotten by a restart.
		e.resends.add(ids...)
		return nil
	}
	var rec []byte
	if len(ids) > 0 {
		rec = appendEnvelope(make([]byte, 0, 48+len(ids)*len(resendID{})), ids...)
	}
	rec = uplink.EncodePoints(rec, pts)
	if _, err := e.outbox.Append(ctx, rec, len(pts)); err != nil {
		switch {
		case errors.Is(err, outbox.ErrTooLarge):
		case errors.Is(err, outbox.ErrFull):
			e.metrics.refused.WithLabelValues("full").Inc()
		default:
			e.metrics.refused.WithLabelValues("write_error").Inc()
		}
		return fmt.Errorf("append to outbox: %w", err)
	}
	e.resends.add(ids...)
	e.metrics.points.Add(float64(len(pts)))
	if e.refusing.Load() && e.refusing.CompareAndSwap(true, false) {
		e.log.Info("accepting device data again")
	}
	return nil
}

// Reject is one rejected device message, kept for an operator to inspect.
type Reject struct {
	Time    time.Time `json:"time"`
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
	keptRejects       = 100
	keptPayloadPrefix = 256
)

func (l *rejectLog) add(topic string, payload []byte, reason string, err error) {
	p := payload
	if len(p) > keptPayloadPrefix {
		p = p[:keptPayloadPrefix]
	}
	p = bytes.ToValidUTF8(p, []byte(string(utf8.RuneError)))
	if len(topic) > 2*uns.MaxPathLen {
		topic = topic[:2*uns.MaxPathLen]
	}
	r := Reject{Time: time.Now().UTC(), Topic: topic, Reason: reason, Error: err.Error(), Payload: string(p)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < keptRejects {
		l.ring = append(l.ring, r)
		return
	}
	l.ring[l.next] = r
	l.next = (l.next + 1) % keptRejects
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
