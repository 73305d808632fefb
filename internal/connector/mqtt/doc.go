// Package mqtt is the edge's input from an existing MQTT broker: it
// subscribes to topic filters (MQTT 3.1.1 with eclipse/paho.mqtt.golang, or
// MQTT 5 with eclipse/paho.golang: only the client differs, client3.go and
// client5.go; decoding, mapping, status and writing are shared),
// maps each message's topic onto a UNS path and decodes its payload with
// uns.Decode (a bare JSON value, {"value","ts","q"}, or an object that
// flattens into tags). It registers itself as the "mqtt" connector kind.
//
// Acknowledgement is durability: the client's automatic acknowledgement is
// off, and a QoS 1 or 2 message is acknowledged (PUBACK, PUBREC) only after
// the sink accepted its points, in the order the messages arrived. A refused
// write is retried with the same points and back-off; messages never
// acknowledged are delivered again by the broker to the next session of the
// same client id (clean_session is false by default), so a restart of the
// edge loses nothing that the broker kept.
//
// In-flight messages are bounded by max_inflight: the client's message
// handler runs on its receive goroutine and, once the bound is reached,
// waits, whatever the QoS: the socket stops being read and TCP holds the
// broker back, which keeps the messages (or, for QoS 0, may discard them
// under its own limits, unseen by the client; a QoS 0 message still
// waiting when its connection ends is counted in Status.Dropped). With MQTT 5 the CONNECT also carries max_inflight as the
// receive maximum, so the broker itself holds back QoS 1 and 2 messages
// beyond it. Drops inside the broker (its queue limits for a slow or
// absent client) are not visible to the client and are not
// counted.
//
// A message that cannot be used is counted in Status.Rejected under the
// uns reason (not_json, invalid_path, wrong_type, …) or unmatched_topic,
// acknowledged, and not written.
//
// Session (session.go) is all of this but the decoding: connecting (MQTT
// 3.1.1 or 5, TLS, credentials), the subscriptions, the bounded queue,
// acknowledgement in order after the handler stored a batch, and the
// reconnection loop with back-off. The three MQTT-based inputs (mqtt,
// sparkplug, vda5050) run on it and keep only their payloads and their
// protocol's behaviour; it is tested once, in session_test.go, against
// mochi and Mosquitto.
//
// Path templates (topic.go) parse topics, which any client of the broker
// may publish, and have a fuzz target (FuzzTopicPath). Sparkplug B payloads
// are not available yet and refused by Validate.
package mqtt
