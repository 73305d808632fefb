package files_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/files"
	"github.com/molen-io/molen/internal/uns"
)

// running is one Run of an input.
type running struct {
	*connectortest.Running
	in   *files.Input
	sink *connectortest.Sink
}

func runInput(t *testing.T, c *files.Config, setup func(in *files.Input)) *running {
	t.Helper()
	in, err := files.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(in)
	}
	sink := connectortest.NewSink()
	return &running{Running: connectortest.Start(t, in, sink), in: in, sink: sink}
}

var waitFor = connectortest.WaitFor

// waitScans waits until the input listed the folder n more times.
func (r *running) waitScans(t *testing.T, n int64) {
	t.Helper()
	from := r.in.Scans()
	waitFor(t, "scans", func() bool { return r.in.Scans() >= from+n })
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// fakeClock is the settle clock of a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestHalfWrittenFileWaits: a CSV file still being written is not read
// until its size and modification time stayed the same for the settle
// time; a .part file is never read.
func TestHalfWrittenFileWaits(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.Settle = time.Minute
	clock := &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	r := runInput(t, c, func(in *files.Input) { in.SetClock(clock.now) })

	path := filepath.Join(dir, "run.csv")
	write(t, path, "time,temp\n2026-03-01T08:00:00Z,1\n2026-03-01T08:00:01Z,2") // no newline yet: half a row
	write(t, filepath.Join(dir, "other.csv.part"), "time,temp\n2026-03-01T08:00:00Z,9\n")
	r.waitScans(t, 2)
	clock.add(59 * time.Second)
	r.waitScans(t, 2)
	if n := r.sink.Len(); n != 0 {
		t.Fatalf("%d points read from a file before it settled", n)
	}
	// The tester finishes the file: it changed, so its settle time starts
	// again.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("5\n2026-03-01T08:00:02Z,3\n")
	f.Close()
	r.waitScans(t, 2)
	clock.add(30 * time.Second)
	r.waitScans(t, 2)
	if n := r.sink.Len(); n != 0 {
		t.Fatalf("%d points read 30s after the file changed, settle 1m", n)
	}
	clock.add(31 * time.Second)
	waitFor(t, "the file's points", func() bool { return r.sink.Len() == 3 })
	got := []float64{}
	for _, p := range r.sink.Points() {
		f, _ := p.Value.AsFloat()
		got = append(got, f)
	}
	if want := []float64{1, 25, 3}; !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
	waitFor(t, "the file in done/", func() bool { return exists(filepath.Join(dir, "done", "run.csv")) })
	r.waitScans(t, 2)
	if n := r.sink.Len(); n != 3 {
		t.Errorf("%d points after the file was moved; want 3 (the .part file is never read)", n)
	}
	if !exists(filepath.Join(dir, "other.csv.part")) {
		t.Error("the .part file was moved")
	}
}

// TestRestartBetweenWriteAndMove: the edge stops after a file's points
// are durable and before the file is moved. Started again, the input moves
// the file without writing its points a second time.
func TestRestartBetweenWriteAndMove(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	write(t, filepath.Join(dir, "a.csv"), "time,temp\n2026-03-01T08:00:00Z,1\n2026-03-01T08:00:01Z,2\n")
	crashed, release := make(chan struct{}), make(chan struct{})
	r := runInput(t, c, func(in *files.Input) {
		in.SetHook(func(stage, name string) error {
			if stage == "journaled" {
				close(crashed)
				<-release
				return errors.New("crash")
			}
			return nil
		})
	})
	<-crashed
	r.Cancel() // the edge stops while the file is between its journal entry and its move
	close(release)
	r.Stop()
	if n := r.sink.Len(); n != 2 {
		t.Fatalf("first run wrote %d points, want 2", n)
	}
	if !exists(filepath.Join(dir, "a.csv")) {
		t.Fatal("the file was moved before the crash")
	}
	write(t, filepath.Join(dir, "b.csv"), "time,temp\n2026-03-01T08:00:02Z,3\n")

	r2 := runInput(t, c, nil)
	waitFor(t, "both files in done/", func() bool {
		return exists(filepath.Join(dir, "done", "a.csv")) && exists(filepath.Join(dir, "done", "b.csv"))
	})
	pts := r2.sink.Points()
	if len(pts) != 1 || pts[0].Value != uns.Int(3) {
		t.Errorf("second run wrote %v; want only b.csv's point", pts)
	}
	// The same content dropped again later is new data: read again.
	write(t, filepath.Join(dir, "a.csv.part"), "time,temp\n2026-03-01T08:00:00Z,1\n2026-03-01T08:00:01Z,2\n")
	mt := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "a.csv.part"), mt, mt)
	if err := os.Rename(filepath.Join(dir, "a.csv.part"), filepath.Join(dir, "a.csv")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the file dropped again", func() bool { return r2.sink.Len() == 3 })
}

