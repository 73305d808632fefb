package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// queries holds the store's SQL with the schema filled in. The templates
// write {s} for the quoted schema; it is the only text ever spliced into
// SQL (besides the partition DDL, see createPartition), and it is quoted
// with pgx.Identifier.Sanitize. Every value is a bound parameter.
type queries struct {
	r *strings.Replacer
	m map[string]string // template -> SQL; filled in newQueries, read-only after
}

// templates lists every template the store runs, so that queries can be
// prepared once at Open and read without a lock.
var templates []string

// sqlText registers a template; use it to declare the package's queries.
func sqlText(t string) string {
	templates = append(templates, t)
	return t
}

func newQueries(schema string) queries {
	q := queries{r: strings.NewReplacer("{s}", pgx.Identifier{schema}.Sanitize()), m: make(map[string]string, len(templates))}
	for _, t := range templates {
		q.m[t] = q.r.Replace(t)
	}
	return q
}

// sql returns the SQL of a template declared with sqlText.
func (s *Store) sql(t string) string {
	if q, ok := s.q.m[t]; ok {
		return q
	}
	return s.q.r.Replace(t)
}

// migration takes the schema from one version to the next, inside the
// migration transaction.
type migration func(ctx context.Context, tx pgx.Tx, m *migrator) error

// migrator is what a migration may consult.
type migrator struct {
	s    *Store
	opts Options
}

func (m *migrator) exec(ctx context.Context, tx pgx.Tx, t string) error {
	_, err := tx.Exec(ctx, m.s.q.r.Replace(t))
	return err
}

// migrations are the schema versions in order: migrations[i] takes the
// schema from version i to i+1. Append; never edit a released entry.
var migrations = []migration{
	// 1: settings, series, points, latest values, watermarks. Releases
	// before the metadata layer (internal/meta) also made orgs, tokens and
	// edges here; the metadata layer adopts them in the same schema.
	func(ctx context.Context, tx pgx.Tx, m *migrator) error {
		if err := m.exec(ctx, tx, schemaV1); err != nil {
			return err
		}
		interval := m.opts.PartitionInterval
		if interval == 0 {
			interval = defaultPartitionInterval
		}
		mode, err := m.createPoints(ctx, tx, int64(interval))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, m.s.q.r.Replace(`INSERT INTO {s}.settings (key, value) VALUES
			('partitioning', $1), ('partition_interval_ns', $2)`), mode, strconv.FormatInt(int64(interval), 10))
		return err
	},
	// 2: events.
	func(ctx context.Context, tx pgx.Tx, m *migrator) error {
		return m.exec(ctx, tx, schemaV2)
	},
	// 3: nothing. Releases before the metadata layer made the retention
	// settings table here, which the metadata layer adopts (see 1).
	func(ctx context.Context, tx pgx.Tx, m *migrator) error { return nil },
	// 4: rollups by minute and hour (rollup.go).
	migrateV4,
	// 5: blocks of points older than the head (blocks.go); the points
	// already stored move into them at the next compactions.
	func(ctx context.Context, tx pgx.Tx, m *migrator) error { return m.exec(ctx, tx, schemaV5) },
}

// schemaV1 is the first schema, except points (see createPoints).
//
// Text keys are COLLATE "C": byte order, as the prefix ranges and the
// documented orders (series by path) need, whatever the
// database's collation.
const schemaV1 = `
CREATE TABLE {s}.settings (
	key   text COLLATE "C" PRIMARY KEY,
	value text NOT NULL
);

CREATE TABLE {s}.series (
	id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org      text COLLATE "C" NOT NULL,
	path     text COLLATE "C" NOT NULL,
	first_ts bigint NOT NULL,
	UNIQUE (org, path)
);

-- Point ids give the ingest order of points with equal timestamps. Ingest
-- takes them in blocks of 1024 (one nextval a block), so that it knows the
-- id of every point it copies.
CREATE SEQUENCE {s}.point_ids AS bigint INCREMENT BY 1024;

-- The newest point (by ts, then id) of each series, kept by Ingest.
CREATE TABLE {s}.latest (
	series_id integer PRIMARY KEY,
	ts        bigint NOT NULL,
	id        bigint NOT NULL,
	vf        double precision,
	vi        bigint,
	kind      smallint NOT NULL,
	q         smallint NOT NULL,
	vs        bytea
);

-- The highest uplink seq stored per (edge, stream), as the int64 bits of
-- the uint64; written in the transaction of the points it covers.
CREATE TABLE {s}.watermarks (
	edge   text COLLATE "C" NOT NULL,
	stream text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	PRIMARY KEY (edge, stream)
);
`

// schemaV2 adds events. An event is identified by org, asset, kind, start
// and its key attributes (uns.EventKeyAttrs; empty when absent); Ingest
// upserts it, so the table holds the latest version. end_ts is the
// event's End (0 while open); until_ts is what queries compare: End, or
// max int64 while open, or Start+1 for an instant event. Events are far
// fewer than points, so the table is not partitioned.
//
// events_by_until serves the usual query, a recent window: until_ts >
// from is a short range, and kind and asset are index conditions on it.
const schemaV2 = `
CREATE TABLE {s}.events (
	org        text COLLATE "C" NOT NULL,
	asset      text COLLATE "C" NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	start_ts   bigint NOT NULL,
	key_series text COLLATE "C" NOT NULL,
	key_limit  text COLLATE "C" NOT NULL,
	end_ts     bigint NOT NULL,
	until_ts   bigint NOT NULL,
	attrs      jsonb NOT NULL,
	PRIMARY KEY (org, asset, kind, start_ts, key_series, key_limit)
);
CREATE INDEX events_by_until ON {s}.events (org, until_ts, kind, asset, start_ts);
`

