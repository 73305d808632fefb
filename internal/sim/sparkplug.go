package sim

import (
	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/connector/sparkplug/sparkplugtest"
	"github.com/molen-io/molen/internal/uns"
)

// cellMetrics returns the robot cell's tags as Sparkplug B metrics named
// after the tags: state a String, counters and seq Int64, the rest Double.
// Sparkplug has no per-value quality here, so a sensor glitch is sent as a
// plain (noisier) value.
func cellMetrics(m *machine) []sparkplugtest.Metric {
	tvs := m.tagValues(nil)
	out := make([]sparkplugtest.Metric, len(tvs))
	for i, tv := range tvs {
		typ := sparkplug.Double
		switch tv.value.Kind() {
		case uns.KindString:
			typ = sparkplug.String
		case uns.KindInt:
			typ = sparkplug.Int64
		}
		out[i] = sparkplugtest.Metric{Name: tv.tag, Type: typ, Value: tv.value}
	}
	return out
}
