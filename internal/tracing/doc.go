// Package tracing sets up OpenTelemetry traces of molen's uplink path
// (the edge's send, the hub's receipt, the storing of the batch), exported
// with OTLP over HTTP when an endpoint is configured, and nothing at all
// otherwise (docs/observability.md).
//
// The spans themselves are made where the work is, with the OpenTelemetry
// API alone (uplink.Tracer): this package, with the SDK and the exporter,
// is linked only by the commands that set them up.
package tracing
