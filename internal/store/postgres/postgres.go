package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/molen-io/molen/internal/store"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables,
	// created if missing; "" means "molen". Several stores (hubs, tests)
	// can share a database in separate schemas.
	Schema string
	// MaxConns is the size of the connection pool; 0 means the DSN's
	// pool_max_conns, or else pgxpool's max(4, NumCPU).
	MaxConns int
	// PartitionInterval is the width of a points partition (native
	// partitioning) or chunk (TimescaleDB): a whole number of hours; 0
	// means 24 h. It is fixed when the schema is created: opening an
	// existing schema with a different non-zero value fails.
	PartitionInterval time.Duration
	// NoTimescale makes a new schema use native partitioning even where
	// the timescaledb extension is available.
	NoTimescale bool
	// HeadAge is how long after its UTC hour has ended a series' points
	// of that hour stay rows before Compact moves them into a block; 0
	// means 10 minutes. Until then a late point of the hour is simply a
	// row; after, it joins the hour's block at the next compaction.
	HeadAge time.Duration
	// AllowNotDurable lets Open succeed on a server whose fsync or
	// full_page_writes is off; Store.Durability then says why an
	// acknowledged Ingest may be lost. For throwaway test servers only.
	AllowNotDurable bool
}

// maxIdentLen is PostgreSQL's longest identifier (NAMEDATALEN - 1).
const maxIdentLen = 63

// Validate checks the options.
func (o Options) Validate() error {
	if o.Schema != "" {
		switch {
		case len(o.Schema) > maxIdentLen:
			return fmt.Errorf("schema: %q is %d bytes, limit %d", o.Schema, len(o.Schema), maxIdentLen)
		case !store.Text(o.Schema):
			return fmt.Errorf("schema: %q holds a NUL byte or invalid UTF-8", o.Schema)
		case strings.HasPrefix(strings.ToLower(o.Schema), "pg_"):
			return fmt.Errorf("schema: %q: names starting with pg_ are reserved", o.Schema)
		}
	}
	if o.MaxConns < 0 || o.MaxConns > 1<<15 {
		return fmt.Errorf("max_conns: %d must be 0..32768", o.MaxConns)
	}
	if o.HeadAge < 0 {
		return fmt.Errorf("head_age: %v must not be negative", o.HeadAge)
	}
	if o.PartitionInterval < 0 || o.PartitionInterval%time.Hour != 0 {
		return fmt.Errorf("partition_interval: %v must be a positive whole number of hours", o.PartitionInterval)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Schema == "" {
		o.Schema = "molen"
	}
	if o.HeadAge == 0 {
		o.HeadAge = defaultHeadAge
	}
	return o
}

const defaultPartitionInterval = 24 * time.Hour

// Partitioning modes, as stored in the settings table.
const (
	modeNative    = "native"
	modeTimescale = "timescaledb"
)

// Store is the PostgreSQL backend. It implements store.Store and is safe
// for concurrent use, also by several processes (hubs) on one schema.
type Store struct {
	pool   *pgxpool.Pool
	schema string // as given; identifiers quoted with pgx.Identifier
	q      queries
	closed atomic.Bool

	headAge  time.Duration // Options.HeadAge
	mode     string        // modeNative or modeTimescale
	interval int64         // partition width, ns
	// syncCommit is the synchronous_commit of every write transaction:
	// the session's own unless that is off, then on.
	syncCommit string
	durability error // nil, or why an acknowledged write may be lost

	// mu guards series and parts, caches of committed state. Entries are
	// added only after the commit that makes them true.
	mu sync.Mutex
	// series maps a series to its id and committed first_ts. Series are
	// never deleted; first_ts falls with ingest, and every such write is
	// conditional in SQL, so a stale entry (another hub lowered first_ts)
	// costs a no-op UPDATE at worst. Expire raises first_ts and drops the
	// organisation's entries; another hub sharing the schema keeps its
	// lower entries until its cache starts over, and until then a late
	// point between the two does not lower first_ts (Series' First).
	series map[seriesKey]seriesEntry
	// parts holds the start of every points partition known to exist. A
	// partition dropped behind the store's back (retention) is noticed
	// when an insert finds no partition; Ingest then forgets parts and
	// tries again.
	parts map[int64]struct{}
	// partMu serialises this process's partition creation.
	partMu sync.Mutex

	// afterIngest, set by tests before use, runs after each Ingest that
	// committed (to compact between writes and reads).
	afterIngest func(ctx context.Context)
	// compactHook, set by tests before use, runs at the end of each
	// compaction transaction, before its commit; an error rolls it back.
	compactHook func(ctx context.Context, tx pgx.Tx) error
}

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("postgres store closed")

// ErrNotDurable is returned by Open for a server on which a committed
// transaction may be lost in a crash (fsync or full_page_writes off).
var ErrNotDurable = errors.New("postgres server is not crash-safe")

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as pgx parses it), creates the schema if missing and brings its
// tables up to date.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open postgres store: options: %w", err)
	}
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message does not repeat the DSN, which may hold a password.
		return nil, fmt.Errorf("open postgres store: parse dsn: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{
		pool:    pool,
		schema:  opts.Schema,
		headAge: opts.HeadAge,
		series:  make(map[seriesKey]seriesEntry),
		parts:   make(map[int64]struct{}),
	}
	s.q = newQueries(s.schema)
	if err := s.checkServer(ctx, opts); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", opts.Schema, err)
	}
	if err := s.migrate(ctx, opts); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", opts.Schema, err)
	}
	return s, nil
}

