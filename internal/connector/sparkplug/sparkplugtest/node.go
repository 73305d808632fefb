// Package sparkplugtest is a Sparkplug B edge node for tests and the
// simulator: sparkplug.Node under the names the tests use.
package sparkplugtest

import "github.com/molen-io/molen/internal/connector/sparkplug"

// Publish sends one message; QoS and retain are the publisher's choice.
type Publish = sparkplug.Publish

// Metric is a value to publish.
type Metric = sparkplug.NodeMetric

// Message is an encoded message, for tests that publish out of order.
type Message = sparkplug.Message

// Node is one edge node (sparkplug.Node).
type Node = sparkplug.Node

// NewNode returns an edge node of group that publishes with pub.
func NewNode(group, id string, pub Publish) *Node { return sparkplug.NewNode(group, id, pub) }

// IsRebirthRequest reports whether payload (of an NCMD) asks for a rebirth.
func IsRebirthRequest(payload []byte) bool { return sparkplug.IsRebirthRequest(payload) }
