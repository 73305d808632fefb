//go:build !edgeonly

package cli

import (
	"bytes"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/hub"
)

// TestAuditVerify: molen audit verify passes an untouched log and finds a
// changed entry, with exit status 1.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	h, err := hub.Start(t.Context(), hub.Config{DataDir: dir, Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.CreateEdge(t.Context(), "line"); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	run := func() (int, string) {
		var out bytes.Buffer
		code := Main([]string{"audit", "verify", "--data", dir}, &out, &out)
		return code, out.String()
	}
	if code, out := run(); code != 0 || !strings.Contains(out, "ok      default") {
		t.Fatalf("verify of an untouched log: %d\n%s", code, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, hub.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET actor = 'someone else' WHERE org = 'default' AND seq = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, out := run(); code != 1 || !strings.Contains(out, "BROKEN  default") || !strings.Contains(out, "entry 1") {
		t.Errorf("verify of a changed log: %d\n%s", code, out)
	}
}
