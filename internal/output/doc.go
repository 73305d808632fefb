// Package output is the edge's output stage: it republishes what the
// pipeline produced to systems other than the hub — an MQTT broker as a
// Unified Namespace (mqtt), SCADA as a Sparkplug B edge node (sparkplug),
// InfluxDB in line protocol (influx) and anything that takes Prometheus
// remote write (remote_write).
//
// Each output has its own durable buffer, an outbox.Log in its own
// directory, fed with the same records as the edge's outbox, and its own
// forwarding loop that reads it, sends to the output's peer, and
// acknowledges once the peer has the data. So the uplink and each output
// progress independently: a slow or absent peer never holds up the hub's
// uplink, the devices, or another output. Each buffer is bounded
// (max_bytes, max_age); when one is full its oldest records are dropped and
// counted (drop-oldest), in that output only — never the uplink's data.
//
// Delivery is at-least-once: a batch is sent again until the peer accepts
// it, so a peer may see a value twice after a retry or a restart. A batch
// the peer refuses as malformed (an HTTP 400) is dropped and counted, as it
// would be refused again.
//
// Output kinds register themselves (Register) with a config type that
// checks itself; the outputs file names errors by their place
// ("outputs[1].influx.url: required").
package output
