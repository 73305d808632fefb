package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors that callers act on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrInvalid marks a value the database cannot hold (see Text):
	// storing it again fails the same way.
	ErrInvalid = errors.New("invalid value")
)

// Dialect names the database behind a DB.
type Dialect string

// The dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the hub's metadata database: the embedded SQLite file or a
// PostgreSQL schema. Domains run the same SQL on both (see the package
// documentation); DB adds what differs: transactions that take the write
// lock first, migrations, leases and the mapping of driver errors.
type DB struct {
	*sql.DB
	dialect Dialect
	schema  string // PostgreSQL only
	legacy  string // SQLite only: Options.Legacy, absolute
}

// Options tune Open.
type Options struct {
	// Legacy is the embedded time-series store file of releases that kept
	// metadata in it (molen.db). Migrations with Adopt copy their tables
	// from it on first run. SQLite only; "" when there is none.
	Legacy string
	// BusyTimeout is how long a SQLite statement waits for the write lock;
	// 0 means 10 s.
	BusyTimeout time.Duration
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings meta's own tables up to date.
//
// Connections run in WAL mode with synchronous=FULL (a commit is fsynced)
// and begin every transaction IMMEDIATE: it takes the write lock before it
// reads, so a transaction that reads and then writes never fails with
// SQLITE_BUSY halfway, and what it read cannot change under it.
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	sdb, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	// Metadata is small and read far more than written; a few connections
	// read concurrently (WAL), writers queue on the file's lock.
	sdb.SetMaxOpenConns(4)
	db := &DB{DB: sdb, dialect: SQLite}
	if opts.Legacy != "" {
		if db.legacy, err = filepath.Abs(opts.Legacy); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("open metadata %s: legacy: %w", path, err)
		}
	}
	if err := db.Migrate(ctx, ownMigrations); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	return db, nil
}

// OpenPostgres connects to the database at dsn and uses schema (created if
// missing; "" means "molen") for every table: it is the connections'
// search_path, so SQL names no schema and hubs sharing a database keep
// apart by schema.
func OpenPostgres(ctx context.Context, dsn, schema string) (*DB, error) {
	if schema == "" {
		schema = "molen"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message does not repeat the DSN, which may hold a password.
		return nil, fmt.Errorf("open metadata: parse dsn: %w", err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	sdb := stdlib.OpenDB(*cfg)
	sdb.SetMaxOpenConns(8)
	db := &DB{DB: sdb, dialect: Postgres, schema: schema}
	if err := db.createSchema(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open metadata in schema %s: %w", schema, err)
	}
	if err := db.Migrate(ctx, ownMigrations); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open metadata in schema %s: %w", schema, err)
	}
	return db, nil
}

// createSchema creates the schema unless it exists, under the lock that
// serialises migrations (also the time-series store's), so that hubs
// starting at once do not both create it.
func (db *DB) createSchema(ctx context.Context) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		if err := db.lock(ctx, tx); err != nil {
			return err
		}
		// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
		// the schema exists; a hub may have only the schema's.
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, db.schema).Scan(&exists); err != nil {
			return fmt.Errorf("look for schema: %w", err)
		}
		if exists {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+pgx.Identifier{db.schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		return nil
	})
}

// lock takes, in a PostgreSQL transaction, the advisory lock that
// serialises schema changes of db's schema until the transaction ends. It
// is the lock the time-series store migrates under. SQLite needs none: an
// IMMEDIATE transaction holds the database's write lock.
func (db *DB) lock(ctx context.Context, tx *sql.Tx) error {
	if db.dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('molen migrate ' || $1))`, db.schema); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	return nil
}

// Dialect says which database db is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Tx runs fn in a transaction and commits if fn returns nil. On SQLite the
// transaction holds the write lock from its start (see OpenSQLite); on
// PostgreSQL it is READ COMMITTED, so a statement that must see a
// consistent state does so by itself (an upsert, UPDATE … RETURNING).
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Found maps sql.ErrNoRows to ErrNotFound.
func Found(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Inserted maps "no row inserted" (INSERT … ON CONFLICT DO NOTHING) to
// ErrExists.
func Inserted(res sql.Result, err error) error {
	return affected(res, err, ErrExists)
}

// Changed maps "no row changed" (UPDATE or DELETE … WHERE) to ErrNotFound.
func Changed(res sql.Result, err error) error {
	return affected(res, err, ErrNotFound)
}

func affected(res sql.Result, err, none error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// Unique reports whether err is a unique constraint violation, on either
// dialect.
func Unique(err error) bool {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == "23505"
	}
	if e, ok := errors.AsType[*sqlitedrv.Error](err); ok {
		return e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return false
}

// Text reports whether s can be stored as TEXT on both dialects: valid
// UTF-8 without NUL (PostgreSQL's text holds neither).
func Text(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckText fails, wrapping ErrInvalid, for the first field Text refuses,
// so that a value from a request is refused alike on both dialects rather
// than failing inside PostgreSQL.
func CheckText(fields ...string) error {
	for _, f := range fields {
		if !Text(f) {
			return fmt.Errorf("%w: %.32q holds a NUL byte or invalid UTF-8", ErrInvalid, f)
		}
	}
	return nil
}

// Nanos and Time store times as BIGINT unix nanoseconds, the zero time as
// 0, so that both dialects keep every digit (PostgreSQL's timestamptz has
// microseconds).
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Time is the inverse of Nanos, in UTC.
func Time(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
