package httpin_test

import (
	"testing"

	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/httpin"
)

// TestDocExample decodes the example of docs/connectors.md the way the edge
// loader does (defaults first, unknown fields are errors) and validates it.
func TestDocExample(t *testing.T) {
	c := connectortest.DecodeExample(t, "http", "testdata/example.yaml").(*httpin.Config)
	if c.Listen != ":8089" || c.Token == "" {
		t.Errorf("decoded %+v", c)
	}
}
