// Package metatest opens metadata databases for tests: SQLite always, and
// PostgreSQL when MOLEN_TEST_POSTGRES names a server.
package metatest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/meta"
)

// Each runs test once per available dialect, as a subtest named after it,
// with a fresh database closed when the subtest ends.
func Each(t *testing.T, test func(t *testing.T, db *meta.DB)) {
	t.Run("sqlite", func(t *testing.T) { test(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := DSN(t)
		test(t, Postgres(t, dsn, Schema(t, dsn)))
	})
}

// SQLite opens a fresh SQLite metadata database in t.TempDir.
func SQLite(t testing.TB) *meta.DB {
	t.Helper()
	db, err := meta.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "meta.db"), meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// DSN returns MOLEN_TEST_POSTGRES, or skips t when it is unset.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("MOLEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("MOLEN_TEST_POSTGRES is unset: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to test on PostgreSQL")
	}
	return dsn
}

var seq atomic.Int64

// Schema returns the name of a fresh schema (not yet created) that is
// dropped when t ends.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	schema := fmt.Sprintf("meta_test_%d_%d", time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return schema
}

// Postgres opens the metadata database in schema, closed when t ends.
func Postgres(t *testing.T, dsn, schema string) *meta.DB {
	t.Helper()
	db, err := meta.OpenPostgres(t.Context(), dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
