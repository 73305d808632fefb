// Package mqttwire reads and writes the few MQTT packets of the edge's
// ingest path: a device's CONNECT, PUBLISH, PINGREQ and DISCONNECT, and the
// CONNACK, PUBACK and PINGRESP that answer them (MQTT 3.1.1, OASIS
// standard, sections 2 and 3).
//
// A Reader decodes packets from a buffered reader without allocating per
// packet: a packet that fits the reader's buffer is returned as a slice of
// that buffer, valid until the next call. Everything it decodes is
// untrusted: a malformed packet is an error (ErrMalformed), never a panic.
package mqttwire
