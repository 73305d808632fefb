package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		return openAt(t, filepath.Join(dir, "hub.db"))
	})
}

// TestDurabilitySettings checks what the acknowledgement guarantee rests
// on: every connection in WAL mode with synchronous=FULL (2), so a commit
// returns after its fsync.
func TestDurabilitySettings(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "hub.db"))
	defer s.Close()
	check := func(who string, q func(string) (string, error)) {
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2"} {
			got, err := q("PRAGMA " + pragma)
			if err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", who, pragma, err)
			}
			if got != want {
				t.Errorf("%s: %s = %s, want %s", who, pragma, got, want)
			}
		}
	}
	check("writer", func(q string) (v string, err error) { return v, s.w.QueryRowContext(t.Context(), q).Scan(&v) })
	check("reader", func(q string) (v string, err error) { return v, s.r.QueryRowContext(t.Context(), q).Scan(&v) })
	// A new database gets the store's page size and incremental
	// auto-vacuum, both of which must be set before WAL mode (setup).
	var size, mode int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA page_size`).Scan(&size); err != nil || size != pageSize {
		t.Errorf("page_size = %d, %v; want %d", size, err, pageSize)
	}
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != autoVacuumIncremental {
		t.Errorf("auto_vacuum = %d, %v; want %d (incremental)", mode, err, autoVacuumIncremental)
	}
	if _, err := s.r.ExecContext(t.Context(), `DELETE FROM points`); err == nil {
		t.Error("a reader connection could write")
	}
}

// TestKill9 acknowledges ingests in a child process, kills it with SIGKILL
// mid-stream and checks that every acknowledged record is stored.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("MOLEN_SQLITE_KILL9_DIR"); dir != "" {
		kill9Child(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "MOLEN_SQLITE_KILL9_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked uint64
	sc := bufio.NewScanner(out)
	for acked < 30 && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			if acked, err = strconv.ParseUint(n, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 30 {
		t.Fatalf("child acknowledged only %d records", acked)
	}

	s := openAt(t, filepath.Join(dir, "hub.db"))
	defer s.Close()
	wm, err := s.Watermark(t.Context(), kill9Source)
	if err != nil {
		t.Fatal(err)
	}
	if wm < acked {
		t.Errorf("watermark %d after kill -9, but %d was acknowledged", wm, acked)
	}
	pts, err := s.Raw(t.Context(), "org", "m/temp", 0, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(pts)) != wm*kill9Points {
		t.Errorf("%d points stored for watermark %d, want %d", len(pts), wm, wm*kill9Points)
	}
}

var kill9Source = store.Source{Edge: "edge", Stream: "points"}

const kill9Points = 50

func kill9Child(dir string) {
	s, err := Open(context.Background(), filepath.Join(dir, "hub.db"), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for seq := uint64(1); ; seq++ {
		r := store.Record{Seq: seq}
		for i := range kill9Points {
			ts := int64(seq)*int64(time.Second) + int64(i)
			r.Points = append(r.Points, uns.Point{Series: "m/temp", TS: ts, Value: uns.Float(float64(i))})
		}
		if _, err := s.Ingest(context.Background(), "org", kill9Source, []store.Record{r}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("acked %d\n", seq)
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openAt(t, path)
	var v int
	if err := s.w.QueryRowContext(t.Context(), `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version = %d, want %d", v, len(migrations))
	}
	if _, err := s.w.ExecContext(t.Context(), `UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want it to say so", err)
	}
}

// TestMigrateFromV1 opens a database of schema version 1, whose points
// were unique by (series_id, ts), made without auto-vacuum, and checks that
// its points survive the migration, that the file now returns free pages, and that points with their timestamps can then be added.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		migrations[0],
		`INSERT INTO series (id, org, path, first_ts) VALUES (1, 'org', 'm/temp', 10), (2, 'org', 'm/state', 10)`,
		`INSERT INTO points (series_id, ts, kind, q, v) VALUES
			(1, 20, 1, 0, 2.5), (1, 10, 1, 0, 1.5), (2, 10, 4, 2, 'idle'), (1, 30, 2, 1, 7)`,
		`INSERT INTO latest (series_id, ts, kind, q, v) VALUES (1, 30, 2, 1, 7), (2, 10, 4, 2, 'idle')`,
		`INSERT INTO watermarks (edge, stream, seq) VALUES ('e', 'points', 3)`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	defer s.Close()
	var v int
	if err := s.w.QueryRowContext(t.Context(), `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version after migration = %d, want %d", v, len(migrations))
	}
	// The file was made without auto-vacuum: migrate rewrote it with. Its
	// page size (4 KiB, SQLite's default) stays what it was.
	if size := s.pageSize; size != 4096 {
		t.Errorf("page size after migration = %d, want the file's 4096", size)
	}
	var mode int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != autoVacuumIncremental {
		t.Errorf("auto_vacuum after migration = %d, %v; want %d (incremental)", mode, err, autoVacuumIncremental)
	}
	temp := []uns.Point{
		{Series: "m/temp", TS: 10, Value: uns.Float(1.5)},
		{Series: "m/temp", TS: 20, Value: uns.Float(2.5)},
		{Series: "m/temp", TS: 30, Value: uns.Int(7), Quality: uns.Uncertain},
	}
	got, err := s.Raw(t.Context(), "org", "m/temp", 0, 1<<62, 0)
	if err != nil || !slices.Equal(got, temp) {
		t.Errorf("Raw after migration = %v, %v; want %v", got, err, temp)
	}
	src := store.Source{Edge: "e", Stream: "points"}
	if wm, err := s.Watermark(t.Context(), src); err != nil || wm != 3 {
		t.Errorf("Watermark after migration = %d, %v; want 3", wm, err)
	}
	tie := uns.Point{Series: "m/temp", TS: 20, Value: uns.Float(9)}
	if _, err := s.Ingest(t.Context(), "org", src, []store.Record{{Seq: 4, Points: []uns.Point{tie}}}); err != nil {
		t.Fatal(err)
	}
	want := []uns.Point{temp[0], temp[1], tie, temp[2]}
	if got, err := s.Raw(t.Context(), "org", "m/temp", 0, 1<<62, 0); err != nil || !slices.Equal(got, want) {
		t.Errorf("Raw after a tie with a migrated point = %v, %v; want %v", got, err, want)
	}
}

