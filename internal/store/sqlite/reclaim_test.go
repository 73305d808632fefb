package sqlite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/molen-io/molen/internal/store/storetest"
)

// TestReclaimAfterBulkLoad checks that the database file gives back the
// ingest log's pages: after a bulk load (half an hour of four simulated
// sites, all in the head) and its compaction, which finds ingest idle, no
// page is free and the database file and its WAL (checkpointed) are the
// pages in use. Without reclaim the deleted chunks stay in the file as
// free pages, several times the size of the blocks.
func TestReclaimAfterBulkLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openAt(t, path)
	defer s.Close()
	calls, _ := storetest.FactoryPoints(t, 4, 0, 1800, 10_000, storetest.Shapes[0])
	ingestCalls(t, s, calls, 1, 0)
	if _, chunkFile := pageBytes(t, s, path); chunkFile < 1<<20 {
		t.Fatalf("the ingest log takes %d bytes; too few to test reclaiming", chunkFile)
	}
	for range 4 {
		if err := s.compact(t.Context(), true); err != nil {
			t.Fatal(err)
		}
	}
	var chunks int
	if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM chunks`).Scan(&chunks); err != nil || chunks != 0 {
		t.Fatalf("%d chunks left after compaction (%v)", chunks, err)
	}
	used, _ := pageBytes(t, s, path)
	// The database and its WAL; not the shared-memory index, 32 KiB
	// whatever the data (what the benchmarks' file-B/pt includes).
	var file int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		file += fi.Size()
	}
	var free int64
	if err := s.r.QueryRowContext(t.Context(), `PRAGMA freelist_count`).Scan(&free); err != nil || free != 0 {
		t.Errorf("%d pages free after an idle compaction (%v), want 0", free, err)
	}
	if file != used {
		t.Errorf("the database files take %d bytes for %d bytes of pages in use, want as many", file, used)
	}
}
