package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/molen-io/molen/internal/tracing"
)

const otelHelp = "export traces of the uplink (edge send → hub receive → stored) with OTLP/HTTP to this base URL, e.g. http://collector:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)"

// startTraces sets up the export of traces if an endpoint is configured;
// the returned stop flushes what is left (within 5 s).
func startTraces(ctx context.Context, endpoint, service string, log *slog.Logger) (stop func(), err error) {
	shutdown, err := tracing.Setup(ctx, endpoint, service, Version())
	if err != nil {
		return nil, err
	}
	if tracing.Enabled(endpoint) {
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
