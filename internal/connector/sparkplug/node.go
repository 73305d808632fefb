package sparkplug

import (
	"fmt"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// The edge-node side of Sparkplug B (Node), used by the edge's sparkplug
// output, the simulator and the tests: births with aliases, data by alias,
// deaths, and answers to rebirth requests, through any publish function (a
// broker's inline client, an MQTT client).

// Publish sends one message; QoS and retain are the publisher's choice.
type Publish func(topic string, payload []byte) error

// NodeMetric is a value an edge node publishes.
type NodeMetric struct {
	Name       string
	Type       DataType
	Value      uns.Value // the zero Value publishes is_null
	Historical bool
	TS         time.Time // zero: the payload's timestamp
}

// Message is an encoded message, for tests that publish out of order.
type Message struct {
	Topic   string
	Payload []byte
}

// Node is one edge node. Its seq counts every message but NDEATH, as
// Sparkplug wants; its bdSeq grows with every NewSession.
type Node struct {
	Group, ID string
	pub       Publish

	mu      sync.Mutex // guards the fields below
	seq     uint8
	bdSeq   uint64
	next    uint64                       // next alias
	aliases map[string]map[string]uint64 // device ("" for the node) → name → alias
	types   map[string]map[string]DataType
	births  map[string][]NodeMetric // the last birth of each device, for Rebirth
}

// NewNode returns an edge node of group that publishes with pub.
func NewNode(group, id string, pub Publish) *Node {
	return &Node{Group: group, ID: id, pub: pub}
}

// BdSeq is the bdSeq of the current session.
func (n *Node) BdSeq() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bdSeq
}

// NewSession starts a new MQTT session: bdSeq grows. Its NDEATH, to be
// registered as the will, is DeathMessage.
func (n *Node) NewSession() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.bdSeq++
}

// Birth publishes an NBIRTH declaring ms (each with an alias) and the
// bdSeq, with seq 0.
func (n *Node) Birth(ms ...NodeMetric) error { return n.send(n.BirthMessage(ms...)) }

// BirthMessage encodes an NBIRTH.
func (n *Node) BirthMessage(ms ...NodeMetric) (Message, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq = 0
	n.next = 1
	n.aliases = map[string]map[string]uint64{}
	n.types = map[string]map[string]DataType{}
	n.births = map[string][]NodeMetric{"": ms}
	bd := Metric{Name: "bdSeq", Datatype: UInt64, Field: LongValue, Bits: n.bdSeq}
	rb := Metric{Name: RebirthMetric, Datatype: Boolean, Field: BoolValue}
	return n.message(NBIRTH, "", ms, true, bd, rb)
}

// DeviceBirth publishes a DBIRTH of dev declaring ms.
func (n *Node) DeviceBirth(dev string, ms ...NodeMetric) error {
	return n.send(n.DeviceBirthMessage(dev, ms...))
}

// DeviceBirthMessage encodes a DBIRTH.
func (n *Node) DeviceBirthMessage(dev string, ms ...NodeMetric) (Message, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.births[dev] = ms
	return n.message(DBIRTH, dev, ms, true)
}

// Data publishes an NDATA of ms by alias.
func (n *Node) Data(ms ...NodeMetric) error { return n.send(n.DataMessage("", ms...)) }

// DeviceData publishes a DDATA of dev's ms by alias.
func (n *Node) DeviceData(dev string, ms ...NodeMetric) error {
	return n.send(n.DataMessage(dev, ms...))
}

// DataMessage encodes an NDATA (dev "") or DDATA. A metric its birth did
// not declare is sent by name.
func (n *Node) DataMessage(dev string, ms ...NodeMetric) (Message, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := NDATA
	if dev != "" {
		t = DDATA
	}
	return n.message(t, dev, ms, false)
}

