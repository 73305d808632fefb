package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/edge"
)

func TestEdgeDeviceAdd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "edge")
	var out, errOut bytes.Buffer
	if code := Main([]string{"edge", "device", "add", "press-1", "--prefix", "plant/hall1/press1", "--data", data}, &out, &errOut); code != 0 {
		t.Fatalf("device add: exit %d, stderr %s", code, errOut.String())
	}
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("device add printed no password:\n%s", out.String())
	}
	file := filepath.Join(data, edge.DevicesFile)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), m[1]) || !strings.Contains(string(b), "$argon2id$") {
		t.Errorf("devices file holds the password, or no hash:\n%s", b)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("devices file mode %v, want 0600", fi.Mode().Perm())
	}
	ds, err := edge.LoadDevices(file)
	if err != nil || len(ds) != 1 || ds[0].Name != "press-1" || ds[0].Prefix != "plant/hall1/press1" {
		t.Errorf("devices file reads as %+v, %v", ds, err)
	}
	for _, args := range [][]string{
		{"edge", "device", "add", "press-1", "--prefix", "plant/x", "--data", data},    // twice
		{"edge", "device", "add", "press-2", "--prefix", "plant//bad", "--data", data}, // bad prefix
		{"edge", "device", "add", "press-3", "--data", data},                           // no prefix
	} {
		errOut.Reset()
		if code := Main(args, io.Discard, &errOut); code == 0 {
			t.Errorf("molen %v: exit 0, want an error", args)
		}
	}
	if ds, _ := edge.LoadDevices(file); len(ds) != 1 {
		t.Errorf("refused additions changed the file: %d devices", len(ds))
	}
}