// pointsV1 is the points table. A value is in vf (floats; bools as 0 or
// 1), vi (ints) or vs (strings, as bytes: text cannot hold NUL), the
// other two NULL, which costs one bit each; so numeric aggregates read
// coalesce(vf, vi). kind is a uns.Kind, q a uns.Quality. Columns are in
// alignment order: a float or int point is 32 bytes of data after the
// 24-byte tuple header.
//
// Points are append-only and have no key: id orders points of one series
// with equal ts (Raw sorts the few ties of an index range by it). The
// index is on (series_id, ts) alone: with ts as its last column, B-tree
// leaf splits recognise each series' increasing inserts and leave pages
// full, while ending in id (unique) they split half-and-half as the
// series of a batch interleave: 33 against 72 bytes a point measured.
const pointsV1 = `
CREATE TABLE {s}.points (
	ts        bigint NOT NULL,
	id        bigint NOT NULL,
	vf        double precision,
	vi        bigint,
	series_id integer NOT NULL,
	kind      smallint NOT NULL,
	q         smallint NOT NULL,
	vs        bytea
)`

const pointsIndexV1 = `CREATE INDEX points_by_series ON {s}.points (series_id, ts)`

// createPoints creates the points table: a TimescaleDB hypertable where
// the extension is available and loads, else a table partitioned by range
// of ts. It returns the mode.
func (m *migrator) createPoints(ctx context.Context, tx pgx.Tx, interval int64) (string, error) {
	if !m.opts.NoTimescale {
		var available bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&available); err != nil {
			return "", fmt.Errorf("look for timescaledb: %w", err)
		}
		if available {
			// Available is not loadable (shared_preload_libraries) nor
			// permitted: try under a savepoint and fall back to native.
			err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
				if _, err := sp.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS timescaledb`); err != nil {
					return err
				}
				var extSchema string
				if err := sp.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
					WHERE e.extname = 'timescaledb'`).Scan(&extSchema); err != nil {
					return err
				}
				if err := m.exec(ctx, sp, pointsV1); err != nil {
					return err
				}
				if err := m.exec(ctx, sp, pointsIndexV1); err != nil {
					return err
				}
				fn := pgx.Identifier{extSchema, "create_hypertable"}.Sanitize()
				_, err := sp.Exec(ctx, `SELECT `+fn+`($1::regclass, 'ts', chunk_time_interval => $2::bigint)`,
					pgx.Identifier{m.s.schema, "points"}.Sanitize(), interval)
				return err
			})
			if err == nil {
				return modeTimescale, nil
			}
		}
	}
	if err := m.exec(ctx, tx, pointsV1+` PARTITION BY RANGE (ts)`); err != nil {
		return "", err
	}
	if err := m.exec(ctx, tx, pointsIndexV1); err != nil {
		return "", err
	}
	return modeNative, nil
}

// migrate creates the schema if missing and brings it to len(migrations)
// in one transaction, under an advisory lock so that hubs starting at
// once migrate one after the other. It refuses a schema of a newer molen
// and reads the partitioning settings.
func (s *Store) migrate(ctx context.Context, opts Options) error {
	m := &migrator{s: s, opts: opts}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('molen migrate ' || $1))`, s.schema); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
		// the schema exists; a hub may have only the schema's.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
			return fmt.Errorf("look for schema: %w", err)
		}
		if !exists {
			if err := m.exec(ctx, tx, `CREATE SCHEMA {s}`); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if err := m.exec(ctx, tx, `CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL)`); err != nil {
			return err
		}
		var v int
		switch err := tx.QueryRow(ctx, s.q.r.Replace(`SELECT version FROM {s}.schema_version`)).Scan(&v); {
		case errors.Is(err, pgx.ErrNoRows):
			if err := m.exec(ctx, tx, `INSERT INTO {s}.schema_version (version) VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this program knows (%d): upgrade molen", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if err := migrations[v](ctx, tx, m); err != nil {
				return fmt.Errorf("to schema version %d: %w", v+1, err)
			}
		}
		if _, err := tx.Exec(ctx, s.q.r.Replace(`UPDATE {s}.schema_version SET version = $1`), v); err != nil {
			return err
		}
		return s.readSettings(ctx, tx, opts)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (s *Store) readSettings(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, err := tx.Query(ctx, s.q.r.Replace(`SELECT key, value FROM {s}.settings`))
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	settings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var kv [2]string
		err := r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	for _, kv := range settings {
		switch kv[0] {
		case "partitioning":
			s.mode = kv[1]
		case "partition_interval_ns":
			if s.interval, err = strconv.ParseInt(kv[1], 10, 64); err != nil {
				return fmt.Errorf("setting partition_interval_ns: %w", err)
			}
		}
	}
	if s.mode != modeNative && s.mode != modeTimescale {
		return fmt.Errorf("setting partitioning: %q is neither %s nor %s", s.mode, modeNative, modeTimescale)
	}
	if s.interval <= 0 {
		return fmt.Errorf("setting partition_interval_ns: %d must be positive", s.interval)
	}
	if opts.PartitionInterval != 0 && int64(opts.PartitionInterval) != s.interval {
		return fmt.Errorf("partition_interval: schema was created with %v; it cannot change to %v",
			time.Duration(s.interval), opts.PartitionInterval)
	}
	return nil
}