// DeviceDeath publishes a DDEATH of dev.
func (n *Node) DeviceDeath(dev string) error {
	n.mu.Lock()
	m, err := n.message(DDEATH, dev, nil, false)
	n.mu.Unlock()
	return n.send(m, err)
}

// Death publishes the NDEATH of the current session, as the broker does
// with the will when the node's connection drops.
func (n *Node) Death() error { return n.send(n.DeathMessage(n.BdSeq()), nil) }

// DeathMessage encodes an NDEATH carrying bdSeq (no seq).
func (n *Node) DeathMessage(bdSeq uint64) Message {
	p := Payload{
		Timestamp: uint64(time.Now().UnixMilli()),
		Metrics:   []Metric{{Name: "bdSeq", Datatype: UInt64, Field: LongValue, Bits: bdSeq}},
	}
	t := Topic{Group: n.Group, Type: NDEATH, Node: n.ID}
	return Message{Topic: t.String(), Payload: p.Append(nil)}
}

// Skip consumes k seqs without publishing: messages lost on the way.
func (n *Node) Skip(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq += uint8(k)
}

// Send publishes m.
func (n *Node) Send(m Message) error { return n.send(m, nil) }

// Rebirth publishes the last births again (NBIRTH, then each DBIRTH), as a
// node does on an NCMD Node Control/Rebirth. Values are those of the
// births.
func (n *Node) Rebirth() error {
	n.mu.Lock()
	births := n.births
	n.mu.Unlock()
	if err := n.Birth(births[""]...); err != nil {
		return err
	}
	for dev, ms := range births {
		if dev != "" {
			if err := n.DeviceBirth(dev, ms...); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsRebirthRequest reports whether payload (of an NCMD) asks for a rebirth.
func IsRebirthRequest(payload []byte) bool {
	var p Payload
	if Decode(payload, &p) != nil {
		return false
	}
	for _, m := range p.Metrics {
		if m.Name == RebirthMetric && m.Field == BoolValue && m.Bits == 1 {
			return true
		}
	}
	return false
}

func (n *Node) send(m Message, err error) error {
	if err != nil {
		return err
	}
	if err := n.pub(m.Topic, m.Payload); err != nil {
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	return nil
}

// message encodes a message of type t with seq and the metrics ms, by
// alias (declaring them if birth) and extra metrics first. n.mu is held.
func (n *Node) message(t MessageType, dev string, ms []NodeMetric, birth bool, extra ...Metric) (Message, error) {
	now := time.Now()
	p := Payload{Timestamp: uint64(now.UnixMilli()), Seq: uint64(n.seq), HasSeq: true}
	n.seq++
	p.Metrics = append(p.Metrics, extra...)
	if birth {
		n.aliases[dev] = map[string]uint64{}
		n.types[dev] = map[string]DataType{}
	}
	for _, m := range ms {
		sm := Metric{Name: m.Name, Datatype: m.Type, IsHistorical: m.Historical, IsNull: m.Value.Kind() == uns.KindInvalid}
		if !m.TS.IsZero() {
			sm.Timestamp = uint64(m.TS.UnixMilli())
		}
		if !sm.IsNull {
			if err := sm.SetValue(m.Value); err != nil {
				return Message{}, fmt.Errorf("metric %q: %w", m.Name, err)
			}
		}
		if birth {
			n.aliases[dev][m.Name] = n.next
			n.types[dev][m.Name] = m.Type
			n.next++
		}
		if a, ok := n.aliases[dev][m.Name]; ok {
			sm.Alias, sm.HasAlias = a, true
			if !birth {
				// By alias only, as edge nodes do; the datatype too
				// is the birth's, unless it changed.
				sm.Name = ""
				if m.Type == n.types[dev][m.Name] {
					sm.Datatype = 0
				}
			}
		}
		p.Metrics = append(p.Metrics, sm)
	}
	topic := Topic{Group: n.Group, Type: t, Node: n.ID, Device: dev}
	return Message{Topic: topic.String(), Payload: p.Append(nil)}, nil
}
