package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/storetest"
	"github.com/molen-io/molen/internal/uns"
)

// envDSN names the environment variable with the DSN of the PostgreSQL
// server the tests use, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envDSN = "MOLEN_TEST_POSTGRES"

// testDSN returns the DSN or skips tb.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		tb.Skipf("%s is not set: set it to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests", envDSN)
	}
	return dsn
}

// schemaFor maps a test directory to its schema: the same directory
// always to the same schema, different ones to different schemas.
func schemaFor(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return "molen_test_" + hex.EncodeToString(h[:10])
}

// schemas records the schemas the tests have claimed; the first open of a
// directory drops any leftover schema of that name (a fresh directory is
// an empty store) and drops the schema when its test ends. Reopening the
// directory later in the same test sees the same data.
var schemas sync.Map // schema name -> struct{}

// openSchema opens a store on schema, claiming it for tb on first use.
func openSchema(tb testing.TB, schema string, opts Options) *Store {
	tb.Helper()
	dsn := testDSN(tb)
	if _, loaded := schemas.LoadOrStore(schema, struct{}{}); !loaded {
		dropSchema(tb, dsn, schema)
		tb.Cleanup(func() {
			dropSchema(tb, dsn, schema)
			schemas.Delete(schema)
		})
	}
	opts.Schema = schema
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func dropSchema(tb testing.TB, dsn, schema string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("drop schema %s: %v", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
	}
}

// openTest opens a store on a fresh schema of its own, closed and dropped
// when tb ends.
func openTest(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s := openSchema(tb, schemaFor(tb.TempDir()), opts)
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		return openSchema(t, schemaFor(dir), Options{})
	})
}

const (
	org = "org"
	day = int64(24 * time.Hour)
)

var t0 = time.Date(2025, 3, 14, 22, 0, 0, 0, time.UTC).UnixNano()

func mustIngest(tb testing.TB, s *Store, src store.Source, recs ...store.Record) int {
	tb.Helper()
	n, err := s.Ingest(tb.Context(), org, src, recs)
	if err != nil {
		tb.Fatalf("Ingest: %v", err)
	}
	return n
}

