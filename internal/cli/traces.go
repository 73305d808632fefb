package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/molen-io/molen/internal/tracing"
)

// otelHelp is --otel-endpoint's help; the edge-only build says it has no
// exporter.
var otelHelp = func() string {
	h := "export traces of the uplink (edge send → hub receive → stored) with OTLP/HTTP to this base URL, e.g. http://collector:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)"
	if !tracing.Available {
		h += "; not in this build: the edge-only build leaves the exporter out (build with -tags edgeonly,otel)"
	}
	return h
}()

// startTraces sets up the export of traces if an endpoint is configured;
// the returned stop flushes what is left (within 5 s).
func startTraces(ctx context.Context, endpoint, service string, log *slog.Logger) (stop func(), err error) {
	shutdown, err := tracing.Setup(ctx, endpoint, service, Version())
	if err != nil {
		return nil, fmt.Errorf("--otel-endpoint: %w", err)
	}
	switch {
	case tracing.Enabled(endpoint) && !tracing.Available:
		log.Warn("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build has no trace exporter: no traces", "service", service)
	case tracing.Enabled(endpoint):
		log.Info("exporting traces", "endpoint", endpoint, "service", service)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("traces not all exported", "err", err)
		}
	}, nil
}
