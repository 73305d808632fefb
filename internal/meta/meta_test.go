package meta_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

func files(names ...string) fstest.MapFS {
	fs := fstest.MapFS{}
	for _, n := range names {
		fs[n] = &fstest.MapFile{Data: []byte(migrationSQL[n])}
	}
	return fs
}

var migrationSQL = map[string]string{
	"0001_things.sql": `CREATE TABLE things (id TEXT NOT NULL PRIMARY KEY, n BIGINT NOT NULL, ok BOOLEAN NOT NULL);
		CREATE INDEX things_by_n ON things (n);`,
	"0002_more.sql": `INSERT INTO things (id, n, ok) VALUES ('a', 1, TRUE);`,
	"0003_bad.sql":  `INSERT INTO things (id, n, ok) VALUES ('b', 2, FALSE); INSERT INTO no_such_table VALUES (1);`,
	"0003_good.sql": `ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT '';`,
}

func version(t *testing.T, db *meta.DB, domain string) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(t.Context(), `SELECT COALESCE(MAX(version), 0) FROM meta_migrations WHERE domain = $1`, domain).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrate(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		m := meta.Migrations{Domain: "things", FS: files("0001_things.sql", "0002_more.sql")}
		for range 2 { // the second run finds nothing to do
			if err := db.Migrate(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if v := version(t, db, "things"); v != 2 {
			t.Errorf("version = %d, want 2", v)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM things WHERE ok`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows = %d, %v; want 1 (migration 2 ran once)", n, err)
		}

		// A failing migration leaves the domain as it was, files before it
		// in the same run included.
		bad := meta.Migrations{Domain: "things", FS: files("0001_things.sql", "0002_more.sql", "0003_bad.sql")}
		if err := db.Migrate(ctx, bad); err == nil || !strings.Contains(err.Error(), "0003_bad.sql") {
			t.Errorf("Migrate with a bad file = %v, want an error naming it", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM things`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows after a failed migration = %d, %v; want 1", n, err)
		}
		if v := version(t, db, "things"); v != 2 {
			t.Errorf("version after a failed migration = %d, want 2", v)
		}

		// Another domain counts its own versions.
		if err := db.Migrate(ctx, meta.Migrations{Domain: "other", FS: fstest.MapFS{
			"0001_x.sql": {Data: []byte(`CREATE TABLE other_x (id BIGINT NOT NULL PRIMARY KEY)`)}}}); err != nil {
			t.Fatal(err)
		}
		if v := version(t, db, "other"); v != 1 {
			t.Errorf("version of other = %d, want 1", v)
		}

		// A database of a newer molen is refused.
		old := meta.Migrations{Domain: "things", FS: files("0001_things.sql")}
		if err := db.Migrate(ctx, old); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Errorf("Migrate to an older version = %v, want refusal", err)
		}
	})
}

func TestMigrationFiles(t *testing.T) {
	db := metatest.SQLite(t)
	for name, fs := range map[string]fstest.MapFS{
		"gap":     {"0001_a.sql": {Data: []byte("SELECT 1")}, "0003_c.sql": {Data: []byte("SELECT 1")}},
		"no name": {"1.sql": {Data: []byte("SELECT 1")}},
	} {
		if err := db.Migrate(t.Context(), meta.Migrations{Domain: name, FS: fs}); err == nil {
			t.Errorf("%s: Migrate succeeded", name)
		}
	}
}

// TestMigrateConcurrently starts several hubs' migrations on one fresh
// PostgreSQL schema at once: all succeed and each migration runs once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	m := meta.Migrations{Domain: "things", FS: files("0001_things.sql", "0002_more.sql")}
	var wg sync.WaitGroup
	dbs := make([]*meta.DB, 4)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Go(func() {
			db, err := meta.OpenPostgres(t.Context(), dsn, schema)
			if err == nil {
				dbs[i] = db
				err = db.Migrate(t.Context(), m)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, db := range dbs {
		if db != nil {
			defer db.Close()
		}
		if errs[i] != nil {
			t.Errorf("hub %d: %v", i, errs[i])
		}
	}
	if t.Failed() {
		return
	}
	var n int
	if err := dbs[0].QueryRowContext(t.Context(), `SELECT count(*) FROM things`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows = %d, %v; want 1: migration 2 ran once", n, err)
	}
}

func TestLease(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		a := &meta.Lease{DB: db, Name: "retention", Holder: "hub-a", TTL: 10 * time.Minute}
		b := &meta.Lease{DB: db, Name: "retention", Holder: "hub-b", TTL: 10 * time.Minute}
		other := &meta.Lease{DB: db, Name: "reports", Holder: "hub-b", TTL: 10 * time.Minute}
		steps := []struct {
			l    *meta.Lease
			at   time.Duration
			want bool
		}{
			{a, 0, true},                 // free: a takes it
			{b, time.Minute, false},      // a holds it
			{other, time.Minute, true},   // another job's lease is another lease
			{a, 5 * time.Minute, true},   // a renews: until 15 min
			{b, 12 * time.Minute, false}, // would have expired without the renewal
			{b, 15 * time.Minute, true},  // expired: b takes over
			{a, 16 * time.Minute, false}, // a lost it
			{b, 20 * time.Minute, true},  // b renews: until 30 min
			{b, 18 * time.Minute, true},  // an older call of b's does not cut that short
			{a, 29 * time.Minute, false}, // so a still finds it held
		}
		for i, s := range steps {
			got, err := s.l.Acquire(ctx, t0.Add(s.at))
			if err != nil {
				t.Fatal(err)
			}
			if got != s.want {
				t.Errorf("step %d: %s.Acquire(%s, +%v) = %v, want %v", i, s.l.Holder, s.l.Name, s.at, got, s.want)
			}
		}
		if err := a.Release(ctx); err != nil { // not a's: nothing happens
			t.Fatal(err)
		}
		if got, _ := a.Acquire(ctx, t0.Add(29*time.Minute)); got {
			t.Error("a took the lease after releasing one it did not hold")
		}
		if err := b.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Acquire(ctx, t0.Add(21*time.Minute)); !got {
			t.Error("a cannot take the lease b released")
		}
	})
}

