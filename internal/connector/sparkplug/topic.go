package sparkplug

import (
	"fmt"
	"strings"
)

// Namespace is the first level of every Sparkplug B topic.
const Namespace = "spBv1.0"

// MessageType is the third level of a Sparkplug B topic.
type MessageType string

// The message types.
const (
	NBIRTH MessageType = "NBIRTH"
	NDATA  MessageType = "NDATA"
	NDEATH MessageType = "NDEATH"
	NCMD   MessageType = "NCMD"
	DBIRTH MessageType = "DBIRTH"
	DDATA  MessageType = "DDATA"
	DDEATH MessageType = "DDEATH"
	DCMD   MessageType = "DCMD"
)

// Topic is a parsed Sparkplug B topic: spBv1.0/group/type/edge_node[/device].
type Topic struct {
	Group  string
	Type   MessageType
	Node   string
	Device string // empty for node messages
}

// String is the topic as published.
func (t Topic) String() string {
	s := Namespace + "/" + t.Group + "/" + string(t.Type) + "/" + t.Node
	if t.Device != "" {
		s += "/" + t.Device
	}
	return s
}

// ParseTopic parses a Sparkplug B topic. The host's STATE topic and
// topics of other namespaces are errors.
func ParseTopic(s string) (Topic, error) {
	rest, ok := strings.CutPrefix(s, Namespace+"/")
	if !ok {
		return Topic{}, fmt.Errorf("topic %.128q: not in the %s namespace", s, Namespace)
	}
	levels := strings.SplitN(rest, "/", 5)
	if len(levels) < 3 || len(levels) > 4 {
		return Topic{}, fmt.Errorf("topic %.128q: want %s/group/type/edge_node[/device]", s, Namespace)
	}
	t := Topic{Group: levels[0], Type: MessageType(levels[1]), Node: levels[2]}
	if len(levels) == 4 {
		t.Device = levels[3]
	}
	device := false
	switch t.Type {
	case NBIRTH, NDATA, NDEATH, NCMD:
	case DBIRTH, DDATA, DDEATH, DCMD:
		device = true
	default:
		return Topic{}, fmt.Errorf("topic %.128q: message type %.16q unknown", s, levels[1])
	}
	if t.Group == "" || t.Node == "" || device && t.Device == "" || !device && len(levels) == 4 {
		return Topic{}, fmt.Errorf("topic %.128q: want %s/group/%s/edge_node%s", s, Namespace, t.Type, map[bool]string{true: "/device"}[device])
	}
	return t, nil
}
