package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/molen-io/molen/internal/uns"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Readers is the size of the read connection pool; 0 means
	// max(2, GOMAXPROCS). Reads never wait for the writer (WAL mode).
	Readers int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing; 0 means 5 s.
	BusyTimeout time.Duration
	// FlushPoints is how many points the head holds before a compaction
	// moves them into blocks; 0 means 1Mi (about 50 MB of memory).
	FlushPoints int
	// FlushInterval is the longest a point stays in the head; 0 means 5
	// minutes.
	FlushInterval time.Duration
	// Logger receives compaction errors; nil discards them.
	Logger *slog.Logger
	// Compacted, if set, is told of each background compaction (the head
	// into blocks and rollups, then merges): how long it took and its
	// error, for the caller's metrics.
	Compacted func(took time.Duration, err error)
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Readers < 0 {
		return fmt.Errorf("readers: %d must not be negative", o.Readers)
	}
	if o.BusyTimeout < 0 {
		return fmt.Errorf("busy_timeout: %v must not be negative", o.BusyTimeout)
	}
	if o.FlushPoints < 0 {
		return fmt.Errorf("flush_points: %d must not be negative", o.FlushPoints)
	}
	if o.FlushInterval < 0 {
		return fmt.Errorf("flush_interval: %v must not be negative", o.FlushInterval)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Readers == 0 {
		o.Readers = max(2, runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.FlushPoints == 0 {
		o.FlushPoints = 1 << 20
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the embedded SQLite backend. It implements store.Store and is
// safe for concurrent use.
type Store struct {
	wdb *sql.DB   // pool of one connection, the owner of w
	w   *sql.Conn // the only connection that writes; used while holding wsem
	r   *sql.DB   // read pool; query_only connections

	opts     Options
	pageSize int64 // of the database file, in bytes

	// wsem holds one token. Every write takes it (waiting in a
	// context-aware way) and gives it back after its commit or rollback;
	// holding it grants use of w, closed and chunkBuf. Transactions are
	// plain BEGIN IMMEDIATE/COMMIT statements on w, so that statements
	// prepared once on w serve every transaction.
	wsem     chan struct{}
	closed   bool   // set by Close; guarded by wsem
	chunkBuf []byte // reused by Ingest; guarded by wsem

	// mu guards idx, active and frozen. Ingest adds to active (after its
	// commit, holding wsem); compaction turns active into frozen (holding
	// wsem too) and drops frozen once its blocks are committed.
	mu     sync.RWMutex
	idx    *index
	active *head
	frozen *head // being compacted; nil between compactions
	// flushMu makes a compaction's commit and its dropping of frozen one
	// step for readers: a commit of blocks holds it for writing, and reads
	// of points hold it for reading from before they look at the database
	// until after they looked at the heads.
	flushMu sync.RWMutex
	// compactMu serialises compactions, merges and retention.
	compactMu sync.Mutex

	kick    chan struct{} // wakes the compactor
	done    chan struct{} // closed by Close: the compactor stops
	stopped chan struct{} // closed by the compactor when it stopped

	getWatermark *sql.Stmt // on w
	setWatermark *sql.Stmt // on w
	insertSeries *sql.Stmt // on w
	setFirst     *sql.Stmt // on w
	insertChunk  *sql.Stmt // on w
	insertBlock  *sql.Stmt // on w
	upsertLatest *sql.Stmt // on w
	upsertEvent  *sql.Stmt // on w
	deleteBlock  *sql.Stmt // on w
	blockData    *sql.Stmt // on r
	bigBetween   *sql.Stmt // on r
}

// Open opens (creating if needed, with its parent directories) the database
// file at path and brings its schema up to date.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open sqlite store: options: %w", err)
	}
	opts = opts.withDefaults()
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	s := &Store{
		opts:    opts,
		wsem:    make(chan struct{}, 1),
		idx:     newIndex(),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	// The writer opens first, so that WAL mode and the schema exist before
	// any reader connects.
	if s.wdb, err = sql.Open("sqlite", dsn(abs, opts, false)); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	if s.w, err = s.wdb.Conn(ctx); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := s.setup(ctx); err != nil {
		s.w.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if s.r, err = sql.Open("sqlite", dsn(abs, opts, true)); err != nil {
		s.w.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(opts.Readers)
	s.r.SetMaxIdleConns(opts.Readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.closeDB()
		return nil, fmt.Errorf("open sqlite store %s: readers: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.closeDB()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := s.load(ctx); err != nil {
		s.closeDB()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	go s.compactor()
	return s, nil
}

// dsn builds the connection string. The path goes into a file: URI so that
// any character in it ('?', '#', '%') is escaped rather than parsed.
//
// Every connection runs in WAL mode with synchronous=FULL: a commit returns
// only after its WAL frames are fsynced, so a committed Ingest survives kill
// -9 and power loss. The writer begins its transactions IMMEDIATE, taking
// the write lock before it reads anything (see inTx).
func dsn(abs string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	if readOnly {
		// The writer's connection sets WAL mode (setup) after the page
		// size, which must come first, and opens before the readers.
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(OFF)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "cache_size(-65536)") // 64 MiB: the hot tails of many series
		// The WAL file is cut back to 8 MiB after a checkpoint rather
		// than keep its largest size.
		q.Add("_pragma", "journal_size_limit(8388608)")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// pageSize is the page size of a new database. Blocks are stored in
// overflow chains of pages, and the last page of each chain is on average
// half empty: with 1 KiB pages that tail is a quarter of what 4 KiB pages
// leave (ADR 0010, step 6). An existing database keeps the page size it
// was made with.
var pageSize = 1024

// setup sets, on the writer's connection before the schema is made, what
// must precede the first table: the page size (before auto_vacuum, which
// fixes it), incremental auto-vacuum (an existing database is converted by
// migrate), and then WAL mode, which fixes the page size too. Neither
// changes an existing database.
func (s *Store) setup(ctx context.Context) error {
	for _, q := range []string{
		`PRAGMA page_size = ` + strconv.Itoa(pageSize),
		`PRAGMA auto_vacuum = INCREMENTAL`,
		`PRAGMA journal_mode = WAL`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&s.pageSize); err != nil {
		return fmt.Errorf("read page size: %w", err)
	}
	return nil
}

// Close stops the compactor (a running compaction finishes or, failing,
// leaves its points in the ingest log), waits for a running write to
// commit, then closes the database, waiting for running reads. Writes after
// Close fail with ErrClosed. Points still in the head stay in the ingest
// log and are read back by the next Open.
func (s *Store) Close() error {
	s.wsem <- struct{}{}
	if s.closed {
		<-s.wsem
		return nil
	}
	s.closed = true
	<-s.wsem
	close(s.done)
	<-s.stopped
	return s.closeDB()
}

func (s *Store) closeDB() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close(), s.wdb.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// ErrClosed is returned by writes to a closed Store.
var ErrClosed = errors.New("sqlite store closed")

// lockWriter takes wsem, or fails when ctx ends first or s is closed.
func (s *Store) lockWriter(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed {
		<-s.wsem
		return ErrClosed
	}
	return nil
}

func (s *Store) unlockWriter() { <-s.wsem }

// inTx runs fn in a transaction on w and commits if fn succeeds. The
// caller holds wsem. BEGIN IMMEDIATE takes the database's write lock
// before fn reads anything, so what fn reads (a watermark, an enrollment
// token) cannot change before it commits, even from another process.
// Commit and rollback run to completion whatever ctx does, so w is never
// left inside a transaction.
func (s *Store) inTx(ctx context.Context, fn func() error) error {
	return s.txCommit(ctx, fn, nil)
}

// txCommit is inTx that, if then is not nil, commits with flushMu held for
// writing and calls then, still holding it, after a successful commit:
// readers see the database and memory both before or both after.
func (s *Store) txCommit(ctx context.Context, fn func() error, then func()) error {
	if _, err := s.w.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := s.w.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if then != nil {
		s.flushMu.Lock()
		defer s.flushMu.Unlock()
	}
	if _, err := s.w.ExecContext(context.WithoutCancel(ctx), `COMMIT`); err != nil {
		// A failed COMMIT can leave the transaction open; end it.
		s.w.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return fmt.Errorf("commit: %w", err)
	}
	if then != nil {
		then()
	}
	return nil
}

// migrations are the schema versions in order: migrations[i] takes the
// schema from version i to i+1. Append; never edit a released entry.
var migrations = []string{
	// 1: series, points, latest values and uplink watermarks. Releases
	// before the metadata layer (internal/meta) also made orgs, tokens and
	// edges here; meta.db adopts them from such a file, and they stay
	// behind unread.
	`
CREATE TABLE series (
	id       INTEGER PRIMARY KEY,
	org      TEXT    NOT NULL,
	path     TEXT    NOT NULL,
	first_ts INTEGER NOT NULL,
	UNIQUE (org, path)
) STRICT;

-- kind is a uns.Kind, q a uns.Quality. v keeps its storage class (ANY in
-- a STRICT table converts nothing): INTEGER for ints and bools, REAL for
-- floats, TEXT for strings, so int64 and strings are exact.
CREATE TABLE points (
	series_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,
	kind      INTEGER NOT NULL,
	q         INTEGER NOT NULL,
	v         ANY     NOT NULL,
	PRIMARY KEY (series_id, ts)
) STRICT, WITHOUT ROWID;

-- The newest point (by ts) of each series, kept by Ingest.
CREATE TABLE latest (
	series_id INTEGER PRIMARY KEY,
	ts        INTEGER NOT NULL,
	kind      INTEGER NOT NULL,
	q         INTEGER NOT NULL,
	v         ANY     NOT NULL
) STRICT;

-- The highest uplink sequence stored per (edge, stream), as int64 bits of
-- the uint64; written in the transaction of the points it covers.
CREATE TABLE watermarks (
	edge   TEXT    NOT NULL,
	stream TEXT    NOT NULL,
	seq    INTEGER NOT NULL,
	PRIMARY KEY (edge, stream)
) STRICT, WITHOUT ROWID;

`,
	// 2: points become append-only. n numbers the points of one series and
	// ts from 0 in the order they were ingested, so two points with the
	// same timestamp are both kept; almost every point has n = 0, which
	// SQLite stores in no bytes at all. Points of version 1 were unique by
	// (series_id, ts), so they all get n = 0.
	`
CREATE TABLE points_v2 (
	series_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	kind      INTEGER NOT NULL,
	q         INTEGER NOT NULL,
	v         ANY     NOT NULL,
	PRIMARY KEY (series_id, ts, n)
) STRICT, WITHOUT ROWID;
INSERT INTO points_v2 (series_id, ts, n, kind, q, v) SELECT series_id, ts, 0, kind, q, v FROM points ORDER BY series_id, ts;
DROP TABLE points;
ALTER TABLE points_v2 RENAME TO points;
`,
	// 3: events. An event is identified by org, asset, kind, start and its
	// key attributes (uns.EventKeyAttrs, "" when absent); Ingest upserts
	// it, so the table holds the latest version. end_ts is the event's
	// End (0 while open); until_ts is what queries compare: End, or
	// max int64 while open, or Start+1 for an instant event. attrs is a
	// JSON object with sorted keys.
	`
CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	org        TEXT    NOT NULL,
	asset      TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	start_ts   INTEGER NOT NULL,
	key_series TEXT    NOT NULL,
	key_limit  TEXT    NOT NULL,
	end_ts     INTEGER NOT NULL,
	until_ts   INTEGER NOT NULL,
	attrs      TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_by_identity ON events (org, asset, kind, start_ts, key_series, key_limit);
-- Events overlapping [from, to) are those with until_ts > from and
-- start_ts < to; kind, asset and start_ts are in the index so that the
-- filters run on it.
CREATE INDEX events_by_until ON events (org, until_ts, kind, asset, start_ts);
`,
	// 4: points move into compressed blocks. chunks is the ingest log: the
	// points of one Ingest each, until compaction moves them into blocks
	// and deletes the chunk. blocks holds the points of one series (res
	// 0) or its rollups by minute or hour (res in ns), compressed; gen
	// orders them by ingest; min_ts and max_ts bound their timestamps
	// (bucket starts for rollups); n counts points or buckets. The points
	// of version 3 go into chunks (convertV3), so the first compaction
	// turns them into blocks.
	`
CREATE TABLE chunks (
	id   INTEGER PRIMARY KEY,
	org  TEXT    NOT NULL,
	data BLOB    NOT NULL
) STRICT;
CREATE TABLE blocks (
	id        INTEGER PRIMARY KEY,
	series_id INTEGER NOT NULL,
	res       INTEGER NOT NULL,
	gen       INTEGER NOT NULL,
	min_ts    INTEGER NOT NULL,
	max_ts    INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	data      BLOB    NOT NULL
) STRICT;
CREATE INDEX blocks_by_series ON blocks (series_id, res, gen, id, min_ts, max_ts);
ALTER TABLE points RENAME TO points_v3;
`,
	// 5: nothing. Releases before the metadata layer made the retention
	// settings table here; it moved with orgs, tokens and edges (see 1).
	`SELECT 1`,
	// 6: minute rollups no longer answer first; the first values of
	// minutes whose points retention removed move into minute firsts
	// (firstsOfOldRollups).
	`SELECT 1`,
}

// afterMigration runs Go code after the SQL of a schema version, in the
// same transaction.
var afterMigration = map[int]func(s *Store, ctx context.Context) error{
	4: convertV3,
	6: firstsOfOldRollups,
}

// convertV3 moves the points of schema version 3 into chunks of up to
// 64Ki points, one record each, in (series, ts, n) order, which is ingest
// order among equal timestamps.
func convertV3(s *Store, ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT s.org, s.path, p.ts, p.kind, p.q, p.v
		FROM points_v3 p JOIN series s ON s.id = p.series_id ORDER BY s.org, p.series_id, p.ts, p.n`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		org, path string
		paths     []string
		body      []byte
		n         int
		prev      int64
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		b := append(appendChunkHeader(nil, paths), body...)
		_, err := s.w.ExecContext(ctx, `INSERT INTO chunks (org, data) VALUES (?, ?)`, org, b)
		paths, body, n = paths[:0], body[:0], 0
		return err
	}
	for rows.Next() {
		var o, p string
		var smp sample
		var kind, q int64
		var v any
		if err := rows.Scan(&o, &p, &smp.TS, &kind, &q, &v); err != nil {
			return err
		}
		if smp.V, err = value(kind, v); err != nil {
			return err
		}
		smp.Q = uns.Quality(q)
		if o != org || n == 1<<16 {
			if err := flush(); err != nil {
				return err
			}
			org, path = o, ""
		}
		if p != path {
			paths = append(paths, p)
			path = p
		}
		body = appendChunkPoint(body, n == 0, prev, int64(len(paths)-1), smp)
		prev = smp.TS
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `DROP TABLE points_v3`)
	return err
}

// migrate brings the schema to len(migrations) in one transaction, and
// refuses a database written by a newer molen. A database made before
// molen returned free pages (auto_vacuum off) is then rewritten once with
// incremental auto-vacuum (VACUUM: it needs as much free disk as the
// database takes, for as long as it takes to copy it).
func (s *Store) migrate(ctx context.Context) error {
	if err := s.migrateSchema(ctx); err != nil {
		return err
	}
	var mode int
	if err := s.w.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("migrate: read auto_vacuum: %w", err)
	}
	if mode != autoVacuumIncremental {
		if _, err := s.w.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
			return fmt.Errorf("migrate: set auto_vacuum: %w", err)
		}
		if _, err := s.w.ExecContext(ctx, `VACUUM`); err != nil {
			return fmt.Errorf("migrate: vacuum into incremental auto-vacuum: %w", err)
		}
	}
	return nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

func (s *Store) migrateSchema(ctx context.Context) error {
	err := s.inTx(ctx, func() error {
		if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
			return err
		}
		var v int
		switch err := s.w.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this program knows (%d): upgrade molen", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if _, err := s.w.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("to schema version %d: %w", v+1, err)
			}
			if f := afterMigration[v+1]; f != nil {
				if err := f(s, ctx); err != nil {
					return fmt.Errorf("to schema version %d: %w", v+1, err)
				}
			}
		}
		_, err := s.w.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.getWatermark, `SELECT seq FROM watermarks WHERE edge = ? AND stream = ?`},
		{&s.setWatermark, `INSERT INTO watermarks (edge, stream, seq) VALUES (?, ?, ?)
			ON CONFLICT (edge, stream) DO UPDATE SET seq = excluded.seq`},
		// first_ts is written by compaction, with the latest value; until
		// then the ingest log is the truth (see load).
		{&s.insertSeries, `INSERT INTO series (org, path, first_ts) VALUES (?, ?, 0) RETURNING id`},
		{&s.setFirst, `UPDATE series SET first_ts = ? WHERE id = ?`},
		{&s.insertChunk, `INSERT INTO chunks (org, data) VALUES (?, ?) RETURNING id`},
		{&s.insertBlock, `INSERT INTO blocks (series_id, res, gen, min_ts, max_ts, n, data) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&s.upsertLatest, `INSERT INTO latest (series_id, ts, kind, q, v) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, q = excluded.q, v = excluded.v`},
		{&s.upsertEvent, upsertEventSQL},
		{&s.deleteBlock, `DELETE FROM blocks WHERE id = ?`},
	} {
		st, err := s.w.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.blockData, `SELECT data FROM blocks WHERE id = ?`},
		// The big blocks of a series and resolution between two blocks in
		// ingest order, which a merge must not skip over.
		{&s.bigBetween, `SELECT count(*) FROM blocks WHERE series_id = ?1 AND res = ?2
			AND (gen > ?3 OR gen = ?3 AND id > ?4) AND (gen < ?5 OR gen = ?5 AND id < ?6) AND n >= ?7`},
	} {
		st, err := s.r.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
	}
	return nil
}
