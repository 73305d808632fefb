package blob_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/blob"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSharedThroughPostgres: what one hub's store keeps, another's (its
// own directory, the same PostgreSQL) opens and then keeps as its file; a
// row whose bytes changed is refused and never becomes a file.
func TestSharedThroughPostgres(t *testing.T) {
	dsn := metatest.DSN(t)
	db := metatest.Postgres(t, dsn, metatest.Schema(t, dsn))
	ctx := t.Context()
	a, err := blob.New(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blob.New(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatal(err)
	}
	pkg := []byte("a service package")
	if err := a.Put(ctx, sum(pkg), pkg); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(a.Dir(), "upload.tmp")
	if err := os.WriteFile(bin, []byte("a release binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	binSum := sum([]byte("a release binary"))
	if err := a.PutFile(ctx, binSum, bin); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{pkg, []byte("a release binary")} {
		got, err := b.Read(ctx, sum(want))
		if err != nil || string(got) != string(want) {
			t.Errorf("read through the other store: %q, %v; want %q", got, err, want)
		}
		if cached, err := os.ReadFile(filepath.Join(b.Dir(), sum(want))); err != nil || string(cached) != string(want) {
			t.Errorf("the other store's file: %q, %v", cached, err)
		}
	}
	if _, err := b.Open(ctx, sum([]byte("never kept"))); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a sum never kept: %v, want ErrNotFound", err)
	}

	bad := []byte("a package whose row changes")
	if err := a.Put(ctx, sum(bad), bad); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE blobs SET bytes = $1 WHERE sha256 = $2`, []byte("something else"), sum(bad)); err != nil {
		t.Fatal(err)
	}
	_, err = b.Read(ctx, sum(bad))
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), sum([]byte("something else"))) {
		t.Errorf("a changed row: %v, want it refused naming the row's sha256", err)
	}
	if _, err := os.Stat(filepath.Join(b.Dir(), sum(bad))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a changed row became a file: %v", err)
	}
	// The store that wrote it still has its verified file.
	if got, err := a.Read(ctx, sum(bad)); err != nil || string(got) != string(bad) {
		t.Errorf("the writer's own file: %q, %v", got, err)
	}
}

// TestAdoptsEarlierFiles: files a hub kept before it shared them become
// rows when its store opens on PostgreSQL; one that is not what its name
// says does not.
func TestAdoptsEarlierFiles(t *testing.T) {
	dsn := metatest.DSN(t)
	db := metatest.Postgres(t, dsn, metatest.Schema(t, dsn))
	ctx := t.Context()
	dir := t.TempDir()
	old, liar := []byte("kept by a single hub"), []byte("not what its name says")
	if err := os.WriteFile(filepath.Join(dir, sum(old)), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sum([]byte("other"))), liar, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.New(ctx, dir, db); err != nil {
		t.Fatal(err)
	}
	other, err := blob.New(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.Read(ctx, sum(old)); err != nil || string(got) != string(old) {
		t.Errorf("an earlier file through another store: %q, %v", got, err)
	}
	if _, err := other.Read(ctx, sum([]byte("other"))); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a file not what its name says: %v, want ErrNotFound", err)
	}
}

// TestFilesOnlyWithSQLite: a single hub on SQLite keeps files and no
// table.
func TestFilesOnlyWithSQLite(t *testing.T) {
	ctx := t.Context()
	db := metatest.SQLite(t)
	s, err := blob.New(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shared() {
		t.Error("shared on SQLite")
	}
	b := []byte("x")
	if err := s.Put(ctx, sum(b), b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(ctx, sum(b)); err != nil || string(got) != "x" {
		t.Errorf("read: %q, %v", got, err)
	}
	if err := s.Put(ctx, "not-a-sum", b); err == nil {
		t.Error("a name that is no sha256 was kept")
	}
}

// BenchmarkShared64MB keeps a 64 MiB file (a release binary's size) in
// one store (put), and fetches it through PostgreSQL into another store's
// directory (fetch):
// MOLEN_TEST_POSTGRES=… go test -run - -bench Shared -benchtime 3x -benchmem ./internal/blob/
func BenchmarkShared64MB(b *testing.B) {
	dsn := metatest.DSN(b)
	db, err := meta.OpenPostgres(b.Context(), dsn, metatest.Schema(b, dsn))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7919 >> 3)
	}
	var sums []string
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			data[0]++ // a new sha256 each time
			s := sum(data)
			st, err := blob.New(ctx, b.TempDir(), db)
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Put(ctx, s, data); err != nil {
				b.Fatal(err)
			}
			sums = append(sums, s)
		}
	})
	b.Run("fetch", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		i := 0
		for b.Loop() {
			st, err := blob.New(ctx, b.TempDir(), db)
			if err != nil {
				b.Fatal(err)
			}
			f, err := st.Open(ctx, sums[i%len(sums)])
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
		}
	})
}
