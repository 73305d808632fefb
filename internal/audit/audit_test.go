package audit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

var now = time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.UTC)

func newLog(t *testing.T, db *meta.DB) *audit.Log {
	t.Helper()
	l, err := audit.New(t.Context(), db, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fill(t *testing.T, l *audit.Log, org string, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Record(t.Context(), audit.Entry{Org: org, Actor: "usr_1", Action: "token.created", Target: fmt.Sprintf("tok_%d", i),
			Detail: map[string]string{"name": "t", "scopes": "read"}, Addr: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, l *audit.Log, org string) audit.Report {
	t.Helper()
	r, err := l.Verify(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestChain: entries chain per organisation; List filters and pages; an
// untouched log verifies.
func TestChain(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		l := newLog(t, db)
		fill(t, l, "acme", 5)
		fill(t, l, "beta", 2)
		got, err := l.List(t.Context(), "acme", audit.Query{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Seq != 5 || got[2].Seq != 3 || !got[0].At.Equal(now) || got[0].Detail["scopes"] != "read" {
			t.Fatalf("List = %+v", got)
		}
		if got[0].Hash != got[0].Sum(got[1].Hash) {
			t.Error("an entry's hash does not cover the one before")
		}
		page, _ := l.List(t.Context(), "acme", audit.Query{Before: 3, Action: "token."})
		if len(page) != 2 || page[0].Seq != 2 {
			t.Errorf("page before 3 = %+v", page)
		}
		if none, _ := l.List(t.Context(), "acme", audit.Query{Action: "token.revoked"}); len(none) != 0 {
			t.Errorf("by action: %+v", none)
		}
		for _, org := range []string{"acme", "beta"} {
			if r := verify(t, l, org); !r.OK || r.Head == "" {
				t.Errorf("%s: %+v", org, r)
			}
		}
		reps, err := l.VerifyAll(t.Context())
		if err != nil || len(reps) != 2 || reps[0].Entries != 5 || reps[1].Entries != 2 {
			t.Errorf("VerifyAll = %+v, %v", reps, err)
		}
	})
}

// TestTamper: a changed, removed, inserted or cut-off entry is found.
func TestTamper(t *testing.T) {
	for _, tt := range []struct {
		name, sql, want string
	}{
		{"changed", `UPDATE audit SET actor = 'usr_2' WHERE org = 'acme' AND seq = 3`, "entry 3"},
		{"changed detail", `UPDATE audit SET detail = '{"name":"t","scopes":"admin"}' WHERE org = 'acme' AND seq = 2`, "entry 2"},
		{"removed", `DELETE FROM audit WHERE org = 'acme' AND seq = 3`, "entries 3 to 3 are missing"},
		{"renumbered", `DELETE FROM audit WHERE org = 'acme' AND seq = 3; UPDATE audit SET seq = seq - 1 WHERE org = 'acme' AND seq > 3`, "entry 3"},
		{"last removed", `DELETE FROM audit WHERE org = 'acme' AND seq = 5`, "entries 5 to 5 were removed"},
		{"moved to another log", `UPDATE audit SET org = 'beta', seq = 3 WHERE org = 'acme' AND seq = 5`, "entries 5 to 5 were removed"},
		{"head rewritten", `UPDATE audit_heads SET hash = 'x' WHERE org = 'acme'`, "head's hash"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			metatest.Each(t, func(t *testing.T, db *meta.DB) {
				l := newLog(t, db)
				fill(t, l, "acme", 5)
				for _, q := range strings.Split(tt.sql, ";") {
					if _, err := db.ExecContext(t.Context(), q); err != nil {
						t.Fatal(err)
					}
				}
				r := verify(t, l, "acme")
				if r.OK || !strings.Contains(r.Problem, tt.want) {
					t.Errorf("Verify = %+v, want a problem with %q", r, tt.want)
				}
			})
		})
	}
}

// TestConcurrentAppends: hubs appending to one log at once on one
// PostgreSQL schema leave one unbroken chain.
func TestConcurrentAppends(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	var logs []*audit.Log
	for range 3 {
		logs = append(logs, newLog(t, metatest.Postgres(t, dsn, schema)))
	}
	var wg sync.WaitGroup
	for _, l := range logs {
		wg.Go(func() { fill(t, l, "acme", 20) })
	}
	wg.Wait()
	if r := verify(t, logs[0], "acme"); !r.OK || r.Entries != 60 {
		t.Errorf("Verify = %+v, want 60 entries, ok", r)
	}
}

// TestRecordRefusesBadText: what the databases cannot hold is refused
// alike, before it reaches the chain.
func TestRecordRefusesBadText(t *testing.T) {
	l := newLog(t, metatest.SQLite(t))
	if _, err := l.Record(t.Context(), audit.Entry{Org: "acme", Action: "x", Target: "a\x00b"}); err == nil {
		t.Error("a NUL byte was recorded")
	}
	if _, err := l.Record(t.Context(), audit.Entry{Org: "acme"}); err == nil {
		t.Error("an entry without action was recorded")
	}
	if r := verify(t, l, "acme"); !r.OK || r.Entries != 0 {
		t.Errorf("Verify = %+v", r)
	}
}
