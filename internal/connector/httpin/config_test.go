package httpin_test

import (
	"bytes"
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/httpin"
)

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	spec, ok := connector.Lookup("http")
	if !ok {
		t.Fatal(`"http" is not registered`)
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
	if c := cfg.(*httpin.Config); c.Listen != ":8089" || c.Token == "" {
		t.Errorf("decoded %+v", c)
	}
}
