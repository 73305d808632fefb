package sim

import (
	"context"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// link is one machine's side of the MQTT connection: it bounds the messages
// in flight and tracks which ticks the broker has acknowledged.
//
// Acknowledgements are observed in paho's store, not through tokens: with
// CleanSession(false), a reconnect re-queues every stored publish under a new
// token and completes the original token without error, before the broker
// has acknowledged the resent message. paho deletes an outbound publish from
// its store when, and only when, the PUBACK arrives, so ackStore.Del is the
// acknowledgement.
type link struct {
	m   device // owned by the machine's goroutine in Run
	max int

	mu sync.Mutex // guards the fields below
	// inflight maps the payload of each unacknowledged message to its tick.
	// A payload is identified by its first byte: paho keeps the slice it is
	// given, the store returns it on acknowledgement, and payloads never
	// overlap (see machine.tick).
	inflight  map[*byte]uint64
	open      map[uint64]int   // tick → its messages not yet acknowledged
	published uint64           // last tick wholly handed to the client
	acked     uint64           // every tick up to acked is wholly acknowledged; acked ≤ published
	tickMS    map[uint64]int64 // unix ms of the handed-over ticks not yet acknowledged
	ackedMS   int64            // unix ms of tick acked
	room      chan struct{}    // closed, and replaced, when inflight drops below max
}

func newLink(m device, max int) *link {
	return &link{
		m:        m,
		max:      max,
		inflight: make(map[*byte]uint64),
		open:     make(map[uint64]int),
		tickMS:   make(map[uint64]int64),
		room:     make(chan struct{}),
	}
}

// reserve waits until fewer than max messages are in flight, then records
// msg as in flight. It must be called before msg is handed to the client, as
// the acknowledgement may arrive before Publish returns.
func (l *link) reserve(ctx context.Context, msg Message) error {
	for {
		l.mu.Lock()
		if len(l.inflight) < l.max {
			l.inflight[&msg.Payload[0]] = msg.Seq
			l.open[msg.Seq]++
			l.mu.Unlock()
			return nil
		}
		room := l.room
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-room:
		}
	}
}

// forget undoes reserve for a message the client never took.
func (l *link) forget(msg Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(&msg.Payload[0])
}

// acknowledged records the PUBACK of a stored publish.
func (l *link) acknowledged(pub *packets.PublishPacket) {
	if len(pub.Payload) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(&pub.Payload[0])
}

// remove drops key from the in-flight set. l.mu must be held.
func (l *link) remove(key *byte) {
	seq, ok := l.inflight[key]
	if !ok {
		return // a duplicate acknowledgement
	}
	delete(l.inflight, key)
	if l.open[seq]--; l.open[seq] == 0 {
		delete(l.open, seq)
	}
	if len(l.inflight) == l.max-1 {
		close(l.room)
		l.room = make(chan struct{})
	}
	l.advance()
}

// handedOver records that every message of tick seq, stamped ms (unix
// ms), is with the client.
func (l *link) handedOver(seq uint64, ms int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.published = seq
	l.tickMS[seq] = ms
	l.advance()
}

// advance moves acked over the handed-over ticks with nothing open. l.mu
// must be held.
func (l *link) advance() {
	for l.acked < l.published && l.open[l.acked+1] == 0 {
		l.acked++
		l.ackedMS = l.tickMS[l.acked]
		delete(l.tickMS, l.acked)
	}
}

func (l *link) counts() (acked, published uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.published
}

// drain waits up to timeout for every in-flight message to be acknowledged
// and returns how many are still in flight.
func (l *link) drain(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		n := len(l.inflight)
		l.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *link) store() mqtt.Store {
	return &ackStore{Store: mqtt.NewOrderedMemoryStore(), link: l}
}

// ackStore is paho's ordered in-memory store (which resends in publishing
// order after a reconnect) that reports deleted outbound publishes: paho
// deletes one exactly when its PUBACK arrives.
type ackStore struct {
	mqtt.Store
	link *link
}

func (s *ackStore) Del(key string) {
	if !strings.HasPrefix(key, "o.") {
		s.Store.Del(key)
		return
	}
	p := s.Store.Get(key)
	s.Store.Del(key)
	if pub, ok := p.(*packets.PublishPacket); ok {
		s.link.acknowledged(pub)
	}
}
