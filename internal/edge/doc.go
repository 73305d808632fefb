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
//
// # Device resends
//
// A QoS 1 or 2 device whose PUBACK was lost (its connection or the edge
// process went away between the append and the PUBACK) publishes the
// message again after reconnecting, usually with the DUP flag. The edge
// recognises such a resend, acknowledges it, stores nothing and counts it
// (ingest.resends_skipped). A publish is identified by the first 16 bytes
// of the SHA-256 of its client id, packet id, topic and payload; packet ids
// are reused by clients, so a new message under an old id differs in topic
// or payload and is stored.
//
// The identity is written in the same outbox record as the points (one
// write, one checksum), so it is on disk exactly when they are. The edge
// remembers the identities of the last 65,536 publishes it stored, across
// all clients; Start rereads those in the records appended during the five
// minutes before the newest record, acknowledged ones included, before
// devices can connect and before the forwarder runs (acknowledgements
// delete segments).
//
// A publish is skipped only if its identity is remembered and every point
// it decodes to carries a timestamp from the device: then the stored copy
// holds exactly the same points, so skipping can lose nothing, whatever the
// DUP flag says. A value stamped with the receive time is always stored:
// the same bytes under a reused packet id may be a new reading of an
// unchanged value, and the edge cannot tell that from a resend, so such a
// resend stays a duplicate (at a later timestamp). A resend the edge no
// longer remembers (65,536 publishes later, stored more than five minutes
// before the edge stopped, or in a segment deleted before a restart) is
// stored again: a duplicate, never a loss.
//
// # Outbox records
//
// A record the edge appends is an uplink record (package uplink) or, for a
// QoS 1 or 2 device publish or a batch of an input's messages that its
// broker may deliver again (connector.MessageSink), an envelope followed by
// one:
//
//	byte     0x00: an envelope (an uplink record starts with its version, never 0)
//	uvarint  n: length of the header
//	n bytes  header: byte version (1), the 16-byte identity of each publish
//	...      the uplink record
//
// An input's message is identified as a device publish is, with the
// input's session (broker URL and client id) for the client id, and
// skipped on the same terms.
//
// The forwarder cuts the envelope off (no re-encoding) and sends the uplink
// record, so the hub never sees it. A header of another version is skipped
// by its length. Records from before the envelope existed have none and are
// forwarded as they are. An edge binary from before the envelope would send
// enveloped records whole, which the hub refuses (they go to the
// dead-letter directory): do not downgrade an edge with records in its
// outbox.
package edge
