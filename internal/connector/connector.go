package connector

import (
	"context"
	"log/slog"
	"time"

	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/yamlspec"
)

// Sink receives what an input reads. Write returns once the points are
// durable (in the edge's outbox) or with an error; an input acknowledges its
// peer (where the protocol has acknowledgements) only after Write returned
// nil. Write is safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, pts []uns.Point) error
}

// Message is the points of one message from a peer that delivers again
// what it has not seen acknowledged (an MQTT broker, to a persistent
// session after a reconnection or its own restart), with what identifies
// the message in such a redelivery.
type Message struct {
	// Session, Packet, Topic and Payload identify the message: a
	// redelivery has the same. Session names the input's session at its
	// peer, unique among the edge's inputs (e.g. the broker's URL and the
	// client id) and never a device's MQTT client id (it holds a NUL);
	// Packet is the peer's packet id. A message its peer does not deliver
	// again (MQTT QoS 0) has Session "".
	Session string
	Packet  uint16
	Topic   string
	Payload []byte
	// Received (unix ns) is when the message arrived: the time of the
	// points whose message gave them none.
	Received int64
	Points   []uns.Point
}

// MessageSink is a Sink that recognises redelivered messages. An input
// whose peer redelivers uses it when its sink has it.
type MessageSink interface {
	Sink
	// WriteMessages writes the points of msgs in one durable write, as
	// Write does, except those of a message it recognises as a redelivery
	// of one it stored and whose points all have a time of their own (so
	// the stored copy holds exactly them). It returns how many points it
	// wrote.
	WriteMessages(ctx context.Context, msgs []Message) (written int, err error)
}

// EventSink is a Sink that also takes events an input derives itself (a
// vehicle's errors, a machine's conditions). The Input contract carries
// points; an input that has events checks whether its sink is an EventSink
// and writes them, after the points they came with, only if it is.
type EventSink interface {
	WriteEvents(ctx context.Context, evs []uns.Event) error
}

// Input reads from one peer (a server, a PLC, a broker).
type Input interface {
	// Run connects and reads until ctx ends, delivering batches to sink. It
	// reconnects by itself, with back-off and a probe, when the peer goes
	// away; it returns only when ctx ends (nil) or on a configuration error
	// that retrying cannot fix. Run is called once.
	Run(ctx context.Context, sink Sink) error
	// Status reports the input's health; safe to call at any time.
	Status() Status
}

// State is an input's connection state.
type State string

// The states.
const (
	Connecting   State = "connecting"
	Connected    State = "connected"
	Disconnected State = "disconnected" // lost, retrying
	Stopped      State = "stopped"
)

// Status is what the edge's status API shows per input.
type Status struct {
	State       State            `json:"state"`
	Peer        string           `json:"peer"`                    // address or URL of the peer
	LastError   string           `json:"last_error,omitempty"`    // why it is not connected, or the last bad frame
	LastErrorAt time.Time        `json:"last_error_at,omitempty"` //
	Connects    int64            `json:"connects"`                // successful connections, the first included
	Points      int64            `json:"points"`                  // points written to the sink
	Rejected    map[string]int64 `json:"rejected,omitempty"`      // bad frames/values by reason
	Dropped     int64            `json:"dropped,omitempty"`       // values the peer or protocol lost that the input could measure
	// PeerCertificate is the certificate the peer presented on the last
	// attempt to connect, for inputs that check it themselves (OPC UA with
	// security).
	PeerCertificate *Certificate `json:"peer_certificate,omitempty"`
}

// Certificate describes a certificate a peer presented.
type Certificate struct {
	Subject   string    `json:"subject"`
	SHA1      string    `json:"sha1"`   // the thumbprint OPC UA tools show: SHA-1 of the DER, upper-case hex
	SHA256    string    `json:"sha256"` // SHA-256 of the DER, upper-case hex
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Trusted   bool      `json:"trusted"`
	// File is where the input saved a certificate it does not trust, for
	// an operator to check and approve.
	File string `json:"file,omitempty"`
}

// Config is an input's typed configuration. Validate returns errors whose
// text names the field ("unit_id: must be 1..247"); the loader prefixes the
// input's path in the edge config (inputs[2].modbus.).
type Config interface {
	Validate() error
}

// Spec registers an input kind.
type Spec struct {
	Name string        // the key in the edge config, e.g. "modbus"
	Doc  string        // one line for --help and error messages
	New  func() Config // a pointer to a config holding the defaults; the loader decodes into it (unknown fields are errors)
	// Build makes the input. log already carries the input's place in the
	// inputs file (input) and its kind: an input adds only what is its own
	// (peer, client id), so that every key appears once in a log line.
	Build func(cfg Config, log *slog.Logger) (Input, error)
}

var registry = yamlspec.NewRegistry[Spec]("connector")

// Register adds an input kind; it panics on a duplicate or incomplete spec,
// as registration happens in init.
func Register(s Spec) { registry.Register(s.Name, s, s.New != nil && s.Build != nil) }

// Lookup returns the spec of an input kind.
func Lookup(name string) (Spec, bool) { return registry.Lookup(name) }

// Kinds lists the registered input kinds by name.
func Kinds() []string { return registry.Names() }
