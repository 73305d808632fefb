// Package postgres is the hub's scale-out storage backend: series,
// points, latest values, uplink watermarks, organisations, tokens and
// edges in one PostgreSQL schema (github.com/jackc/pgx/v5, pgxpool). It
// implements store.Store, passes storetest, and is meant for deployments
// that outgrow the embedded sqlite backend: several hubs may share one
// schema.
//
//	s, err := postgres.Open(ctx, "postgres://molen@db.example:5432/molen?sslmode=verify-full", postgres.Options{})
//
// # Pointing the hub at it
//
// The DSN is anything pgx parses: a postgres:// URL or a key=value
// string, with pgx's and libpq's parameters (sslmode, sslrootcert,
// connect_timeout, pool_max_conns, application_name, ...). The password
// is best left out of it and given by PGPASSWORD or a ~/.pgpass file,
// which pgx reads. The role needs CREATE on the database the first time
// (for the schema), then only the schema's own privileges; Options.Schema
// (default "molen") keeps the tables apart from anything else in the
// database. Behind PgBouncer in transaction mode, add
// default_query_exec_mode=exec to the DSN (no server-side prepared
// statements); the store sets no session state.
//
// # Durability
//
// Every write is a transaction that sets synchronous_commit for itself
// (set_config(..., true)), to on unless the session already asks for a
// level that also flushes the commit record (local, remote_write,
// remote_apply): a DSN, role or server that turns it off cannot weaken
// an acknowledgement. So an Ingest that returned nil has its WAL flushed
// to disk and survives kill -9 of the server and power loss, given fsync
// and full_page_writes. Open reads both and fails with ErrNotDurable when
// either is off, unless Options.AllowNotDurable, in which case
// Store.Durability says why acknowledged data may be lost. With
// synchronous standbys (synchronous_standby_names), on also waits for
// their flush.
//
// # Exactly once
//
// Ingest validates the whole call first (bad input stores nothing; its
// error wraps store.ErrInvalid, as it does for an organisation, edge or
// stream with a NUL byte or invalid UTF-8, which PostgreSQL text cannot
// hold). Then one read-committed transaction inserts the source's
// watermark row if missing and reads it FOR UPDATE: a concurrent or
// retried delivery of the same source, from this hub or another, waits for
// that row lock and then sees the new watermark, so each record is stored
// once. The transaction stores the records above the watermark, updates
// series, latest values and rollups and writes the watermark, all or
// nothing. Writers lock latest and rollup rows in key order and series
// rows whose first timestamp goes down in id order; new series are created
// in path order, so two writers creating some series and lowering others
// at once can still deadlock: Ingest retries it (three attempts).
//
// # Schema
//
// schema_version holds the version; Open applies the missing migrations
// in one transaction under an advisory lock, so hubs starting together
// migrate once, and refuses a schema of a newer molen. settings records
// the partitioning mode and interval, fixed at creation.
//
// Upgrading: stop every hub of the schema, then start the new version. A
// hub of an older version still running would keep writing in the old
// way (before version 4, points without their rollups; before version 5
// it reads rows only, so hours compacted into blocks look empty to it). Version 4 computes
// the rollups of every point already stored, in the migration's
// transaction, while other hubs wait at Open: about a pass over the points
// (group by series and minute, then hour) plus two index probes per bucket.
//
// Points arrive as rows and are append-only. A value is in vf (floats; bools as 0/1), vi
// (int64, exact) or vs (strings as bytea: exact, NUL included), the other
// two NULL, with kind and quality as smallints. id, from a sequence that
// hands out blocks of 1024 so Ingest knows every point's id before COPY,
// orders points with equal timestamps: Raw returns them by (ts, id), and
// latest keeps the point with the highest (ts, id), so Raw and Latest
// agree on "ingested last" even under concurrent writers. There is no
// per-(series, ts) counter and no key: duplicates are rows. The only
// index is (series_id, ts) (see pointsV1 for why not (series_id, ts, id)).
// Text keys are COLLATE "C", so prefix ranges and orders are bytewise
// whatever the database collation.
//
// Every SQL value is a bound parameter. The schema name is the only
// identifier spliced into SQL, quoted with pgx.Identifier.Sanitize; the
// partition DDL, which takes no parameters, adds partition names built
// from dates and bounds formatted from int64s.
//
// # Blocks
//
// Rows cost about 100 bytes a point. Compact (compact.go) moves a series'
// points of a UTC hour, once that hour has ended Options.HeadAge (default
// 10 minutes) ago, into a block (schema version 5, blocks.go): the column
// block format of the embedded store (internal/store/colblock), zstd
// compressed, in a bytea with its series, first and last timestamp and
// count; one block per series and hour (parts of at most 65,536 points).
// For the simulator's factory data that is about 0.5 bytes a point in
// blocks and 7 in all, the rollups being the rest. A late point of a
// compacted hour is a row until the next compaction, which rewrites the
// hour's block with it.
//
// Each compaction transaction takes a schema-wide advisory lock, holds the
// series row (FOR KEY SHARE, so DeleteSeries and MergeSeries wait), then
// DELETEs the rows of one series and window (at most six hours) RETURNING
// them, merges them with the blocks of their hours and writes the blocks:
// rows and blocks change together or not at all, so a compaction that is
// cancelled or crashes loses and duplicates nothing, and two compactions
// from two hubs take turns, the second finding the points gone. The hub
// runs Compact every 5 minutes under a lease (internal/hub, compact.go),
// so one hub does the work. An existing schema migrates by creating the
// table; its rows move at the next compactions, oldest first.
//
// Compaction leaves the older partitions empty; it then TRUNCATEs each
// partition that ends before its cut and holds no row (under its ACCESS
// EXCLUSIVE lock, waiting at most 2 s), since VACUUM frees heap pages but
// keeps the B-tree's. In the current partition the VACUUM that follows
// each compaction makes the deleted rows' heap space reusable by the next
// hours' rows, but the index keeps its pages until the partition is over
// and truncated (see docs/benchmarks.md for the figures). TRUNCATE is not
// MVCC-safe for a transaction holding an older snapshot; the store's
// reads are single statements.
//
// Reads combine both in one statement (one snapshot): the blocks that
// overlap the range, decoded in Go, and the rows not yet compacted, merged
// in time order. Points with equal timestamps keep their ingest order
// within a block and among rows; between a block and a row the block's
// comes first, which is the ingest order except for a point that an ingest
// still in flight when its hour was compacted commits afterwards.
//
// # Partitioning
//
// Natively, points is partitioned by range of ts (unix ns), one partition
// per Options.PartitionInterval (default 24 h, UTC days; a week suits a
// small plant), named points_YYYYMMDD_HH after its UTC start. Ingest
// creates missing partitions on demand, before its transaction and each in
// its own: CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on
// points, which inside the ingest transaction would block every reader
// until commit and could deadlock with other writers. Creation waits at
// most 10 s for that lock; two hubs creating the same partition is
// harmless (the loser's duplicate error counts as success). A partition
// dropped behind the store's back (a retention job: DROP TABLE of an old
// partition is the cheap way to expire data) is recreated when an insert
// finds no partition for a row. Timestamps are not bounded: a device
// clock that jumps years ahead creates a partition per interval it
// touches, so watch the partition count.
//
// Where the timescaledb extension is available (pg_available_extensions),
// loads and may be created, a new schema makes points a hypertable on ts
// with the same chunk interval instead, and TimescaleDB manages the chunks
// (its compression and retention policies then apply). It is never
// required: if CREATE EXTENSION or create_hypertable fails, the schema is
// created natively; Options.NoTimescale forces native partitioning. The
// TimescaleDB path is not exercised by the tests (not installable here).
//
// # Retention
//
// Expire (retention.go) deletes, in one transaction, an organisation's
// points older than its raw period: rows, whole blocks that end before
// the cut, and the points before the cut of the one block of a series
// that straddles it, which is rewritten (so Raw and Series' First are
// exact at the cut, as they are for rows). It raises the first_ts of its
// series to the oldest point left (or the latest value's timestamp);
// latest rows stay. It takes the compaction lock, so that it runs between
// compactions, never beside one. It also deletes the organisation's minute and hour rollups that
// start before the cutoffs of their own periods, so aggregates at minute
// and hour steps outlive the raw points. The retention table holds
// each organisation's setting (schema version 3). Deleting rows leaves
// space for VACUUM to reuse; dropping whole partitions would be cheaper,
// but a partition holds every organisation's points.
//
// # Queries
//
// Series and Latest join series and latest: one index range by
// (org, path). Raw reads the blocks and rows of its range in one
// statement (see Blocks).
//
// Aggregate at a step that a minute or an hour divides reads the whole
// minutes (hours) of its range from the rollups (schema version 4,
// rollup.go): a row per series and minute (hour) with the count, numeric
// count, sum, min, max and the first and last point by (ts, id). Each
// Ingest merges its points into them in its own transaction (an upsert in
// key order), so rollups hold late points too and never lag the points.
// The rest of an hour at either end comes from minute rollups, the rest of
// a minute from the points (store.RollupSpans); store.Partial merges them. The migration to version 4 computes the rollups of the points
// already stored.
//
// Other steps, and the ragged ends, read the points (blocks and rows) and
// aggregate them in Go (store.Buckets), as the embedded store does.
//
// # Measured
//
// PostgreSQL 15.20 on the same 2-core machine as the hub (Xeon 2.8 GHz,
// ext4 on virtio, default server settings: shared_buffers 128 MB,
// work_mem 4 MB, synchronous_commit on, fsync on), over TCP loopback,
// go test -bench, a quiet machine:
//
//	Ingest, 100 series at 1 Hz, one record a call    1000 points: 94–105k points/s
//	  (each call a COPY, the rollup upsert and a      10000 points: 289–324k points/s
//	  commit with WAL flush)
//	disk per point after 1M points as rows (points
//	  heap 60 B, index 33 B, rollups 8 B; VACUUMed)  101 B
//	the same after compaction (factory data, 4 sites
//	  4 h: blocks 0.5-3.2 B, rollups 6.7 B)          7.2-9.9 B
//	Aggregate 24 h of one series at 1 Hz by 1 min    avg 2.3–2.4 ms, max 2.4–2.7 ms,
//	  (from rollups)                                 count 2.3–2.9 ms, last 1.3–1.4 ms
//	24 h of 100 series by 1 min (a dashboard)        0.41–0.48 s (36 s from the points)
//	Latest of 1000 series                            3.3–3.4 ms
//	Raw of 1 h of one series at 1 Hz (3600 points)   4.5–5.3 ms
//
// A point as a row costs about 200 times what it does in the embedded
// store's compressed blocks: a 24-byte tuple header, an 8-byte id and
// alignment, and an uncompressed B-tree; compaction into blocks brings it
// to the blocks' size plus the rollups, which are now most of it (see
// docs/benchmarks.md).
package postgres
