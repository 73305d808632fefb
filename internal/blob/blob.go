// Package blob keeps the hub's content-addressed files (marketplace
// service packages, software release binaries) named by their sha256.
//
// The files are in a directory of the hub's data directory. When the
// metadata database is PostgreSQL (always so with molen hub --cluster),
// each file is also a row of the table blobs, so that every replica
// serves what was uploaded through any one: the row is written and
// committed before Put returns, and a replica that lacks the file reads
// the row, checks its sha256 and keeps it as its file; files kept before
// (a single hub that became a cluster) become rows when the store opens.
// With SQLite (a single hub) the files are all there is.
//
// A row holds the whole file as bytea (release binaries are 60–90 MB,
// below PostgreSQL's 1 GB limit for a value); reading or writing one
// holds it in memory once. PostgreSQL's large objects would stream in
// pieces, at the price of their own lifecycle (lo_unlink) and
// permissions; see docs/cluster.md.
package blob

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/molen-io/molen/internal/meta"
)

//go:embed migrations/*.sql
var migrations embed.FS

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Store keeps files under Dir, and in the metadata database when it is
// PostgreSQL.
type Store struct {
	dir string
	db  *meta.DB // nil: files only
	now func() time.Time
}

// New is a store of files in dir, shared through db when db is
// PostgreSQL (db may be nil: files only).
func New(ctx context.Context, dir string, db *meta.DB) (*Store, error) {
	s := &Store{dir: dir, now: time.Now}
	if db != nil && db.Dialect() == meta.Postgres {
		if err := db.Migrate(ctx, meta.Migrations{Domain: "blobs", FS: meta.Dir(migrations, "migrations")}); err != nil {
			return nil, err
		}
		s.db = db
		if err := s.adopt(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// adopt keeps as rows the files in the directory that have none (kept
// before the hub shared them), each checked against its name.
func (s *Store) adopt(ctx context.Context) error {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	for _, e := range entries {
		sum := e.Name()
		if !e.Type().IsRegular() || !sha256Hex.MatchString(sum) {
			continue
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs WHERE sha256 = $1`, sum).Scan(&n); err != nil {
			return fmt.Errorf("blob %s: %w", sum, err)
		}
		if n > 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, sum))
		if err != nil {
			return fmt.Errorf("blob %s: %w", sum, err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			continue // not what its name says: not shared
		}
		if err := s.insert(ctx, sum, b); err != nil {
			return fmt.Errorf("blob %s: %w", sum, err)
		}
	}
	return nil
}

// Dir is the directory of the files.
func (s *Store) Dir() string { return s.dir }

// Shared tells whether the files are also in the metadata database.
func (s *Store) Shared() bool { return s.db != nil }

// Put keeps b, whose sha256 is sum.
func (s *Store) Put(ctx context.Context, sum string, b []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	tmp, err := s.temp(b)
	if err != nil {
		return fmt.Errorf("store %s: %w", sum, err)
	}
	defer os.Remove(tmp) // after the rename, a no-op
	return s.keep(ctx, sum, tmp, b)
}

// PutFile keeps the file at path (in Dir, complete and synced), whose
// sha256 is sum: it becomes the store's file.
func (s *Store) PutFile(ctx context.Context, sum, path string) error {
	var b []byte
	if s.db != nil {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("store %s: %w", sum, err)
		}
	}
	return s.keep(ctx, sum, path, b)
}

// keep writes the row (when shared), then renames tmp to the file: a
// file is there only once its row is.
func (s *Store) keep(ctx context.Context, sum, tmp string, b []byte) error {
	if !sha256Hex.MatchString(sum) {
		return fmt.Errorf("store %q: not a sha256", sum)
	}
	if s.db != nil {
		if err := s.insert(ctx, sum, b); err != nil {
			return fmt.Errorf("store %s: %w", sum, err)
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, sum)); err != nil {
		return fmt.Errorf("store %s: %w", sum, err)
	}
	return nil
}

// insert keeps b as the row of sum (a row there already stays).
func (s *Store) insert(ctx context.Context, sum string, b []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO blobs (sha256, bytes, size, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		sum, b, len(b), meta.Nanos(s.now()))
	return err
}

// Open opens the file whose sha256 is sum: the local file, or else the
// row (checked against sum), kept as the local file first. A sum the
// store does not hold is meta.ErrNotFound.
func (s *Store) Open(ctx context.Context, sum string) (*os.File, error) {
	if !sha256Hex.MatchString(sum) {
		return nil, fmt.Errorf("%q: %w", sum, meta.ErrNotFound)
	}
	f, err := os.Open(filepath.Join(s.dir, sum))
	if !errors.Is(err, os.ErrNotExist) || s.db == nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: missing from %s: %w", sum, s.dir, meta.ErrNotFound)
		}
		return f, err
	}
	if err := s.fetch(ctx, sum); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(s.dir, sum))
}

// Read is the content of the file whose sha256 is sum, as Open finds it.
func (s *Store) Read(ctx context.Context, sum string) ([]byte, error) {
	f, err := s.Open(ctx, sum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", sum, err)
	}
	return b, nil
}

// fetch writes the file of sum from its row, refusing a row whose bytes
// are not what sum names.
func (s *Store) fetch(ctx context.Context, sum string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", sum, err)
	}
	defer conn.Close()
	found := false
	err = conn.Raw(func(dc any) error {
		// pgx's own rows: RawValues is the bytes as read, not a second
		// copy of a file that may be 90 MB (database/sql copies).
		rows, err := dc.(*stdlib.Conn).Conn().Query(ctx, `SELECT bytes FROM blobs WHERE sha256 = $1`, sum)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			return rows.Err()
		}
		found = true
		return s.cache(sum, rows.RawValues()[0])
	})
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", sum, err)
	case !found:
		return fmt.Errorf("%s: in neither %s nor the metadata database: %w", sum, s.dir, meta.ErrNotFound)
	}
	return nil
}

// cache keeps b, read from the row of sum, as the file of sum once its
// sha256 is sum.
func (s *Store) cache(sum string, b []byte) error {
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		return fmt.Errorf("refused: the metadata database's copy has sha256 %s; upload it again", hex.EncodeToString(got[:]))
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	tmp, err := s.temp(b)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, filepath.Join(s.dir, sum))
}

// temp writes b to a new synced file in the store's directory.
func (s *Store) temp(b []byte) (string, error) {
	f, err := os.CreateTemp(s.dir, "upload-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
