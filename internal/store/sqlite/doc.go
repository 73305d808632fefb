// Package sqlite is the hub's embedded storage backend: one SQLite file
// (modernc.org/sqlite, pure Go, so the hub builds with CGO_ENABLED=0) that
// holds series, points in compressed column blocks with their minute and
// hour rollups, latest values, events, uplink watermarks, organisations,
// tokens and edges. It implements store.Store and passes storetest. ADR
// 0004 gives the measurements behind the design.
//
//	s, err := sqlite.Open(ctx, "/var/lib/molen/hub.db", sqlite.Options{})
//
// # Ingest and durability
//
// Ingest validates and encodes the whole call without locks, then runs one
// BEGIN IMMEDIATE transaction: it reads the source's watermark, skips the
// records at or below it, creates new series, stores the points of the
// other records as one chunk (a row of the ingest log, see head.go),
// stores the events, writes the new watermark, and commits. The database
// runs in WAL mode with synchronous=FULL, so COMMIT returns after an fsync:
// an Ingest that returned nil survives kill -9 and power loss (on a disk
// that honours flushes), and a crash stores a record and its watermark or
// neither. The watermark is the only deduplication: the same points under
// a new seq are stored again, and points are never merged or replaced.
//
// After the commit the points go into the head, an in-memory copy of the
// chunks by series, which is what queries read until compaction.
//
// # Compaction
//
// A background compactor (and Compact) freezes the head every
// Options.FlushPoints points or Options.FlushInterval, encodes each
// series' points as blocks (internal/store/colblock: timestamps as delta-of-deltas in
// their largest common unit; floats as integer deltas when they are short
// decimals, which sensor values are, as deltas of their shifted bits when
// those end in zeros (float32s), else XORed bits; the integers of the
// first two as differences from the mean of the eight before where that
// is cheaper (noise around a slow signal); ints as deltas; strings as they
// are; qualities and kinds as runs; the whole zstd-compressed) with their
// minute and hour rollups (count, numeric count, sum, min, max, last; hour
// rollups also first), and in one transaction inserts them, records latest values and
// first timestamps, and deletes the chunks. Then it merges runs of small
// blocks of a series into blocks of up to 64Ki points, once a run holds
// 32Ki points or 16 blocks, so that a point is rewritten a few times at
// most (larger blocks: fewer half-filled pages, see ADR 0010). Blocks
// carry a generation: ingest order is generation order, which keeps ties
// (points of one series with one timestamp) in ingest order everywhere.
//
// On Open the chunks still in the log are read back into the head. A crash
// during compaction loses nothing: its transaction is rolled back and the
// chunks are still there.
//
// # Reads
//
// Series and Latest answer from memory (every series' first timestamp and
// latest point are kept there; a hub has thousands to a few million
// series). Raw and Aggregate read the blocks of the series that overlap
// the range, then the heads. A compaction's commit and the dropping of
// the head it wrote are one step for readers (flushMu), so a point is read
// from its block or from the head, never both or neither.
//
// Aggregate serves buckets whose step is a multiple of an hour (a minute)
// from the hourly (minutely) rollups for the whole hours (minutes) of the
// range, the rest of an hour at either end from minute rollups
// (store.RollupSpans), and reads points only for the ragged minutes at
// the ends and the head: a day of a 1 Hz series at 1-minute buckets reads
// 1,440 rollup rows, not 86,400 points. Sums may then differ from a sum over the points in the last bits
// (floating-point addition in another order). first by the minute reads
// the points, and the minute firsts retention kept of the points it
// removed (res minuteFirsts), since minute rollups keep no first values.
//
// # Retention
//
// Expire (retention.go) flushes the head, then, in one transaction,
// deletes an organisation's blocks that end before their resolution's
// cutoff and rewrites in place (same id and gen) those that straddle it,
// keeps the first point and count of each minute of the raw points it
// removes (minute firsts), and sets the first timestamps of the series it
// changed; raw points,
// minute and hour rollups each have their own cutoff. Latest values are
// never expired. Since rollups are kept at least as long as points (see
// store.Retention.Validate), aggregates at minute and hour steps still
// cover ranges whose points are gone.
//
// # Schema
//
// schema_version holds the version; Open applies the missing entries of
// migrations (and afterMigration's Go steps) in one transaction and
// refuses a file of a newer version. Version 4 moved version 3's points
// table into the ingest log, so the first compaction turns it into blocks;
// version 5 added retention settings; version 6 moved the first values of
// minutes whose points retention had removed out of the minute rollups
// into minute firsts.
// Every SQL parameter is bound; statements are constant strings (some
// joined from constant parts).
//
// Pages: a new database has pages of 1 KiB (blocks are overflow chains,
// whose last page is half empty on average) and incremental auto-vacuum,
// both set before WAL mode (setup). After a compaction that finds ingest
// idle reclaim (compact.go) returns every free page to the file system,
// after retention all but a twentieth of the file, in 1 MiB steps. migrate
// converts a file made without auto-vacuum once (VACUUM).
//
// # Measured
//
// go test -bench IngestFactory (four continuous simulated hours of 16
// factories, 672 series, 9,676,800 points, calls of 10,000): after
// compaction 0.48 bytes a point in pages in use and on disk; see docs/benchmarks.md and ADR 0010 for the
// figures, their conditions and the query figures.
package sqlite
