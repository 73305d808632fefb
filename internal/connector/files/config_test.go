package files_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/files"
)

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	spec, ok := connector.Lookup("files")
	if !ok {
		t.Fatal(`"files" is not registered`)
	}
	raw, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := spec.New()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if c := cfg.(*files.Config); c.Delimiter != ";" || c.TimeColumn != "timestamp" || c.Settle.Seconds() != 5 {
		t.Errorf("decoded %+v", c)
	}
	dec = yaml.NewDecoder(strings.NewReader("dir: x\nseries: a/b\nfolder: y\n"))
	dec.KnownFields(true)
	if err := dec.Decode(spec.New()); err == nil {
		t.Error("unknown field folder: no error")
	}
}
