//go:build edgeonly && !otel

package tracing

import (
	"errors"
	"testing"
)

// TestNoExporterInEdgeOnly: the edge-only build refuses an endpoint, saying
// why, and does nothing without one.
func TestNoExporterInEdgeOnly(t *testing.T) {
	if Available {
		t.Fatal("the edge-only build says it has an exporter")
	}
	if _, err := Setup(t.Context(), "http://127.0.0.1:4318", "molen-edge", "test"); !errors.Is(err, ErrNotInBuild) {
		t.Errorf("an endpoint: %v, want ErrNotInBuild", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	stop, err := Setup(t.Context(), "", "molen-edge", "test")
	if err != nil || !Enabled("") {
		t.Fatalf("the variable alone: %v (enabled %v), want no traces and no error", err, Enabled(""))
	}
	if err := stop(t.Context()); err != nil {
		t.Error(err)
	}
}
