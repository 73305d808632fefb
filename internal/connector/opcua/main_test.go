package opcua_test

import (
	"io"
	"log"
	"os"
	"testing"
)

// TestMain silences the standard logger: the gopcua server logs its start
// and node-set import there, many lines per server.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
