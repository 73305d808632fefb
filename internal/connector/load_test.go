package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"

	_ "github.com/molen-io/molen/internal/connector/files" // the kinds under test
	_ "github.com/molen-io/molen/internal/connector/httpin"
	_ "github.com/molen-io/molen/internal/connector/modbus"
	_ "github.com/molen-io/molen/internal/connector/mqtt"
	_ "github.com/molen-io/molen/internal/connector/mtconnect"
	_ "github.com/molen-io/molen/internal/connector/opcua"
	_ "github.com/molen-io/molen/internal/connector/s7"
	_ "github.com/molen-io/molen/internal/connector/sparkplug"
	_ "github.com/molen-io/molen/internal/connector/vda5050"
)

// lines is an io.Writer that hands every write (one log record of a slog
// handler) to a channel, so a test waits for a record instead of polling.
type lines chan []byte

func (l lines) Write(p []byte) (int, error) {
	select {
	case l <- bytes.Clone(p):
	default: // the test has what it needs
	}
	return len(p), nil
}

// closedPort returns an address of 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// topKeys counts the keys of a JSON object, at its top level only.
func topKeys(t *testing.T, line []byte) map[string]int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line %s: not a JSON object (%v)", line, err)
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		keys[tok.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
	}
	return keys
}

// TestLogKeysOnce: an input built from an inputs file logs with input (its
// place in the file) and kind (its protocol), each once, whatever the kind;
// and one that cannot connect says so at the default level.
func TestLogKeysOnce(t *testing.T) {
	addr := closedPort(t)
	configs := map[string]string{
		"modbus":    fmt.Sprintf("{url: tcp://%s, registers: [{path: a/b, address: 0}]}", addr),
		"opcua":     fmt.Sprintf("{endpoint: opc.tcp://%s, security_mode: None, nodes: [{id: ns=1;s=x, path: a/b}]}", addr),
		"mqtt":      fmt.Sprintf("{url: tcp://%s, subscriptions: [{topic: a/#}]}", addr),
		"sparkplug": fmt.Sprintf("{url: tcp://%s, groups: [{group: g}]}", addr),
		"vda5050":   fmt.Sprintf("{url: tcp://%s, site: s, area: a}", addr),
		"mtconnect": fmt.Sprintf("{url: http://%s, items: [{id: x, path: a/b}]}", addr),
		"s7":        fmt.Sprintf("{address: %s, items: [{path: a/b, db: 1, byte: 0, type: int}]}", addr),
		"files":     fmt.Sprintf("{dir: %s, series: a/b}", filepath.Join(t.TempDir(), "missing")),
		"http":      "{listen: 127.0.0.1:0}",
	}
	for _, kind := range connector.Kinds() {
		t.Run(kind, func(t *testing.T) {
			cfg, ok := configs[kind]
			if !ok {
				t.Fatalf("no test config for kind %q", kind)
			}
			ins, err := connector.ParseInputs(fmt.Appendf(nil, "inputs:\n  - %s: %s\n", kind, cfg))
			if err != nil {
				t.Fatal(err)
			}
			out := make(lines, 1)
			// At the default level: an input that cannot connect says so.
			log := slog.New(slog.NewJSONHandler(out, nil))
			in, err := ins[0].Build(log)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx, connectortest.NewSink()) }()
			defer func() { cancel(); <-done }()
			var line []byte
			select {
			case line = <-out:
			case <-time.After(10 * time.Second):
				t.Fatal("the input logged nothing at level info or above within 10s of failing to connect")
			}
			for k, n := range topKeys(t, line) {
				if n > 1 {
					t.Errorf("key %q %d times in %s", k, n, line)
				}
			}
			var rec struct{ Input, Kind string }
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Input != "inputs[0]" || rec.Kind != kind {
				t.Errorf("input %q, kind %q in %s; want inputs[0], %s", rec.Input, rec.Kind, line, kind)
			}
		})
	}
}
