// Package edge composes a molen edge: an MQTT listener that devices publish
// to, payload validation into UNS points, the pipeline stage, the durable
// outbox, and the forwarder that sends the outbox to the hub. It also serves
// the edge's local status API and /metrics.
//
// The acknowledgement chain: a device's QoS 1 PUBLISH is answered with
// PUBACK only after its points are in the outbox (written, and fsynced per
// the outbox's sync policy); the outbox deletes records only after the hub
// answered that it stored them. So every acknowledged point reaches the hub
// unless a stated bound (outbox size or age) drops it, and then it is counted.
package edge
