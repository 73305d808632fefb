//go:build edgeonly && !otel

package tracing

import (
	"context"
	"errors"
	"os"

	"go.opentelemetry.io/otel/attribute"
)

// Available is false: the edge-only build leaves out the OpenTelemetry SDK
// and its OTLP exporter (3.6 MB of binary, docs/observability.md); build
// with -tags edgeonly,otel to have them.
const Available = false

// ErrNotInBuild is Setup's answer when traces are asked of a build
// without the exporter.
var ErrNotInBuild = errors.New("this build has no OTLP trace exporter (the edge-only build leaves it out; build with -tags edgeonly,otel, or use the full binary)")

// Enabled reports whether traces are asked for: an endpoint given, or
// the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set.
func Enabled(endpoint string) bool {
	return endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup refuses an endpoint with ErrNotInBuild; without one it does
// nothing (the OTEL_EXPORTER_OTLP_* variables may be meant for other
// programs: the caller says they are ignored).
func Setup(_ context.Context, endpoint, _, _ string, _ ...attribute.KeyValue) (shutdown func(context.Context) error, err error) {
	if endpoint != "" {
		return nil, ErrNotInBuild
	}
	return func(context.Context) error { return nil }, nil
}
