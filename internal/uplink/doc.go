// Package uplink is the edge↔hub wire protocol: the binary encoding of
// points and batches, the sentinels of the hub's answers, and the edge's
// Client. The hub's side, which stores batches, is internal/ingest; this
// package imports nothing of the hub, so the edge links none of it.
//
// An edge commits points to its outbox as records; each record's bytes are
// the point encoding of EncodePoints, possibly behind an edge-local header
// (the identity of the device publish it came from, see internal/edge)
// that the forwarder cuts off, and are sent to the hub otherwise unchanged,
// so the edge never re-encodes its backlog. A Batch carries consecutive records
// of one stream with their sequence numbers; the hub stores every record
// above the stream's watermark in one transaction with the new watermark and
// only then answers 200, which is what makes forwarding at-least-once on the
// wire and exactly-once in storage. See docs/adr/0001-edge-hub-transport.md.
//
// Record encoding (all integers varint/uvarint as in encoding/binary):
//
//	uvarint  version: 1 (points only) or 2 (points, then events)
//	uvarint  n strings; n × (uvarint len, bytes)   series paths
//	uvarint  n points;  n × point
//	point:   uvarint series index, varint ts delta (from previous point, first from 0),
//	         byte kind<<4 | quality, value:
//	         float 8 bytes little-endian | int varint | bool none (kind byte low/high) | string uvarint len, bytes
//	version 2 only:
//	uvarint  n events; n × (asset, kind as uvarint len + bytes; varint start, varint end (0: open);
//	         uvarint n attributes; n × (key, value as uvarint len + bytes), keys sorted)
//
// Batch encoding:
//
//	"MLNB", byte version (1)
//	uvarint len, stream
//	uvarint n records; n × (uvarint seq delta (first absolute), uvarint len, record bytes)
package uplink
