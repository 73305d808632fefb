// Package vda5050 is the edge's input from AGVs speaking VDA 5050 v2 over
// MQTT: it subscribes to the state, connection and visualization topics
// (<interface>/<version>/<manufacturer>/<serialNumber>/<topic>) of one
// broker, maps each vehicle onto a UNS asset (an asset template, default
// {site}/{area}/agv/{manufacturer}-{serial_number}) and writes position,
// velocity, battery, driving, loads, errors, safety and connection state as
// points of that asset. It registers itself as the "vda5050" connector kind.
//
// The MQTT side is the mqtt package's Session (MQTT 3.1.1), as for the mqtt input:
// automatic acknowledgement is off and a QoS 1 message is acknowledged only
// after the sink accepted its points; one writer goroutine decodes, writes
// and acknowledges; in-flight messages are bounded by max_inflight; a lost
// connection is made anew with back-off.
//
// Payloads are untrusted JSON, decoded into typed structs: a field of the
// wrong type, a payload over max_payload, arrays over their limits, a bad
// timestamp or a value VDA 5050 does not allow reject the whole message,
// counted in Status.Rejected by reason and acknowledged; unknown fields are
// ignored, as VDA 5050 allows extensions. The decoder has a fuzz target
// (FuzzDecode) with its corpus in testdata/fuzz.
//
// Events. The connector contract's Sink takes points, so errors and the
// connection are always reported as points (error_count, error_fatal, an
// "error" point with the errorType of each new error, connection_state).
// Events derives agv_error and connection_broken events from two
// consecutive Snapshots of a vehicle; the input writes them only to a sink
// that also implements EventSink (checked with a type assertion when Run
// starts). The edge's sink does: it stores them in its outbox, from where
// they reach the hub as events.
package vda5050
