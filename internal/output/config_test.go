package output_test

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/output"
)

// TestParse: names default to the kind, and to the kind with its place
// when a kind appears twice; every error names its key, all at once.
func TestParse(t *testing.T) {
	got, err := output.Parse([]byte("outputs:\n  - influx: {url: http://a:8086, db: x}\n  - influx: {url: http://b:8086, bucket: y, max_bytes: 2097152}\n  - mqtt: {url: tcp://b:1883, name: plant-uns}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "influx-0,influx-1,plant-uns" {
		t.Errorf("names %v", names)
	}
	tests := []struct{ yaml, want string }{
		{"outputs:\n  - mqtt: {url: tcp://b:1883, topic_prefix: 'a/#'}\n", "outputs[0].mqtt.topic_prefix"},
		{"outputs:\n  - mqtt: {url: tcp://u:p@b:1883}\n", "outputs[0].mqtt.url: put credentials in username and password"},
		{"outputs:\n  - influx: {url: http://a, db: x, bucket: y}\n", "outputs[0].influx.db: set bucket"},
		{"outputs:\n  - influx: {url: http://a, db: x, max_bytes: 10}\n", "outputs[0].influx.max_bytes: must be at least"},
		{"outputs:\n  - remote_write: {url: ftp://a}\n", "outputs[0].remote_write.url: want http://"},
		{"outputs:\n  - remote_write: {url: http://a, labels: {path: x}}\n", "outputs[0].remote_write.labels.path"},
		{"outputs:\n  - opcua: {}\n", "outputs[0].opcua.security: \"\": only none is offered"},
		{"outputs:\n  - opcua: {security: none, listen: \"4840\"}\n", "outputs[0].opcua.listen: \"4840\": want host:port"},
		{"outputs:\n  - sparkplug: {url: tcp://b:1883, group: g}\n", "outputs[0].sparkplug.edge_node: required"},
		{"outputs:\n  - mqtt: {url: tcp://b:1883, name: x}\n  - influx: {url: http://a, db: d, name: x}\n", `outputs[1].influx.name: "x" is also the name of outputs[0]`},
		{"outputs:\n  - mqtt: {url: tcp://b:1883, colour: red}\n", "outputs[0].mqtt.colour"},
		{"outputs: {}\n", "outputs: want a list"},
	}
	for _, tt := range tests {
		_, err := output.Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}
