package httpin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/connector/httpin"
)

// BenchmarkPostBatch measures batches of 100 lines posted one after
// another over one kept-alive connection to an input whose sink keeps
// them in memory (connectortest.Sink): the input's own cost per point,
// HTTP included, without the edge's log.
func BenchmarkPostBatch(b *testing.B) {
	c := httpin.NewConfig()
	c.Listen = "127.0.0.1:0"
	_, _, addr := startB(b, c)
	var sb strings.Builder
	const lines = 100
	for i := range lines {
		fmt.Fprintf(&sb, "plant/line-1/press/tag%d {\"value\": %d.5, \"ts\": 1772352000000}\n", i, i)
	}
	body := sb.String()
	url := "http://" + addr + "/points"
	client := &http.Client{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "points/s")
}
