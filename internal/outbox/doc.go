// Package outbox is the edge's durable local log: the store-and-forward
// buffer between ingest and the uplink. Ingest appends records (a batch of
// points each) and acknowledges its devices once Append returns; the
// forwarder reads records in sequence order, sends them to the hub and
// acknowledges them here once the hub has stored them; acknowledged records
// are deleted. The hub deduplicates by (ID, Seq), so delivery is
// at-least-once from here and exactly-once in storage.
//
// Records are deleted a whole segment at a time, once none of the
// segment's records is pending and it is not the active segment. Until
// then Scan still returns them: a caller that keeps state in its records
// (the edge keeps the identities of device publishes) rebuilds it from
// there at start, from a given append time on.
//
// # Durability contract
//
// With Options.SyncInterval 0 (the default), Append returns only after the
// record was written and fsynced (and, when it opened a new segment file,
// the directory too). Concurrent Appends share one write(2) and one fsync
// (group commit). A nil error means the record survives kill -9, a kernel
// crash and a power failure.
//
// With SyncInterval > 0, Append returns after write(2): the record is in the
// page cache and survives kill -9 of the process, but a power failure or
// kernel crash loses the records appended in the last SyncInterval (the
// loss window), as a background fsync runs every SyncInterval.
//
// Under both settings Read, Wait and Ack see only fsynced records, so a
// record that left the edge is never lost by a crash and its sequence
// number is never given to other data: after a power failure the log may
// reuse the seqs of records lost in the window, but none of those was ever
// sent. With SyncInterval > 0, forwarding lags Append by up to SyncInterval.
//
// Sequence numbers start at 1 and grow by one per record across segments
// and restarts; they never repeat within one ID. The only gaps are where
// corrupt data was quarantined (the log then skips every seq the lost bytes
// could have held). ID is random per directory: a wiped directory is a new
// incarnation.
//
// # Bounds
//
// MaxBytes bounds the segment files. When an Append would exceed it,
// DropOldest deletes the oldest whole segments (rolling the active one first
// if it is the only one) and counts their unacknowledged records, points and
// bytes under ReasonFull; RejectNew fails the Append with ErrFull and counts
// it in Stats.Rejected. MaxAge drops pending records older than it (on
// Append and every MaxAge/10, between 10 ms and 1 min), counted under
// ReasonAge; records in the active segment are dropped logically (Read skips
// them) until their segment is deleted. A write error (ENOSPC, EFBIG, EIO)
// fails the Appends of that batch, the partial write is truncated away, and
// the log keeps working once the cause is gone: an active segment whose
// records are all acknowledged is then emptied and replaced (on a small disk
// it would never reach SegmentBytes), and Ack deletes acknowledged segments
// before it writes the cursor when the cursor cannot be written.
//
// A drop is on disk together with its count: the cursor file is written
// with the new counters and a floor past the dropped records before they
// are skipped and their segments deleted, so a crash never loses the count
// of a drop (and never counts one that did not happen). If the cursor
// cannot be written, nothing is dropped (DropOldest then fails the Append).
//
// Records a bound drops while a reader holds them (read, not acknowledged)
// may still reach the receiver, so in memory they are counted only once
// their fate is known: Delivered (the receiver's watermark before the
// reader's next request, and the records that request delivered) settles
// them, records up to the watermark and those of the request as delivered
// and the others as dropped; Ack settles those it covers as delivered;
// Close counts those left as dropped. Until Delivered has settled them,
// Read returns ErrWatermarkNeeded: the reader asks the receiver for its
// watermark without sending records, so no later request can move the
// watermark past them, and the count is exact. On disk they count as
// dropped from the moment they are dropped, as after a crash nobody can
// tell whether the receiver got them. So the count is high, never low, in
// two cases: the process ends (Close, kill, power failure) while such
// records are unsettled, by those of them the receiver did store (at most
// what the reader held: one batch); and the receiver answers with a
// watermark from before an attempt it is still storing.
//
// Records lost to corruption are counted when Open finds them, including
// records missing between two segments (a segment cut at a record
// boundary), once (the cursor remembers up to where gaps were counted);
// their points are unknown when their headers are gone.
//
// # On-disk format
//
// A log directory holds:
//
//	id                        the incarnation ID, one line of text
//	cursor                    acknowledged seq, drop floor, drop counters and counted gaps (replaced via cursor.tmp + rename)
//	lock                      flock(2)ed while a Log has the directory open
//	00000000000000000001.seg  segments, named by the seq of their first record (20 digits)
//	quarantine/               corrupt data moved aside for inspection: <segment>.<UTC time>.at<offset>
//
// A segment starts with the 8 bytes "molenob" 0x01 (magic and version) and
// continues with records, each (integers little-endian):
//
//	u32 length of data
//	u32 CRC-32C (Castagnoli) of the length field followed by every byte after the CRC field
//	u64 seq
//	i64 append time, unix ns (never decreasing within a log)
//	u32 weight: points in data
//	    data
//
// Only the last segment is appended to; a segment rolls once it reaches
// SegmentBytes. Open scans every segment and checks every checksum. An
// incomplete record at the end of the last segment (a crash mid-write) is
// truncated; a complete last record with a bad checksum is truncated and
// counted under ReasonCorrupt. Any other damage moves the rest of the
// segment, from the bad record on, to quarantine/ and counts what can still
// be recognised in it under ReasonCorrupt. File content never makes Open
// fail; only I/O errors do.
//
// The cursor file holds (little-endian) the magic "molencu" 0x01, u64
// acknowledged seq, u64 floor (records below it are acknowledged or
// dropped), three u64 triples (records, points, bytes) for the drop reasons
// full, age and corrupt, u64 rejected appends and a CRC-32C of all of that.
// If it is lost or damaged the log resends everything it holds: duplicates
// are tolerated downstream, losses are not.
package outbox
