package mtconnect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// BenchmarkSample parses a sample answer of 1,000 observations of 100
// mapped data items (samples) and turns it into points: what the input
// does per answer once it has the bytes. One op is one answer.
func BenchmarkSample(b *testing.B) {
	cfg := NewConfig()
	cfg.URL = "http://agent:5000"
	var doc strings.Builder
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8"?><MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:1.3">` +
		`<Header creationTime="2026-01-01T00:00:00Z" sender="a" instanceId="1" version="1.3" bufferSize="131072" nextSequence="1001" firstSequence="1" lastSequence="1000"/>` +
		`<Streams><DeviceStream name="m" uuid="m"><ComponentStream component="Device" name="m" componentId="m"><Samples>`)
	for i := range 100 {
		cfg.Items = append(cfg.Items, Item{ID: fmt.Sprintf("d%d", i), Path: fmt.Sprintf("s/a/m/t%d", i)})
	}
	for seq := 1; seq <= 1000; seq++ {
		fmt.Fprintf(&doc, `<Temperature dataItemId="d%d" timestamp="2026-01-01T00:00:%02d.%06dZ" sequence="%d">%d.25</Temperature>`,
			seq%100, seq/100, seq, seq, seq)
	}
	doc.WriteString(`</Samples></ComponentStream></DeviceStream></Streams></MTConnectStreams>`)
	body := []byte(doc.String())
	in, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var pts []uns.Point
	for b.Loop() {
		_, obs, err := parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if pts, _ = in.convert(obs, false); len(pts) != 1000 {
			b.Fatal(len(pts))
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "points/s")
}