// TestTiedIngestIsWhole checks the slow path of Ingest: a call whose
// points tie with stored ones (which sends it down the point-by-point path
// after a rollback) stores every point of the call exactly once, with the
// series cache and watermark of one successful transaction.
func TestTiedIngestIsWhole(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "hub.db"))
	defer s.Close()
	src := store.Source{Edge: "e", Stream: "points"}
	batch := func(seq uint64, from int64) store.Record {
		r := store.Record{Seq: seq}
		// 1500 points over 3 series: more than one multi-row insert, and
		// rows of the call are inserted before the tie is noticed.
		for i := range int64(1500) {
			r.Points = append(r.Points, uns.Point{Series: fmt.Sprintf("m/s%d", i%3), TS: from + i/3, Value: uns.Int(i)})
		}
		return r
	}
	if _, err := s.Ingest(t.Context(), "org", src, []store.Record{batch(1, 1000)}); err != nil {
		t.Fatal(err)
	}
	// The last 100 timestamps of each series tie with the first call; an
	// older point moves First.
	second := batch(2, 1000+400)
	second.Points = append(second.Points, uns.Point{Series: "m/s0", TS: 5, Value: uns.Int(-1)})
	if n, err := s.Ingest(t.Context(), "org", src, []store.Record{second}); err != nil || n != 1 {
		t.Fatalf("tied Ingest = %d, %v; want 1 record", n, err)
	}
	for k := range 3 {
		path := fmt.Sprintf("m/s%d", k)
		got, err := s.Raw(t.Context(), "org", path, 0, 1<<62, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := 1000 // 500 of each call
		if k == 0 {
			want++
		}
		if len(got) != want {
			t.Errorf("%s: %d points, want %d", path, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].TS < got[i-1].TS {
				t.Fatalf("%s: Raw out of order at %d", path, i)
			}
		}
	}
	series, err := s.Series(t.Context(), "org", "m/s0", 0)
	if err != nil || len(series) != 1 || series[0].First != 5 {
		t.Errorf("Series(m/s0) = %+v, %v; want First 5", series, err)
	}
	if wm, err := s.Watermark(t.Context(), src); err != nil || wm != 2 {
		t.Errorf("Watermark = %d, %v; want 2", wm, err)
	}
}