// checkServer reads the settings durability rests on.
func (s *Store) checkServer(ctx context.Context, opts Options) error {
	var fsync, fpw, sc string
	err := s.pool.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('full_page_writes'),
		current_setting('synchronous_commit')`).Scan(&fsync, &fpw, &sc)
	if err != nil {
		return fmt.Errorf("read server settings: %w", err)
	}
	s.syncCommit = commitSetting(sc)
	s.durability = durability(fsync, fpw)
	if s.durability != nil && !opts.AllowNotDurable {
		return s.durability
	}
	return nil
}

// commitSetting is the synchronous_commit for write transactions given
// the session's: any level that flushes the commit record locally before
// COMMIT returns is kept; off becomes on.
func commitSetting(session string) string {
	switch session {
	case "on", "local", "remote_write", "remote_apply":
		return session
	}
	return "on"
}

// durability says why a committed transaction could be lost in a server
// crash under these settings, or nil.
func durability(fsync, fullPageWrites string) error {
	var off []string
	if fsync != "on" {
		off = append(off, "fsync")
	}
	if fullPageWrites != "on" {
		off = append(off, "full_page_writes")
	}
	if len(off) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s off: a crash may lose or corrupt committed data", ErrNotDurable, strings.Join(off, " and "))
}

// Durability reports whether an Ingest that returned nil survives a crash
// of the server: nil if so, otherwise the server setting that breaks it
// (only possible with Options.AllowNotDurable).
func (s *Store) Durability() error { return s.durability }

// Close waits for running calls to finish and closes the connections.
// Calls after Close fail with ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// inTx runs fn in a read-committed transaction whose commit is durable
// (see syncCommit) and commits if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('synchronous_commit', $1, true)`, s.syncCommit); err != nil {
			return fmt.Errorf("set synchronous_commit: %w", err)
		}
		return fn(tx)
	})
}

// pgCode returns the SQLSTATE of err, "" if it is not a server error.
func pgCode(err error) string {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code
	}
	return ""
}

// SQLSTATEs the store acts on.
const (
	codeUniqueViolation  = "23505"
	codeCheckViolation   = "23514" // also: no partition of relation found for row
	codeDuplicateTable   = "42P07"
	codeDeadlock         = "40P01"
	codeSerialization    = "40001"
	codeInvalidObjDef    = "42P17" // e.g. a partition that would overlap
	codeLockNotAvailable = "55P03" // lock_timeout
)

// Size is the bytes on disk of the store's schema: every table of it
// (partitions included) with its indexes and TOAST, as PostgreSQL counts
// them (pg_total_relation_size). The metadata tables of a hub sharing the
// schema count too; TimescaleDB's chunks, kept in a schema of their own,
// do not.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relkind IN ('r', 'm')`, s.schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage size: %w", err)
	}
	return n, nil
}
