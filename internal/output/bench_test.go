package output_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// BenchmarkOutputs measures points per second through each output, from the
// output's buffer to a peer on this machine: feed 1000-point records, wait
// until the peer acknowledged them all. The HTTP receivers read and discard
// the body; the MQTT broker (mqtt, sparkplug) is the one at $MOLEN_TEST_MQTT
// (QoS 1); the OPC UA server (opcua) counts a point once its node holds it,
// with no client connected.
func BenchmarkOutputs(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	kinds := map[string]string{
		"influx":       fmt.Sprintf("influx: {url: %s, db: plant}", srv.URL),
		"remote_write": fmt.Sprintf("remote_write: {url: %s}", srv.URL),
		"opcua":        "opcua: {listen: 127.0.0.1:0, security: none}",
	}
	if addr := mqttAddr(); addr != "" {
		kinds["mqtt"] = fmt.Sprintf("mqtt: {url: tcp://%s, topic_prefix: molen-bench/%d/, client_id: molen-bench-%d}", addr, time.Now().UnixNano(), time.Now().UnixNano())
		kinds["sparkplug"] = fmt.Sprintf("sparkplug: {url: tcp://%s, group: molen-bench-%d, edge_node: bench}", addr, time.Now().UnixNano())
	}
	for _, kind := range []string{"mqtt", "sparkplug", "influx", "remote_write", "opcua"} {
		spec, ok := kinds[kind]
		if !ok {
			continue
		}
		b.Run(kind, func(b *testing.B) {
			s := startSetB(b, "outputs:\n  - "+spec+"\n")
			pts := make([]uns.Point, 1000)
			ts := time.Now().UnixNano()
			for i := range pts {
				pts[i] = uns.Point{Series: fmt.Sprintf("plant/hall1/line%d/speed", i%100), TS: ts + int64(i)*1e6, Value: uns.Float(float64(i))}
			}
			b.ResetTimer()
			for range b.N {
				feedB(b, s, pts)
			}
			for status(s, kind).Sent < int64(b.N*len(pts)) {
				time.Sleep(time.Millisecond) // a benchmark's wait for its own end, not a test's synchronisation
			}
			b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "points/s")
		})
	}
}