// TestOpenPath checks that Open creates parent directories and takes the
// path literally, even with characters that mean something in a URI.
func TestOpenPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new dir", "a?b#c%20d", "hub.db")
	s := openAt(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at the given path: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Readers: -1}, {BusyTimeout: -time.Second}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: Validate succeeded", o)
		}
		if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"), o); err == nil {
			t.Errorf("%+v: Open succeeded", o)
		}
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openAt(t, path)
	src := store.Source{Edge: "e"}
	rec := func(seq uint64) []store.Record {
		return []store.Record{{Seq: seq, Points: []uns.Point{{Series: "m/x", TS: int64(seq), Value: uns.Int(1)}}}}
	}
	// A write racing Close either commits whole or fails: never half.
	done := make(chan error, 1)
	go func() {
		_, err := s.Ingest(context.Background(), "org", src, rec(1))
		done <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raced := <-done
	if raced != nil && !errors.Is(raced, ErrClosed) {
		t.Errorf("Ingest racing Close: %v, want success or ErrClosed", raced)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Ingest(t.Context(), "org", src, rec(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Ingest after Close: %v, want ErrClosed", err)
	}

	s = openAt(t, path)
	defer s.Close()
	wm, err := s.Watermark(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]uint64{true: 1, false: 0}[raced == nil]; wm != want {
		t.Errorf("watermark after reopen = %d, want %d (racing Ingest returned %v)", wm, want, raced)
	}
}

// TestInsertStatementsBounded checks that batches of every size share a

// TestReadsDuringCompaction ingests a counting series while compactions
// and merges run and readers check every answer: the points 1..k once
// each, in order, k never shrinking. A read that saw a head and the blocks
// made from it, or neither, fails it.
func TestReadsDuringCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := Open(t.Context(), path, Options{FlushPoints: 50, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 3000
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			seen := 0
			for ctx.Err() == nil {
				got, err := s.Raw(ctx, "org", "m/count", 0, 1<<62, 0)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				for i, p := range got {
					if p.Value != uns.Int(int64(i+1)) {
						t.Errorf("read %d points: point %d is %v", len(got), i, p.Value)
						return
					}
				}
				if len(got) < seen {
					t.Errorf("read %d points after %d", len(got), seen)
					return
				}
				seen = len(got)
				buckets, err := s.Aggregate(ctx, "org", "m/count", 0, 1<<62, int64(time.Minute), store.Count)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				var c int64
				for _, b := range buckets {
					c += b.Count
				}
				if c < int64(seen) {
					t.Errorf("count %d after reading %d points", c, seen)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := s.Compact(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	for i := 1; i <= n; i++ {
		p := uns.Point{Series: "m/count", TS: int64(i) * int64(time.Second), Value: uns.Int(int64(i))}
		if _, err := s.Ingest(t.Context(), "org", store.Source{Edge: "e"}, []store.Record{{Seq: uint64(i), Points: []uns.Point{p}}}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	var blocks int
	if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM blocks WHERE res = 0`).Scan(&blocks); err != nil || blocks == 0 {
		t.Fatalf("%d blocks, %v: no compaction ran", blocks, err)
	}
	got, err := s.Raw(t.Context(), "org", "m/count", 0, 1<<62, 0)
	if err != nil || len(got) != n {
		t.Fatalf("Raw = %d points, %v; want %d", len(got), err, n)
	}
	// Reopened, the store has each point once: compaction deleted the
	// chunks it moved into blocks, and the rest are read back.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	got, err = s.Raw(t.Context(), "org", "m/count", 0, 1<<62, 0)
	if err != nil || len(got) != n {
		t.Fatalf("Raw after reopening = %d points, %v; want %d", len(got), err, n)
	}
}
