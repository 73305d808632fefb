// Package meta is the hub's metadata database: the records of its domains
// (organisations, tokens, edges, retention settings, leases, …), as
// opposed to the time series in internal/store. One handle, DB, runs the
// same SQL on the embedded SQLite file (<data>/meta.db) and on a
// PostgreSQL schema; each domain owns its tables and their migrations, and
// its package is the only one that reads or writes them.
//
// # Portable SQL
//
// The SQL of domains runs unchanged on both databases:
//
//   - placeholders $1, $2, … (SQLite reads $N as the Nth argument);
//   - types TEXT, BIGINT, BOOLEAN (SQLite stores 0/1; compare with
//     `NOT revoked` or `= $1` with a Go bool, not with 0/1 literals);
//   - times as BIGINT unix nanoseconds (Nanos, Time), 0 for the zero time;
//   - INSERT … ON CONFLICT … DO NOTHING / DO UPDATE … WHERE, RETURNING;
//   - no schema names: on PostgreSQL the schema is the connections'
//     search_path;
//   - order lists by integers, or sort in Go: the order of TEXT depends on
//     the PostgreSQL database's collation;
//   - text from requests goes through CheckText: PostgreSQL's text holds no
//     NUL byte or invalid UTF-8.
//
// # Adding a table
//
// One migration file and one implementation, in the domain's package:
//
//  1. migrations/NNNN_what.sql with CREATE TABLE (and its indexes) in
//     the portable SQL above. The domain embeds the directory:
//
//     //go:embed migrations/*.sql
//     var migrations embed.FS
//
//     and its constructor calls db.Migrate(ctx, meta.Migrations{Domain:
//     "fleet", FS: meta.Dir(migrations, "migrations")}).
//
//  2. The service methods that read and write it, with db.QueryRowContext,
//     db.ExecContext or db.Tx, mapping results with Found, Inserted and
//     Changed to ErrNotFound and ErrExists. Test them with metatest.Each,
//     which runs a test on SQLite and, when MOLEN_TEST_POSTGRES is set, on
//     PostgreSQL.
//
// A domain's pending migrations run in one transaction; on PostgreSQL an
// advisory lock keeps hubs that start at once from migrating together.
// See docs/adr/0005-metadata-layer.md.
package meta
