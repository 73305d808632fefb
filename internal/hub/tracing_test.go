package hub_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/tracing"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the protobuf
// export requests the SDK posts to /v1/traces and keeps their spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf at /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestUplinkTraces: with traces exported, a batch an edge sends makes a
// trace of three spans — the edge's send, the hub's receipt as its child
// (through the traceparent header), the storing as the receipt's child —
// which arrive at an OTLP receiver.
func TestUplinkTraces(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	shutdown, err := tracing.Setup(t.Context(), collector.URL, "molen-test", "test")
	if err != nil {
		t.Fatal(err)
	}
	// The global provider and propagator are the process's: put back the
	// no-op ones for the other tests.
	defer func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	}()

	ctx := t.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, token, err := h.CreateEdge(ctx, "traced")
	if err != nil {
		t.Fatal(err)
	}
	c := &uplink.Client{URL: h.URL()}
	en, err := c.Enroll(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Credential = en.Credential
	pts := []uns.Point{{Series: "f/m/t", TS: time.Now().UnixNano(), Value: uns.Float(1)}}
	if _, err := c.Send(ctx, uplink.Batch{Stream: "points/" + en.EdgeID, Records: []uplink.RawRecord{{Seq: 1, Data: uplink.EncodePoints(nil, pts)}}}); err != nil {
		t.Fatal(err)
	}
	// Shutdown exports what the batcher holds before it returns.
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		byName[s.Name] = s
	}
	send, receive, store := byName["uplink.send"], byName["uplink.receive"], byName["store.ingest"]
	if send == nil || receive == nil || store == nil {
		t.Fatalf("spans %v, want uplink.send, uplink.receive and store.ingest", names(recv.spans))
	}
	id := hex.EncodeToString
	if !bytes.Equal(receive.TraceId, send.TraceId) || !bytes.Equal(store.TraceId, send.TraceId) {
		t.Errorf("traces: send %s, receive %s, store %s; want one", id(send.TraceId), id(receive.TraceId), id(store.TraceId))
	}
	if len(send.ParentSpanId) != 0 || !bytes.Equal(receive.ParentSpanId, send.SpanId) || !bytes.Equal(store.ParentSpanId, receive.SpanId) {
		t.Errorf("parents: send %q, receive %s (send %s), store %s (receive %s)",
			id(send.ParentSpanId), id(receive.ParentSpanId), id(send.SpanId), id(store.ParentSpanId), id(receive.SpanId))
	}
	if send.Kind != tracepb.Span_SPAN_KIND_CLIENT || receive.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("kinds: send %v, receive %v", send.Kind, receive.Kind)
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
