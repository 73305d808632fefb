package mqtt

import (
	"log/slog"
	"testing"

	"github.com/molen-io/molen/internal/connector"
)

// fakeMessage is a received message for tests of receive alone.
type fakeMessage struct{ qos byte }

func (m fakeMessage) Topic() string     { return "t" }
func (m fakeMessage) Payload() []byte   { return nil }
func (m fakeMessage) Qos() byte         { return m.qos }
func (m fakeMessage) MessageID() uint16 { return 1 }
func (m fakeMessage) Ack()              {}

// TestReceiveLostWithConnection: a message waiting for an in-flight slot
// when its connection ends is counted as dropped at QoS 0 (nothing brings
// it back) and not at QoS 1 (the broker delivers it again).
func TestReceiveLostWithConnection(t *testing.T) {
	for _, c := range []struct {
		qos  byte
		want int64
	}{{0, 1}, {1, 0}} {
		st := connector.NewTracker("test", slog.New(slog.DiscardHandler))
		s := NewSession(SessionConfig{Status: st}, slog.New(slog.DiscardHandler))
		q := &queue{ch: make(chan Received, 1), slots: make(chan struct{}, 1), done: make(chan struct{})}
		q.slots <- struct{}{} // the one slot is taken
		gone := make(chan struct{})
		close(gone)
		s.receive(q, gone, fakeMessage{qos: c.qos})
		if got := st.Status().Dropped; got != c.want {
			t.Errorf("QoS %d: dropped %d, want %d", c.qos, got, c.want)
		}
		if len(q.ch) != 0 {
			t.Errorf("QoS %d: queued although no slot was free", c.qos)
		}
	}
}
