package edge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/edge"
)

// TestStartRefusesConfigThatCannotWork: settings with which the edge could
// never forward are a start-up error that says what to do, and nothing is
// written to the data directory.
func TestStartRefusesConfigThatCannotWork(t *testing.T) {
	pending := t.TempDir()
	if err := os.WriteFile(filepath.Join(pending, "credential.json"), []byte(`{"hub":"http://hub:8080","credential":"mlc_x","pending":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  edge.Config
		want string
	}{
		{"no hub at all", edge.Config{}, "no hub: this edge is not enrolled yet; start it with --hub URL and --enroll-token TOKEN"},
		{"hub without scheme", edge.Config{HubURL: "hub.example:8080", EnrollToken: "mle_x"}, `--hub "hub.example:8080": want an http:// or https:// URL`},
		{"hub without host", edge.Config{HubURL: "http://", EnrollToken: "mle_x"}, `--hub "http://" names no host`},
		{"hub with a query", edge.Config{HubURL: "http://hub:8080/?x=1", EnrollToken: "mle_x"}, "without query"},
		{"not enrolled, no token", edge.Config{HubURL: "http://hub:8080"}, "not enrolled at http://hub:8080 yet: start it once with --enroll-token"},
		{"interrupted enrollment, no token", edge.Config{HubURL: "http://hub:8080", DataDir: pending}, "enrollment at http://hub:8080 was interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.DataDir == "" {
				cfg.DataDir = filepath.Join(t.TempDir(), "edge")
			}
			cfg.MQTTListen, cfg.StatusListen = "127.0.0.1:0", "127.0.0.1:0"
			e, err := edge.Start(t.Context(), cfg)
			if err == nil {
				e.Close()
				t.Fatalf("Start succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: %v\nwant an error containing %q", err, tt.want)
			}
			if _, err := edge.Check(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check: %v, want the same error", err)
			}
			if tt.cfg.DataDir == "" {
				if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
					t.Errorf("the data directory exists after a refused start (%v)", err)
				}
			}
		})
	}
}

// TestCheck: Check reports every problem of the inputs and pipeline files
// at once, and the plan of good ones, without creating the data directory.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := edge.Config{
		DataDir: filepath.Join(dir, "data"), HubURL: "http://hub:8080", EnrollToken: "mle_x",
		InputsFile:   write("inputs.yaml", "inputs:\n  - modbus: {url: tcp://10.0.0.5:502, registers: [{path: f/a/l/m/temp, address: 0}]}\n"),
		PipelineFile: write("pipeline.yaml", "pipelines:\n  - name: alarms\n    match: \"f/#\"\n    output: drop\n    stages:\n      - alarm: {limits: [{high: 10}]}\n"),
		OutputsFile:  write("outputs.yaml", "outputs:\n  - mqtt: {url: tcp://broker:1883, topic_prefix: uns/, password: s3cret, username: u}\n  - influx: {url: http://influx:8086, bucket: b, token: t0k}\n"),
	}
	p, err := edge.Check(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Hub != "http://hub:8080" || p.EdgeID != "" || len(p.Inputs) != 1 || p.Inputs[0] != "inputs[0] modbus tcp://10.0.0.5:502" ||
		len(p.Pipelines) != 1 || p.Pipelines[0] != "alarms: 1 stage → drop" || len(p.Warnings) != 1 ||
		strings.Join(p.Outputs, "|") != "outputs[0] mqtt (mqtt) tcp://broker:1883|outputs[1] influx (influx) http://influx:8086" {
		t.Errorf("plan %+v", p)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("Check created the data directory (%v)", err)
	}

	cfg.InputsFile = write("bad-inputs.yaml", "inputs:\n  - modbus: {url: tcp://x:1, unit_id: 300, registers: [{path: a/b, address: 0}]}\n")
	cfg.PipelineFile = write("bad-pipeline.yaml", "pipelines:\n  - match: \"f/#\"\n    stages:\n      - window: {size: 0s}\n")
	cfg.OutputsFile = write("bad-outputs.yaml", "outputs:\n  - influx: {bucket: b}\n  - mqtt: {url: tcp://b:1883, qos: 3, name: influx}\n  - kafka: {}\n")
	_, err = edge.Check(cfg)
	for _, want := range []string{"inputs[0].modbus.unit_id", "pipelines[0].stages[0].window.size: must be > 0",
		"outputs[0].influx.url: required", "outputs[1].mqtt.qos: must be 0, 1 or 2", `outputs[2]: unknown output kind "kafka"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check of bad files: %v, want an error naming %s", err, want)
		}
	}
}
