package files_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/files"
)

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	c := connectortest.DecodeExample(t, "files", "testdata/example.yaml").(*files.Config)
	if c.Delimiter != ";" || c.TimeColumn != "timestamp" || c.Settle.Seconds() != 5 {
		t.Errorf("decoded %+v", c)
	}
	dec := yaml.NewDecoder(strings.NewReader("dir: x\nseries: a/b\nfolder: y\n"))
	dec.KnownFields(true)
	if err := dec.Decode(files.NewConfig()); err == nil {
		t.Error("unknown field folder: no error")
	}
}
