// Package sparkplug is the edge's Sparkplug B host application: it
// subscribes to spBv1.0/<group>/# on an existing MQTT 3.1.1 broker
// (eclipse/paho.mqtt.golang), decodes the protobuf payloads without
// generated code (protowire, payload.go, with a fuzz target), and maps the
// metrics of edge nodes and their devices onto UNS paths. It registers the
// "sparkplug" connector kind. sparkplugtest is an edge node that publishes
// births, data and deaths, for tests and the simulator.
//
// The host's state (host.go) is owned by the input's single writer
// goroutine: per edge node the bdSeq of its NBIRTH, the metrics and aliases
// of its NBIRTH and DBIRTHs with their last values, and the expected seq.
//
//   - A data message is decoded by alias (or name) through its birth; one
//     whose node or device has no birth, or with an alias the birth did not
//     declare, is counted (no_birth, unknown_alias) and a rebirth is
//     requested (NCMD Node Control/Rebirth = true, at most one per
//     reorder_timeout per node).
//   - Messages are not held back: points carry their own timestamps, so a
//     message after a seq gap is written at once. The seqs skipped are
//     awaited for reorder_timeout; one arriving meanwhile closes its part of
//     the gap. A gap still open then counts its messages in Status.Dropped
//     and requests a rebirth.
//   - NDEATH with the current birth's bdSeq, DDEATH, and the loss of the
//     broker mark the metrics concerned stale: each one's last value is
//     written again with quality bad at the death (no earlier than its last
//     point). An NDEATH with another bdSeq is the will of an older session
//     and is ignored (stale_death).
//   - is_historical values are back-fill: written with their own timestamps
//     and never taken as a metric's last value.
//
// The connection is the mqtt package's Session, as for the mqtt input: a
// message is acknowledged only after the sink accepted the points of its
// batch (a refused write is retried with the same points), in order; the
// session reconnects with back-off. The host's state is kept by the
// session's handler, on its one writer goroutine; the session tells it
// when a connection is lost (stale marks) and when one can publish (the
// rebirth requests held meanwhile), and publishes a primary host's STATE
// (its will, its birth after subscribing, its death before a clean stop).
package sparkplug
