package files_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/files"
	"github.com/molen-io/molen/internal/uns"
)

// folder is the conformance peer: a watched folder that a tester writes
// files into. Stop takes the folder away (a network share that is gone),
// Start brings it back.
type folder struct {
	dir  string
	n    int
	base time.Time
}

func (f *folder) Stop() error  { return os.Rename(f.dir, f.dir+".off") }
func (f *folder) Start() error { return os.Rename(f.dir+".off", f.dir) }

// drop writes a file as a careful tester does: under a .part name, then
// renamed into place.
func (f *folder) drop(t *testing.T, name, content string) {
	t.Helper()
	tmp := filepath.Join(f.dir, name+".part")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.dir, name)); err != nil {
		t.Fatal(err)
	}
}

// produce drops a wide CSV file of round's values: two rows, one column
// per kind of value.
func (f *folder) produce(t *testing.T, round int) map[string]uns.Value {
	f.n++
	var b strings.Builder
	b.WriteString("time,temp,count,running,state\n")
	want := map[string]uns.Value{}
	for row := range 2 {
		ts := f.base.Add(time.Duration(round*10+row) * time.Second)
		temp, count, running, state := float64(round)+0.5+float64(row), int64(round*100+row), (round+row)%2 == 1, fmt.Sprintf("s%d-%d", round, row)
		fmt.Fprintf(&b, "%s,%g,%d,%t,%s\n", ts.Format(time.RFC3339), temp, count, running, state)
		want["test-site/files/tester/temp"] = uns.Float(temp)
		want["test-site/files/tester/count"] = uns.Int(count)
		want["test-site/files/tester/running"] = uns.Bool(running)
		want["test-site/files/tester/state"] = uns.String(state)
	}
	f.drop(t, fmt.Sprintf("round-%03d.csv", f.n), b.String())
	return want
}

func testConfig(dir string) *files.Config {
	c := files.NewConfig()
	c.Dir = dir
	c.Pattern = "*.csv"
	c.Series = "test-site/files/tester"
	c.TimeColumn = "time"
	c.Settle = 0
	c.PollInterval = 5 * time.Millisecond
	c.BackoffMin, c.BackoffMax = time.Millisecond, 10*time.Millisecond
	return c
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			dir := filepath.Join(t.TempDir(), "drop")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return &folder{dir: dir, base: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
		},
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			f := p.(*folder)
			c := testConfig(f.dir)
			if slow {
				c.PollInterval, c.BackoffMin, c.BackoffMax = time.Hour, time.Hour, 2*time.Hour
				if _, err := os.Stat(f.dir); err == nil {
					// A slow input lists the folder once: give it a file
					// to read then.
					f.produce(t, 0)
				}
			}
			in, err := files.New(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			return in
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return p.(*folder).produce(t, round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			f := p.(*folder)
			f.n++
			f.drop(t, fmt.Sprintf("bad-%03d.csv", f.n), "time,temp\n2026-03-01T08:00:00Z,1,2,3\n")
			return files.ReasonBadFile
		},
		Redelivery: connectortest.Retry,
	})
}
