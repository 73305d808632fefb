//go:build !edgeonly || otel

package tracing

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Available is whether this build can export traces: every build but
// the edge-only one (-tags edgeonly), unless that adds -tags otel.
const Available = true

// Enabled reports whether traces are to be exported: an endpoint given, or
// the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set.
func Enabled(endpoint string) bool {
	return endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs a tracer provider exporting to endpoint (an http:// or
// https:// base URL of an OTLP/HTTP receiver, to which /v1/traces is
// added; "" leaves it to the OTEL_EXPORTER_OTLP_* variables) and the W3C
// trace context as propagator, if Enabled. service names the process
// (molen-edge, molen-hub). The returned shutdown flushes and stops the
// export; without an endpoint it does nothing.
func Setup(ctx context.Context, endpoint, service, version string, attrs ...attribute.KeyValue) (shutdown func(context.Context) error, err error) {
	if !Enabled(endpoint) {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otel exporter: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		append([]attribute.KeyValue{semconv.ServiceName(service), semconv.ServiceVersion(version)}, attrs...)...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}