// TestBadFileDoesNotBlock: a file that does not parse is moved to
// failed/ with a note, counted, and the files after it are read.
func TestBadFileDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	old := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	write(t, filepath.Join(dir, "1-bad.csv"), "time,temp\n2026-03-01T08:00:00Z,1\nyesterday,2\n")
	os.Chtimes(filepath.Join(dir, "1-bad.csv"), old, old) // the oldest: read first
	write(t, filepath.Join(dir, "2-good.csv"), "time,temp\n2026-03-01T08:00:00Z,7\n")
	r := runInput(t, c, nil)
	waitFor(t, "the good file", func() bool { return exists(filepath.Join(dir, "done", "2-good.csv")) })
	if n := r.sink.Len(); n != 1 {
		t.Errorf("%d points, want 1 (nothing of the bad file)", n)
	}
	note, err := os.ReadFile(filepath.Join(dir, "failed", "1-bad.csv.error"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(note), `row 2: column "time"`) {
		t.Errorf("note %q does not say which row and column", note)
	}
	if !exists(filepath.Join(dir, "failed", "1-bad.csv")) {
		t.Error("bad file not in failed/")
	}
	st := r.in.Status()
	if st.Rejected[files.ReasonBadFile] != 1 || !strings.Contains(st.LastError, "1-bad.csv") {
		t.Errorf("status %+v: want rejected[bad_file]=1 and the file in last_error", st)
	}
}

// TestTooLarge: a file above max_file_size is not read: it goes to
// failed/ with a note, counted as too_large.
func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.MaxFileSize = 20
	write(t, filepath.Join(dir, "big.csv"), "time,temp\n2026-03-01T08:00:00Z,1\n")
	r := runInput(t, c, nil)
	waitFor(t, "the note", func() bool { return exists(filepath.Join(dir, "failed", "big.csv.error")) })
	if st := r.in.Status(); st.Rejected[files.ReasonTooLarge] != 1 || r.sink.Len() != 0 {
		t.Errorf("status %+v, %d points; want rejected[too_large]=1 and none", st, r.sink.Len())
	}
}