// partitions lists the points partitions of s with their bounds.
func partitions(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY c.relname`, pgx.Identifier{s.schema, "points"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPartitionsAcrossDays ingests points on both sides of midnight and
// checks that each day got its partition, that rows went into the right
// one, and that queries span them.
func TestPartitionsAcrossDays(t *testing.T) {
	s := openTest(t, Options{})
	if s.mode != modeNative {
		t.Fatalf("mode %s, want %s", s.mode, modeNative)
	}
	src := store.Source{Edge: "e", Stream: "points"}
	// 22:00 on the 14th to 02:00 on the 16th, every 30 minutes: three days.
	var pts []uns.Point
	for ts := t0; ts < t0+day+4*int64(time.Hour); ts += int64(30 * time.Minute) {
		pts = append(pts, uns.Point{Series: "m/temp", TS: ts, Value: uns.Int(ts)})
	}
	mustIngest(t, s, src, store.Record{Seq: 1, Points: pts})
	d := func(day string) int64 {
		tm, err := time.Parse("2006-01-02", day)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	want := []string{
		fmt.Sprintf("points_20250314_00 FOR VALUES FROM ('%d') TO ('%d')", d("2025-03-14"), d("2025-03-15")),
		fmt.Sprintf("points_20250315_00 FOR VALUES FROM ('%d') TO ('%d')", d("2025-03-15"), d("2025-03-16")),
		fmt.Sprintf("points_20250316_00 FOR VALUES FROM ('%d') TO ('%d')", d("2025-03-16"), d("2025-03-17")),
	}
	if got := partitions(t, s); !slices.Equal(got, want) {
		t.Errorf("partitions:\n got %q\nwant %q", got, want)
	}
	for _, tt := range []struct {
		part string
		want int
	}{{"points_20250314_00", 4}, {"points_20250315_00", 48}, {"points_20250316_00", 4}} {
		var n int
		if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+pgx.Identifier{s.schema, tt.part}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("%s holds %d rows, want %d", tt.part, n, tt.want)
		}
	}
	got, err := s.Raw(t.Context(), org, "m/temp", 0, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, pts) {
		t.Errorf("Raw across partitions: %d points, want %d in order", len(got), len(pts))
	}
	buckets, err := s.Aggregate(t.Context(), org, "m/temp", 0, 1<<62, day, store.Count)
	if err != nil {
		t.Fatal(err)
	}
	wantBuckets := []store.Bucket{
		{Start: d("2025-03-14"), Value: uns.Int(4), Count: 4},
		{Start: d("2025-03-15"), Value: uns.Int(48), Count: 48},
		{Start: d("2025-03-16"), Value: uns.Int(4), Count: 4},
	}
	if !slices.Equal(buckets, wantBuckets) {
		t.Errorf("Aggregate by day = %v, want %v", buckets, wantBuckets)
	}
}

// TestPartitionsConcurrent has several stores (as several hubs) ingest
// into the same new days at once: every partition is created once, no
// ingest fails, nothing is lost.
func TestPartitionsConcurrent(t *testing.T) {
	first := openTest(t, Options{})
	const hubs, days = 4, 5
	stores := []*Store{first}
	for range hubs - 1 {
		s := openSchema(t, first.schema, Options{})
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	for h, s := range stores {
		wg.Go(func() {
			src := store.Source{Edge: fmt.Sprintf("e%d", h), Stream: "points"}
			for i := range days {
				p := uns.Point{Series: "m/temp", TS: t0 + int64(days-i)*day, Value: uns.Int(int64(h))}
				if _, err := s.Ingest(t.Context(), org, src, []store.Record{{Seq: uint64(i + 1), Points: []uns.Point{p}}}); err != nil {
					t.Errorf("hub %d: Ingest: %v", h, err)
				}
			}
		})
	}
	wg.Wait()
	if got := partitions(t, first); len(got) != days {
		t.Errorf("%d partitions, want %d: %q", len(got), days, got)
	}
	got, err := first.Raw(t.Context(), org, "m/temp", 0, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != hubs*days {
		t.Errorf("%d points, want %d", len(got), hubs*days)
	}
}

// TestPartitionDroppedBehindCache drops a partition the store knows (as a
// retention job would) and ingests into its range again: the insert finds
// no partition, the store forgets its cache and recreates it.
func TestPartitionDroppedBehindCache(t *testing.T) {
	s := openTest(t, Options{})
	src := store.Source{Edge: "e", Stream: "points"}
	p := uns.Point{Series: "m/temp", TS: t0, Value: uns.Float(1)}
	mustIngest(t, s, src, store.Record{Seq: 1, Points: []uns.Point{p}})
	if _, err := s.pool.Exec(t.Context(), `DROP TABLE `+pgx.Identifier{s.schema, partitionName(s.partitionStart(t0))}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if n := mustIngest(t, s, src, store.Record{Seq: 2, Points: []uns.Point{p}}); n != 1 {
		t.Errorf("stored %d records, want 1", n)
	}
	if got, err := s.Raw(t.Context(), org, "m/temp", 0, 1<<62, 0); err != nil || !slices.Equal(got, []uns.Point{p}) {
		t.Errorf("Raw = %v, %v; want the point of seq 2", got, err)
	}
}

// TestConcurrentHubsStoreOnce has two stores on one schema (two hubs
// behind a load balancer) receive the same redeliveries of one source at
// once: the watermark's row lock makes each record stored once.
func TestConcurrentHubsStoreOnce(t *testing.T) {
	a := openTest(t, Options{})
	b := openSchema(t, a.schema, Options{})
	t.Cleanup(func() { b.Close() })
	src := store.Source{Edge: "e", Stream: "points"}
	const total = 60
	var mu sync.Mutex
	stored := 0
	var wg sync.WaitGroup
	for w, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for from := uint64(1 + w); from <= total; from += 5 {
				var recs []store.Record
				for seq := from; seq <= min(from+9, total); seq++ {
					recs = append(recs, store.Record{Seq: seq, Points: []uns.Point{{Series: "m/n", TS: t0 + int64(seq), Value: uns.Int(int64(seq))}}})
				}
				n, err := s.Ingest(t.Context(), org, src, recs)
				if err != nil {
					t.Errorf("Ingest: %v", err)
					return
				}
				mu.Lock()
				stored += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := a.Raw(t.Context(), org, "m/n", 0, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := b.Watermark(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	// Records below a worker's first window may be missing; the counts
	// must agree with what is stored, each record once.
	if len(got) != stored {
		t.Errorf("%d points stored, but Ingest calls reported %d", len(got), stored)
	}
	for i := 1; i < len(got); i++ {
		if got[i].TS <= got[i-1].TS {
			t.Fatalf("point %d at %d after %d: a record was stored twice", i, got[i].TS, got[i-1].TS)
		}
	}
	if wm != total {
		t.Errorf("watermark = %d, want %d", wm, total)
	}
}

func TestSchemaVersion(t *testing.T) {
	s := openTest(t, Options{})
	var v int
	if err := s.pool.QueryRow(t.Context(), `SELECT version FROM `+pgx.Identifier{s.schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version = %d, want %d", v, len(migrations))
	}
	// Opening again migrates nothing and keeps the version.
	again := openSchema(t, s.schema, Options{})
	again.Close()
	if _, err := s.pool.Exec(t.Context(), `UPDATE `+pgx.Identifier{s.schema, "schema_version"}.Sanitize()+` SET version = $1`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(t.Context(), testDSN(t), Options{Schema: s.schema}); err == nil {
		s2.Close()
		t.Fatal("Open of a schema with a newer version succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want it to say so", err)
	}
}

// TestReopen checks what the conformance suite cannot: the partition
// interval is fixed at creation, and a reopened store finds its existing
// partitions and ids.
func TestReopen(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := openSchema(t, schema, Options{PartitionInterval: 7 * 24 * time.Hour})
	src := store.Source{Edge: "e", Stream: "points"}
	a := uns.Point{Series: "m/s", TS: t0, Value: uns.String("a")}
	mustIngest(t, s, src, store.Record{Seq: 1, Points: []uns.Point{a}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw(t.Context(), org, "m/s", 0, 1<<62, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Raw after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Ingest(t.Context(), org, src, []store.Record{{Seq: 2}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Ingest after Close: %v, want ErrClosed", err)
	}

	if s, err := Open(t.Context(), testDSN(t), Options{Schema: schema, PartitionInterval: 24 * time.Hour}); err == nil {
		s.Close()
		t.Error("reopen with another partition interval succeeded")
	}
	s = openSchema(t, schema, Options{}) // 0: the schema's interval
	defer s.Close()
	if s.interval != int64(7*24*time.Hour) {
		t.Errorf("interval after reopen = %v, want 168h", time.Duration(s.interval))
	}
	b := uns.Point{Series: "m/s", TS: t0, Value: uns.String("b")}
	mustIngest(t, s, src, store.Record{Seq: 2, Points: []uns.Point{b}})
	if got, err := s.Raw(t.Context(), org, "m/s", 0, 1<<62, 0); err != nil || !slices.Equal(got, []uns.Point{a, b}) {
		t.Errorf("Raw after reopen = %v, %v; want a then b", got, err)
	}
	if got := partitions(t, s); len(got) != 1 {
		t.Errorf("partitions after reopen: %q, want one week", got)
	}
}

// TestDurability checks what acknowledgements rest on: a DSN that turns
// synchronous_commit off for its sessions still gets durable writes, and
// the server is crash-safe.
func TestDurability(t *testing.T) {
	dsn := testDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	schema := schemaFor(t.TempDir())
	// Claim the schema for cleanup, then open with the modified DSN.
	openSchema(t, schema, Options{}).Close()
	s, err := Open(t.Context(), dsn+sep+"options=-c%20synchronous_commit%3Doff", Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var session string
	if err := s.pool.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&session); err != nil {
		t.Fatal(err)
	}
	if session != "off" {
		t.Fatalf("session synchronous_commit = %s; the DSN should have turned it off", session)
	}
	var inTx string
	err = s.inTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&inTx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if inTx != "on" {
		t.Errorf("synchronous_commit in a write transaction = %s, want on", inTx)
	}
	if err := s.Durability(); err != nil {
		t.Errorf("Durability: %v (the test server should be crash-safe)", err)
	}
}

func TestDurabilitySettings(t *testing.T) {
	for _, tt := range []struct {
		fsync, fpw string
		ok         bool
	}{{"on", "on", true}, {"off", "on", false}, {"on", "off", false}, {"off", "off", false}} {
		err := durability(tt.fsync, tt.fpw)
		if (err == nil) != tt.ok || !tt.ok && !errors.Is(err, ErrNotDurable) {
			t.Errorf("durability(fsync=%s, full_page_writes=%s) = %v", tt.fsync, tt.fpw, err)
		}
	}
	for session, want := range map[string]string{"off": "on", "on": "on", "local": "local", "remote_write": "remote_write", "remote_apply": "remote_apply", "": "on"} {
		if got := commitSetting(session); got != want {
			t.Errorf("commitSetting(%q) = %q, want %q", session, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Schema: strings.Repeat("s", 64)},
		{Schema: "a\x00b"},
		{Schema: "pg_molen"},
		{MaxConns: -1},
		{PartitionInterval: -time.Hour},
		{PartitionInterval: 90 * time.Minute},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: Validate succeeded", o)
		}
		if s, err := Open(t.Context(), "postgres://127.0.0.1:1/none", o); err == nil {
			s.Close()
			t.Errorf("%+v: Open succeeded", o)
		}
	}
	if err := (Options{Schema: `we"ird; DROP`, PartitionInterval: 168 * time.Hour}).Validate(); err != nil {
		t.Errorf("a schema name with quotes: %v (it is quoted, so it is allowed)", err)
	}
}

