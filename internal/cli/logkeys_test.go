package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
)

// duplicateKeys returns the keys that one JSON object of line (at any
// depth) holds more than once, as paths.
func duplicateKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	var dups []string
	var object func(path string) error
	var value func(path string) error
	object = func(path string) error {
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := tok.(string)
			if seen[key] {
				dups = append(dups, path+key)
			}
			seen[key] = true
			if err := value(path + key + "."); err != nil {
				return err
			}
		}
		_, err := dec.Token() // }
		return err
	}
	value = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			return object(path)
		case json.Delim('['):
			for dec.More() {
				if err := value(path); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return err
		}
		return nil
	}
	if err := value(""); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more after the record: %v", err)
	}
	return dups, nil
}

// checkJSONLines fails t for a line of logs that is no JSON object or
// holds a key twice.
func checkJSONLines(t *testing.T, logs string) {
	t.Helper()
	for line := range strings.Lines(logs) {
		dups, err := duplicateKeys([]byte(line))
		if err != nil {
			t.Errorf("log line %q: %v", line, err)
		}
		if len(dups) > 0 {
			t.Errorf("log line %q has the keys %v more than once", line, dups)
		}
	}
}

func TestDuplicateKeysFinds(t *testing.T) {
	dups, err := duplicateKeys([]byte(`{"a":1,"g":{"b":1,"b":2},"a":[{"c":1,"c":2}]}`))
	if err != nil || strings.Join(dups, " ") != "g.b a a.c" {
		t.Errorf("duplicates %v, %v; want g.b a a.c", dups, err)
	}
}

// TestJSONLogsHaveUniqueKeys: what With attached and a record says again,
// in groups too, and slog's own keys given as attributes, come out once.
func TestJSONLogsHaveUniqueKeys(t *testing.T) {
	var buf bytes.Buffer
	g := &globals{logLevel: "info", logFormat: "json", stderr: &buf}
	log, err := g.logger()
	if err != nil {
		t.Fatal(err)
	}
	log = log.With("edge", "e1", "component", "uplink")
	log.Info("sent", "edge", "e2", "msg", "shadow", "level", 3)
	log.WithGroup("batch").With("seq", 1).With("seq", 2).Info("stored", "seq", 3, slog.Group("", "points", 10), "points", 11)
	log.With(slog.Group("req", "id", "a")).Info("answered", slog.Group("req", "id", "b", "code", 200))
	checkJSONLines(t, buf.String())

	var got []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "time")
		got = append(got, m)
	}
	want := []string{
		`{"attr_level":3,"attr_msg":"shadow","component":"uplink","edge":"e2","level":"INFO","msg":"sent"}`,
		`{"batch":{"points":11,"seq":3},"component":"uplink","edge":"e1","level":"INFO","msg":"stored"}`,
		`{"component":"uplink","edge":"e1","level":"INFO","msg":"answered","req":{"code":200,"id":"b"}}`,
	}
	for i, m := range got {
		b, _ := json.Marshal(m)
		if i >= len(want) || string(b) != want[i] {
			t.Errorf("record %d = %s, want %s", i, b, want[i])
		}
	}
}

// TestHubJSONLogsHaveUniqueKeys runs a hub with the JSON logs of `molen
// hub --log-format json` through a start, refused and failing requests
// and a stop: every record is a JSON object with each key once.
func TestHubJSONLogsHaveUniqueKeys(t *testing.T) {
	buf := &logtest.Buffer{}
	g := &globals{logLevel: "debug", logFormat: "json", stderr: buf}
	log, err := g.logger()
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.Start(t.Context(), hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/whoami", "/api/v1/nothing", "/metrics", "/healthz"} {
		req, _ := http.NewRequest("GET", h.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if !strings.Contains(logs, `"msg":"hub started"`) {
		t.Fatalf("no JSON logs of the hub:\n%s", logs)
	}
	checkJSONLines(t, logs)
}