// TestFormats reads the same data from each format and mapping.
func TestFormats(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name, file, content string
		conf                func(c *files.Config)
		want                []uns.Point
	}{
		{name: "csv wide", file: "x.csv", content: "time,Temp (°C),ok,note\n2026-03-01T08:00:00Z,21.5,true,\n",
			want: []uns.Point{{Series: "s/a/Temp___C_", TS: t0.UnixNano(), Value: uns.Float(21.5)}, {Series: "s/a/ok", TS: t0.UnixNano(), Value: uns.Bool(true)}}},
		{name: "csv long unix ms", file: "x.csv", content: "ts;tag;v\n1772352000000;s/b/rpm;1200\n",
			conf: func(c *files.Config) {
				c.Series, c.SeriesColumn, c.ValueColumn, c.TimeColumn, c.TimeFormat = "", "tag", "v", "ts", files.TimeUnixMS
			},
			want: nil /* without delimiter ";": no column ts, a bad file */},
		{name: "csv long semicolons", file: "x.csv", content: "ts;tag;v\n1772352000000;s/b/rpm;1200\n",
			conf: func(c *files.Config) {
				c.Series, c.SeriesColumn, c.ValueColumn, c.TimeColumn, c.TimeFormat, c.Delimiter = "", "tag", "v", "ts", files.TimeUnixMS, ";"
			},
			want: []uns.Point{{Series: "s/b/rpm", TS: t0.UnixNano(), Value: uns.Int(1200)}}},
		{name: "json array unix s", file: "x.json", content: `[{"t": 1772352000, "rpm": 1200, "mode": "auto"}]`,
			conf: func(c *files.Config) { c.TimeColumn, c.TimeFormat = "t", files.TimeUnixS },
			want: []uns.Point{{Series: "s/a/mode", TS: t0.UnixNano(), Value: uns.String("auto")}, {Series: "s/a/rpm", TS: t0.UnixNano(), Value: uns.Int(1200)}}},
		{name: "jsonl long", file: "x.jsonl", content: "{\"time\":\"2026-03-01T08:00:00Z\",\"series\":\"s/b/rpm\",\"value\":1.5}\n\n{\"time\":\"2026-03-01T08:00:00Z\",\"series\":\"s/b/on\",\"value\":false}\n",
			conf: func(c *files.Config) { c.Series, c.SeriesColumn = "", "series" },
			want: []uns.Point{{Series: "s/b/rpm", TS: t0.UnixNano(), Value: uns.Float(1.5)}, {Series: "s/b/on", TS: t0.UnixNano(), Value: uns.Bool(false)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := testConfig(dir)
			c.Pattern, c.Series = "*", "s/a"
			if tt.conf != nil {
				tt.conf(c)
			}
			write(t, filepath.Join(dir, tt.file), tt.content)
			r := runInput(t, c, nil)
			waitFor(t, "the file moved", func() bool {
				return exists(filepath.Join(dir, "done", tt.file)) || exists(filepath.Join(dir, "failed", tt.file))
			})
			if note, err := os.ReadFile(filepath.Join(dir, "failed", tt.file+".error")); err == nil {
				t.Logf("failed: %s", note)
			}
			if got := r.sink.Points(); !slices.Equal(got, tt.want) {
				t.Errorf("points\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestLargeFileInBatches: a file of more points than batch_points is
// written in bounded batches, every point once.
func TestLargeFileInBatches(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.BatchPoints = 100
	var b strings.Builder
	b.WriteString("time,a,b,c\n")
	const rows = 1000
	for i := range rows {
		fmt.Fprintf(&b, "%d,%d,%d,%d\n", 1772352000+i, i, i, i)
	}
	c.TimeFormat = files.TimeUnixS
	write(t, filepath.Join(dir, "big.csv"), b.String())
	sink := &sizeSink{Sink: connectortest.NewSink()}
	in, err := files.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := connectortest.Start(t, in, sink)
	waitFor(t, "the file moved", func() bool { return exists(filepath.Join(dir, "done", "big.csv")) })
	r.Stop()
	if n := sink.Len(); n != 3*rows {
		t.Errorf("%d points, want %d", n, 3*rows)
	}
	if sink.max > c.BatchPoints {
		t.Errorf("a write of %d points, batch_points %d", sink.max, c.BatchPoints)
	}
	if st := in.Status(); st.Points != 3*rows {
		t.Errorf("status points %d", st.Points)
	}
}

type sizeSink struct {
	*connectortest.Sink
	mu  sync.Mutex
	max int
}

func (s *sizeSink) Write(ctx context.Context, pts []uns.Point) error {
	s.mu.Lock()
	s.max = max(s.max, len(pts))
	s.mu.Unlock()
	return s.Sink.Write(ctx, pts)
}

// TestMark: done: mark renames the file in place; the marked file is not
// read again.
func TestMark(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(dir)
	c.Pattern, c.Done = "*", files.DoneMark
	write(t, filepath.Join(dir, "a.csv"), "time,temp\n2026-03-01T08:00:00Z,1\n")
	r := runInput(t, c, nil)
	waitFor(t, "the file marked", func() bool { return exists(filepath.Join(dir, "a.csv.done")) })
	r.waitScans(t, 2)
	if n := r.sink.Len(); n != 1 {
		t.Errorf("%d points, want 1", n)
	}
}

// TestJournalBounded: the journal is compacted to its newest entries once
// it holds twice as many as it keeps, and every file is still read once.
func TestJournalBounded(t *testing.T) {
	files.SetJournalKeep(t, 2)
	dir := t.TempDir()
	r := runInput(t, testConfig(dir), nil)
	for i := range 7 {
		name := fmt.Sprintf("f%d.csv", i)
		write(t, filepath.Join(dir, name+".part"), fmt.Sprintf("time,v\n2026-03-01T08:00:0%dZ,%d\n", i, i))
		if err := os.Rename(filepath.Join(dir, name+".part"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+" in done/", func() bool { return exists(filepath.Join(dir, "done", name)) })
	}
	if n := r.sink.Len(); n != 7 {
		t.Errorf("%d points, want 7", n)
	}
	data, err := os.ReadFile(filepath.Join(dir, files.JournalName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 4 || !strings.HasSuffix(lines[len(lines)-1], " f6.csv") {
		t.Errorf("journal of %d entries, want at most 4 ending with f6.csv:\n%s", len(lines), data)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		conf func(c *files.Config)
		want string
	}{
		{func(c *files.Config) { c.Dir = "" }, "dir: required"},
		{func(c *files.Config) { c.Series = "" }, "series: required"},
		{func(c *files.Config) { c.SeriesColumn = "tag" }, "series: set series or series_column, not both"},
		{func(c *files.Config) { c.Format = "xml" }, "format: \"xml\""},
		{func(c *files.Config) { c.Done = "delete" }, "done: \"delete\""},
		{func(c *files.Config) { c.Pattern = "[" }, "pattern: \"[\""},
		{func(c *files.Config) { c.TimeFormat = "excel" }, "time_format: \"excel\""},
		{func(c *files.Config) { c.Settle = -1 }, "settle: must not be negative"},
	}
	for _, tt := range tests {
		c := testConfig("/tmp/x")
		tt.conf(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	var _ connector.Config = files.NewConfig()
}