// TestQuotedSchema opens a store in a schema whose name needs quoting.
func TestQuotedSchema(t *testing.T) {
	schema := `molen "test"; DROP ` + schemaFor(t.TempDir())[len("molen_test_"):]
	s := openSchema(t, schema, Options{})
	defer s.Close()
	p := uns.Point{Series: "m/temp", TS: t0, Value: uns.Float(1)}
	mustIngest(t, s, store.Source{Edge: "e"}, store.Record{Seq: 1, Points: []uns.Point{p}})
	if got, err := s.Raw(t.Context(), org, "m/temp", 0, 1<<62, 0); err != nil || !slices.Equal(got, []uns.Point{p}) {
		t.Errorf("Raw = %v, %v", got, err)
	}
}

// TestUnstorableText checks text PostgreSQL cannot hold: an ingest with
// such an org or source is invalid; lookups with it find nothing.
func TestUnstorableText(t *testing.T) {
	s := openTest(t, Options{})
	p := uns.Point{Series: "m/temp", TS: t0, Value: uns.Float(1)}
	for _, tt := range []struct {
		org string
		src store.Source
	}{{"a\x00b", store.Source{Edge: "e"}}, {"\xff", store.Source{Edge: "e"}}, {org, store.Source{Edge: "e\x00"}}, {org, store.Source{Edge: "e", Stream: "\xfe"}}} {
		if _, err := s.Ingest(t.Context(), tt.org, tt.src, []store.Record{{Seq: 1, Points: []uns.Point{p}}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Ingest(%q, %q): %v, want ErrInvalid", tt.org, tt.src, err)
		}
	}
	if got, err := s.Latest(t.Context(), "a\x00b", "m\xff", 0); err != nil || len(got) != 0 {
		t.Errorf("Latest = %v, %v", got, err)
	}
}

// TestMigrateRollups opens a schema as version 3 left it (points, no
// rollups): the migration computes the rollups from the stored points, so
// that aggregates over whole minutes and hours answer what they answered
// before, ties of first and last included, and ingest goes on into them.
func TestMigrateRollups(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := openSchema(t, schema, Options{})
	src := store.Source{Edge: "e", Stream: "points"}
	var recs []store.Record
	for i := range int64(600) {
		var v uns.Value
		switch i % 4 {
		case 0:
			v = uns.Float(float64(i) / 3)
		case 1:
			v = uns.Int(i * 7)
		case 2:
			v = uns.Bool(i%3 == 0)
		default:
			v = uns.String(fmt.Sprint(i))
		}
		ts := t0 + i/3*int64(time.Second)*7 // three points a timestamp, 7 s apart
		recs = append(recs, store.Record{Seq: uint64(i + 1), Points: []uns.Point{{Series: "m/x", TS: ts, Value: v}}})
	}
	// Sums beyond float64 become +Inf, also when two calls add them up.
	huge := func(seq uint64) store.Record {
		return store.Record{Seq: seq, Points: []uns.Point{{Series: "m/huge", TS: t0, Value: uns.Float(math.MaxFloat64)}}}
	}
	recs = append(recs, huge(601))
	mustIngest(t, s, src, recs...)
	mustIngest(t, s, src, huge(602))
	type query struct {
		step int64
		agg  store.Agg
	}
	var queries []query
	for _, step := range []int64{int64(time.Minute), int64(time.Hour)} {
		for _, agg := range []store.Agg{store.Avg, store.Min, store.Max, store.Sum, store.Count, store.First, store.Last} {
			queries = append(queries, query{step, agg})
		}
	}
	answers := func(s *Store) [][]store.Bucket {
		var out [][]store.Bucket
		for _, q := range queries {
			b, err := s.Aggregate(t.Context(), org, "m/x", 0, 1<<62, q.step, q.agg)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	before := answers(s)
	ident := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	for _, q := range []string{`DROP TABLE ` + ident("rollups"), `DROP TABLE ` + ident("blocks"), `UPDATE ` + ident("schema_version") + ` SET version = 3`} {
		if _, err := s.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s = openSchema(t, schema, Options{})
	defer s.Close()
	var rows int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+ident("rollups")).Scan(&rows); err != nil || rows == 0 {
		t.Fatalf("%d rollup rows after the migration, %v", rows, err)
	}
	after := answers(s)
	for i, q := range queries {
		if !slices.Equal(after[i], before[i]) {
			t.Errorf("%s by %v after the migration:\n got %v\nwant %v", q.agg, time.Duration(q.step), after[i], before[i])
		}
	}
	if got, err := s.Aggregate(t.Context(), org, "m/huge", 0, 1<<62, int64(time.Minute), store.Sum); err != nil || len(got) != 1 || got[0].Value != uns.Float(math.Inf(1)) || got[0].Count != 2 {
		t.Errorf("sum of two MaxFloat64 by the minute after the migration = %v, %v; want +Inf of 2", got, err)
	}
	// Late points merge into the migrated rollups.
	mustIngest(t, s, src, store.Record{Seq: 603, Points: []uns.Point{{Series: "m/x", TS: t0, Value: uns.Float(-1000)}}})
	got, err := s.Aggregate(t.Context(), org, "m/x", 0, 1<<62, int64(time.Hour), store.Min)
	if err != nil || len(got) == 0 || got[0].Value != uns.Float(-1000) {
		t.Errorf("min by the hour after a late point = %v, %v; want -1000 first", got, err)
	}
}