// TestLeaseRace has holders ask at the same instant: exactly one wins.
func TestLeaseRace(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		won := make([]bool, 8)
		for i := range won {
			wg.Go(func() {
				l := &meta.Lease{DB: db, Name: "job", Holder: string(rune('a' + i)), TTL: time.Minute}
				var err error
				if won[i], err = l.Acquire(t.Context(), now); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n := 0
		for _, w := range won {
			if w {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d holders won the lease at once, want 1", n)
		}
	})
}

// TestAdopt copies a table an earlier release made in the store file into
// a new SQLite metadata database, once.
func TestAdopt(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "molen.db")
	old, err := sql.Open("sqlite", legacy)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL, ok INTEGER NOT NULL) STRICT, WITHOUT ROWID`,
		`CREATE UNIQUE INDEX things_by_n ON things (n) WHERE n > 0`,
		`INSERT INTO things VALUES ('x', 7, 1), ('y', 8, 0)`,
	} {
		if _, err := old.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := meta.OpenSQLite(ctx, filepath.Join(dir, "meta.db"), meta.Options{Legacy: legacy})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := meta.Migrations{Domain: "things", FS: fstest.MapFS{"0001_things.sql": {Data: []byte(
		`CREATE TABLE IF NOT EXISTS things (id TEXT NOT NULL PRIMARY KEY, n BIGINT NOT NULL, ok BOOLEAN NOT NULL);`)}},
		Adopt: []string{"things", "absent"}}
	if err := db.Migrate(ctx, m); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM things WHERE ok`).Scan(&n); err != nil || n != 1 {
		t.Errorf("adopted rows that are ok = %d, %v; want 1", n, err)
	}
	// The index came along: n stays unique.
	_, err = db.ExecContext(ctx, `INSERT INTO things (id, n, ok) VALUES ('z', 7, TRUE)`)
	if !meta.Unique(err) {
		t.Errorf("insert of a duplicate n = %v, want a unique violation", err)
	}
	// The legacy database is detached again from the pool's connections.
	if _, err := db.ExecContext(ctx, `SELECT count(*) FROM legacy.things`); err == nil {
		t.Error("the legacy database is still attached")
	}
}

func TestErrors(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		if err := db.Migrate(ctx, meta.Migrations{Domain: "things", FS: files("0001_things.sql")}); err != nil {
			t.Fatal(err)
		}
		ins := func() error {
			return meta.Inserted(db.ExecContext(ctx, `INSERT INTO things (id, n, ok) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, "a", 1, true))
		}
		if err := ins(); err != nil {
			t.Fatal(err)
		}
		if err := ins(); !errors.Is(err, meta.ErrExists) {
			t.Errorf("second insert = %v, want ErrExists", err)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO things (id, n, ok) VALUES ($1, $2, $3)`, "a", 1, true)
		if !meta.Unique(err) {
			t.Errorf("plain duplicate insert = %v, want a unique violation", err)
		}
		if err := meta.Changed(db.ExecContext(ctx, `UPDATE things SET ok = $1 WHERE id = $2`, false, "nope")); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("update of nothing = %v, want ErrNotFound", err)
		}
		var ok bool
		if err := meta.Found(db.QueryRowContext(ctx, `SELECT ok FROM things WHERE id = $1`, "nope").Scan(&ok)); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("select of nothing = %v, want ErrNotFound", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT ok FROM things WHERE id = $1`, "a").Scan(&ok); err != nil || !ok {
			t.Errorf("bool round trip = %v, %v", ok, err)
		}
		if err := meta.CheckText("fine", "nul\x00"); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("CheckText of a NUL = %v, want ErrInvalid", err)
		}
		ts := time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)
		if got := meta.Time(meta.Nanos(ts)); !got.Equal(ts) || !meta.Time(meta.Nanos(time.Time{})).IsZero() {
			t.Errorf("time round trip: %v", got)
		}
	})
}
