package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are one domain's schema changes: the files NNNN_what.sql at
// the root of FS, numbered from 1 without gaps, each applied once, in
// order. A domain embeds them (//go:embed migrations/*.sql) and migrates
// when its service is made. Append a file for a change; never edit one
// that was released.
//
// The SQL must run on SQLite and PostgreSQL alike (see the package
// documentation). A file may hold several statements.
type Migrations struct {
	// Domain names the domain in the meta_migrations table; it never
	// changes.
	Domain string
	FS     fs.FS
	// Adopt names tables that releases before the metadata layer created
	// in the embedded time-series store file (Options.Legacy). On SQLite,
	// a domain's first migration run copies them there (definition,
	// indexes and rows) into the metadata database, so its first migration
	// finds them, as it does on PostgreSQL, where they are in the schema
	// already: that migration creates its tables with IF NOT EXISTS.
	Adopt []string
}

type migration struct {
	version int
	name    string
	sql     string
}

func (m Migrations) load() ([]migration, error) {
	entries, err := fs.ReadDir(m.FS, ".")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: want NNNN_what.sql", name)
		}
		b, err := fs.ReadFile(m.FS, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, mg := range out {
		if mg.version != i+1 {
			return nil, fmt.Errorf("%s: version %d, want %d (versions count from 1 without gaps)", mg.name, mg.version, i+1)
		}
	}
	return out, nil
}

// Migrate applies the domain's migrations that db has not seen, all in one
// transaction: a domain's schema moves from one version to another whole
// or not at all. On PostgreSQL an advisory lock on the schema serialises
// migrations, so of several hubs starting at once one migrates and the
// others find the work done. A database migrated by a newer molen (a
// higher version than m has) is refused.
func (db *DB) Migrate(ctx context.Context, m Migrations) error {
	if err := db.migrate(ctx, m); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Domain, err)
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, m Migrations) error {
	ms, err := m.load()
	if err != nil {
		return err
	}
	// One connection: ATTACH is a connection's, and the transaction runs on it.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	legacy, err := db.attachLegacy(ctx, conn, m)
	if err != nil {
		return err
	}
	if legacy {
		defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE legacy`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.lock(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta_migrations (
		domain  TEXT   NOT NULL,
		version BIGINT NOT NULL,
		name    TEXT   NOT NULL,
		applied BIGINT NOT NULL,
		PRIMARY KEY (domain, version))`); err != nil {
		return fmt.Errorf("create meta_migrations: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM meta_migrations WHERE domain = $1`, m.Domain).Scan(&have); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("version %d is newer than this program knows (%d): upgrade molen", have, len(ms))
	}
	if have == len(ms) {
		return nil // nothing to do; the rollback ends a transaction that wrote nothing
	}
	if have == 0 && legacy {
		if err := adopt(ctx, tx, m.Adopt); err != nil {
			return fmt.Errorf("adopt tables of the earlier store: %w", err)
		}
	}
	for _, mg := range ms[have:] {
		if _, err := tx.ExecContext(ctx, mg.sql); err != nil {
			return fmt.Errorf("%s: %w", mg.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta_migrations (domain, version, name, applied) VALUES ($1, $2, $3, $4)`,
			m.Domain, mg.version, mg.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("%s: record version: %w", mg.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// attachLegacy attaches the earlier store file as "legacy" when m adopts
// tables and db is SQLite with such a file; it reports whether it did.
func (db *DB) attachLegacy(ctx context.Context, conn *sql.Conn, m Migrations) (bool, error) {
	if db.dialect != SQLite || db.legacy == "" || len(m.Adopt) == 0 {
		return false, nil
	}
	switch _, err := os.Stat(db.legacy); {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("earlier store: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE $1 AS legacy`, db.legacy); err != nil {
		return false, fmt.Errorf("attach earlier store %s: %w", db.legacy, err)
	}
	return true, nil
}

// adopt copies each table of names that the legacy database has and the
// main one lacks, with its indexes and rows. The legacy file is only read:
// it keeps its copies, which nothing reads any more.
func adopt(ctx context.Context, tx *sql.Tx, names []string) error {
	for _, name := range names {
		var ddl string
		err := tx.QueryRowContext(ctx, `SELECT sql FROM legacy.sqlite_master WHERE type = 'table' AND name = $1`, name).Scan(&ddl)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = $1`, name).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		// Unqualified CREATE TABLE and CREATE INDEX go to main.
		stmts := []string{ddl}
		rows, err := tx.QueryContext(ctx, `SELECT sql FROM legacy.sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL`, name)
		if err != nil {
			return fmt.Errorf("%s: indexes: %w", name, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return fmt.Errorf("%s: indexes: %w", name, err)
			}
			stmts = append(stmts, s)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("%s: indexes: %w", name, err)
		}
		q := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		stmts = append(stmts, `INSERT INTO main.`+q+` SELECT * FROM legacy.`+q)
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// Dir returns the files in dir of fsys, for Migrations.FS: a domain embeds
// its migrations/ directory and passes meta.Dir(files, "migrations").
func Dir(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // a directory of the binary's own embedded files
	}
	return sub
}
